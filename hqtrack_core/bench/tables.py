"""The long-video speed tables, one per CPU kind, printed from ``figures/bench.json`` (never typed by hand).

``python -m hqtrack_core.bench.tables`` prints them; ``--write figures/README.md`` replaces the text between the
markers ``<!-- bench:steady -->`` and ``<!-- /bench:steady -->`` there with them (``tests/test_bench_tables.py``
fails when that file and ``bench.json`` disagree). A table per CPU kind in the steady-state records (``steady_state__<kind>``,
:mod:`.steady`): per case and precision, the early and the steady-state frame, their ratio, and what bounds the
steady-state frame when it was profiled (the share of the attention products and the rate they ran at beside the
CPU's matmul peak, measured in the same run).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..readme_markers import main as readme_main
from ..readme_markers import markers, replace_section, section
from .record import read_bench

SECTION = "bench:steady"
BEGIN, END = markers(SECTION)
CASE_NAMES = {
    "teach": "teaching model, 240, flip off",
    "teach_flip": "teaching model, 240, flip on",
    "deaot_t": "DeAOT-T, 480, random weights",
    "hqtrack_vmos": "HQTrack VMOS, 480, random weights",
}


def cpu_title(record: dict[str, Any]) -> str:
    """``AMD EPYC (AVX512-BF16, no AMX), torch kernels AVX512, 2 threads`` (+ the ISA cap when one was set)."""
    bf16 = "AMX-BF16" if record["amx_bf16"] else "AVX512-BF16, no AMX" if record["avx512_bf16"] else \
        "AVX-512 without bf16" if record["avx512f"] else "AVX2 only"
    cap = record.get("isa_cap") or {}
    capped = f"; capped by {', '.join(f'{k}={v}' for k, v in cap.items())}: a stand-in for an AVX2-only CPU" \
        if cap else ""
    return f"{record['cpu']} ({bf16}{capped}), torch kernels {record['torch_cpu_capability']}, " \
           f"{record['threads']} threads, torch {record['torch']}"


def _bound(record: dict[str, Any]) -> str:
    prof = record.get("steady_profile")
    if not prof:
        return ""
    peak = prof["bf16_matmul_peak_gflops"] if record["precision"] == "bf16" else prof["fp32_matmul_peak_gflops"]
    return (f"{100 * prof['bmm_share']:.0f}% in attention products, {prof['bmm_gflop_per_frame']:.1f} GFLOP at "
            f"{prof['bmm_gflops']:.0f} GFLOP/s (peak {peak:.0f})")


def steady_tables(bench: dict[str, Any]) -> str:
    """Markdown: one table per CPU kind of our steady-state records (the ``ours`` side)."""
    parts = []
    for key in sorted(k for k in bench if k.startswith("steady_state__")):
        records = [r for r in bench[key] if r["side"] == "ours"]
        if not records:
            continue
        parts.append(f"{cpu_title(records[0])}:\n")
        parts.append("| case | precision | memory fill | early s/frame | steady s/frame | steady / early | "
                     "steady-state frame bound by |")
        parts.append("| --- | --- | --- | --- | --- | --- | --- |")
        for r in sorted(records, key=lambda r: (list(CASE_NAMES).index(r["case"]) if r["case"] in CASE_NAMES
                                                 else 99, r["long_term_gap"], r.get("query_block") or 0,
                                                 ("fp32", "bf16").index(r["precision"]))):
            fill = (f"released (gap 50), {r['frames']} frames" if r["long_term_gap"] == 50 else
                    f"gap {r['long_term_gap']}, {r['frames']} frames")
            if r.get("query_block"):
                fill += "; attention in one piece" if r["query_block"] >= 10_000 else \
                    f"; blocks of {r['query_block']} queries"
            parts.append(f"| {CASE_NAMES.get(r['case'], r['case'])} | {r['precision']} | {fill} | "
                         f"{r['early_wall_s']:.3f} | {r['steady_wall_s']:.3f} | {r['steady_over_early']:.2f} | "
                         f"{_bound(r)} |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def _cpu_of(bench: dict[str, Any], key: str) -> str:
    slug = bench.get("measured_on", {}).get(key)
    return cpu_title({**bench["cpus"][slug], "threads": 2}).rsplit(", 2 threads", 1)[0] if slug else "CPU not recorded"


def steady_comparisons(bench: dict[str, Any]) -> str:
    """Markdown: ours against the official code (same bounded memory, full) and against SAM 2.1 tiny (its memory
    bank full), at 480p, from the keys of :mod:`.vmos`, :mod:`.hqtrack_vmos` and :mod:`.peer_sam2`."""
    rows = []
    for model, ours, official in (("DeAOT-T", "deaot_t", "official_deaot_t"),
                                  ("HQTrack VMOS", "hqtrack_vmos", "official_hqtrack_vmos")):
        key = f"{ours}_steady_s_480p"
        if key not in bench or f"{official}_steady_s_480p" not in bench:
            continue
        off = bench[f"{official}_steady_s_480p"]
        rows.append(f"| {model}, official code (same 6-entry memory, full) | {bench[key]:.3f} | "
                    f"{bench[key + '_bf16']:.3f} | {off:.3f} | {bench[key] / off:.2f} / "
                    f"{bench[key + '_bf16'] / off:.2f} | {_cpu_of(bench, key)} |")
    sam2 = "sam2_tiny_steady_latency_s_480p"
    if sam2 in bench and "hqtrack_vmos_steady_s_480p" in bench:
        ours = bench["hqtrack_vmos_steady_s_480p"], bench["hqtrack_vmos_steady_s_480p_bf16"]
        peer = bench[sam2], bench[sam2 + "_bf16"]
        rows.append(f"| HQTrack VMOS, SAM 2.1 tiny (its 7-frame memory bank full) | {ours[0]:.3f} | {ours[1]:.3f} | "
                    f"{peer[0]:.3f} (bf16 {peer[1]:.3f}) | {ours[0] / peer[0]:.2f} / {ours[1] / peer[1]:.2f} | "
                    f"{_cpu_of(bench, sam2)} |")
    if not rows:
        return ""
    head = ["| 480p, 2 objects, steady state, s/frame | ours fp32 | ours bf16 | other | ours / other, fp32 / bf16 "
            "| CPU |", "| --- | --- | --- | --- | --- | --- |"]
    return "\n".join(head + rows) + "\n"


def all_tables(bench: dict[str, Any]) -> str:
    """What figures/README.md shows between its markers: the comparisons, then one table per CPU kind."""
    comparisons = steady_comparisons(bench)
    return (comparisons + "\n" if comparisons else "") + steady_tables(bench)


def readme_section(text: str) -> str:
    """The text between the markers of a Markdown file (``ValueError`` without them)."""
    return section(text, SECTION)


def write_readme(path: Path, bench: dict[str, Any]) -> None:
    replace_section(path, SECTION, all_tables(bench))


def main(argv: list[str] | None = None) -> int:
    return readme_main(argv, "python -m hqtrack_core.bench.tables", __doc__.splitlines()[0], SECTION,
                       lambda: all_tables(read_bench()))


if __name__ == "__main__":
    sys.exit(main())
