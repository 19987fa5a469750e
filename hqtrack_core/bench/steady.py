"""Benchmark: early frames against steady state (long-term memory full), as a user runs ``hqtrack track``.

Our other benchmarks time frames 2-10, when the long-term memory holds only the reference. On a long video the
``released`` policy (a long-term entry every 50 frames, at most 6 entries with the reference) fills the memory at
frame 250, and every later frame attends to 6x the tokens. This benchmark plays a real clip back and forth
(DAVIS-2016 ``blackswan`` at 480p from ``../shared/data``, 50 frames, ping-pong; a random-texture video without it)
for ``--frames`` frames (default 330) and reports per case:

- ``early``: median seconds per frame (``tracker.step``, wall clock) of frames 2-10;
- ``steady``: median over the frames after the memory is full (``references + long-term == max_long_term``);
- ``steady / early``; the process CPU time of both beside them (robust when other processes share the cores).

Cases: the committed teaching model (``InferenceConfig.from_card()``, short edge 240, flip off and on), DeAOT-T and
the HQTrack VMOS config with random weights (short edge 480, flip off), each in fp32 and bf16, one subprocess per run,
alternating (``--rounds`` times). Every record names the CPU (model, AVX-512 / AVX512-BF16 / AMX-BF16 flags, the ISA
torch dispatches to, ``ATEN_CPU_CAPABILITY`` / ``ONEDNN_MAX_CPU_ISA`` when set) and the thread count.

``--baseline DIR`` also runs every case on another checkout (``PYTHONPATH=DIR``, e.g. one made by
``git worktree add ../before HEAD~1``), run for run after ours, and reports ours / baseline per case (the worker,
:mod:`.steady_worker`, imports only what every checkout since the front door ``hqtrack_core.api`` has).
``--query-block N`` times our global attention in blocks of N queries (a value above the token count: one piece, as the code before the blocks). ``--long-term-gap N`` fills the memory sooner (after ``5 N`` frames): the steady-state frame
costs the same (the memory has the same size), for quick A/B runs; the record says so. ``--profile N`` runs N more
steady-state frames of our first run per case under ``torch.profiler`` and records what bounds the frame (top ops,
the attention products' share, GFLOP and rate beside the CPU's matmul peak; :func:`steady_profile`).

``python -m hqtrack_core.bench steady`` (defaults), or ``python -m hqtrack_core.bench.steady --help``.
Writes ``figures/bench.json`` key ``steady_state__<cpu>``: the list of records of that CPU kind.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from hqtrack_core.bench import steady_worker
from hqtrack_core.bench.record import cpu_record, cpu_slug, read_bench, report
from hqtrack_core.bench.steady_worker import CASES

PRECISIONS = ("fp32", "bf16")
EARLY = range(2, 11)  # frames 2-10 (frame 0 = the mask)


def summarise(run: dict) -> dict:
    """Early (frames 2-10) and steady-state (memory full, the frame after the fill onward) medians."""
    entries, bound = run["entries"], run["bound"]
    if max(entries) > bound:
        raise RuntimeError(f"the long-term memory grew to {max(entries)} entries, past its bound of {bound}: an "
                           "unbounded memory has no steady state (and two sides would not hold the same memory)")
    full = [t for t, n in enumerate(entries) if n >= bound]  # index t = frame t + 1
    if len(full) < 2:
        raise RuntimeError(f"the long-term memory never filled ({max(entries)} of {bound} entries): more frames")
    steady_idx = full[1:]  # from the frame after the one that filled it
    early_idx = [f - 1 for f in EARLY if f - 1 < len(entries)]
    out = {}
    for kind in ("wall", "cpu"):
        e = statistics.median(run[kind][i] for i in early_idx)
        s = statistics.median(run[kind][i] for i in steady_idx)
        out[f"early_{kind}_s"], out[f"steady_{kind}_s"] = round(e, 4), round(s, 4)
    out["steady_over_early"] = round(out["steady_wall_s"] / out["early_wall_s"], 3)
    out["steady_over_early_cpu"] = round(out["steady_cpu_s"] / out["early_cpu_s"], 3)
    out["steady_frames"] = f"{steady_idx[0] + 1}-{steady_idx[-1] + 1}"
    return out


def official_entries(engine) -> int:
    """Entries (references + long-term) in the long-term memory of an official engine, aot-benchmark's
    ``DeAOTInferEngine`` or HQTrack's (which derives from it): it concatenates them along the token axis of each
    layer, every entry with the same number of tokens (``update_long_term_memory``)."""
    group = engine.aot_engines[0]  # 2 objects: one group
    memory = group.long_term_memories[0]  # first LSTT layer (1/16 scale): [k, v, id_k, id_v], each (tokens, B, C)
    tokens = next(m.shape[0] for m in memory if m is not None)
    per_entry = group.enc_hw  # tokens of one 1/16-scale frame
    if tokens % per_entry:
        raise RuntimeError(f"official long-term memory holds {tokens} tokens, not a multiple of {per_entry}")
    return tokens // per_entry


def _run(case: str, precision: str, frames: int, gap: int | None, threads: int, pythonpath: str | None,
         profiled: int = 0, query_block: int = 0) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    # -P: the script folder (which holds modules named like stdlib ones, profile.py) is not put on sys.path
    cmd = [sys.executable, "-P", str(Path(steady_worker.__file__).resolve()), case, precision, str(frames),
           str(gap or 0), str(threads), str(profiled), str(query_block)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{case} {precision} worker ({pythonpath or 'ours'}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(cases: tuple[str, ...] = tuple(CASES), precisions: tuple[str, ...] = PRECISIONS, frames: int = 330,
        gap: int | None = None, threads: int = 2, rounds: int = 1, baseline: str | None = None,
        profiled: int = 0, query_block: int = 0) -> dict:
    """Every (case, precision) ``rounds`` times, alternating (and ours / baseline run for run); print a table."""
    cpu = cpu_record(threads)
    sides = ["ours"] + (["baseline"] if baseline else [])
    runs: dict[tuple, list[dict]] = {}
    for _ in range(rounds):
        for case in cases:
            for precision in precisions:
                for side in sides:
                    ours = side == "ours"
                    raw = _run(case, precision, frames, gap, threads, None if ours else baseline,
                               profiled if ours and not runs.get((case, precision, side)) else 0,
                               query_block if ours else 0)
                    runs.setdefault((case, precision, side), []).append(
                        {**summarise(raw), "load": raw["loadavg"], "source": raw["source"], "code": raw["code"],
                         **({"profile": raw["profile"]} if "profile" in raw else {})})
    records = []
    print(f"steady state vs early frames; {cpu['cpu']} (AVX-512 {cpu['avx512f']}, AVX512-BF16 {cpu['avx512_bf16']}, "
          f"AMX-BF16 {cpu['amx_bf16']}, torch ISA {cpu['torch_cpu_capability']}"
          + (f", capped {cpu['isa_cap']}" if cpu["isa_cap"] else "") + f"), {threads} threads, {frames} frames"
          + (f", long-term gap {gap} (memory filled sooner)" if gap else ", released policy")
          + (f"; ours with query blocks of {query_block}" if query_block else ""))
    print(f"{'case':14} {'prec':5} {'side':9} {'early s':>8} {'steady s':>9} {'st/early':>8} {'CPU st/e':>8} "
          f"{'load':>5}")
    for (case, precision, side), rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0] if isinstance(rs[0][k], (int, float))}
        rec = {"case": case, "precision": precision, "side": side, "frames": frames,
               "long_term_gap": gap or 50, "query_block": query_block or None, "rounds": len(rs), "source": rs[0]["source"], "code": rs[0]["code"],
               "steady_frames": rs[0]["steady_frames"], **{k: round(v, 4) for k, v in med.items()}, **cpu,
               **({"steady_profile": rs[0]["profile"]} if "profile" in rs[0] else {})}
        if side == "baseline":
            ours = runs[case, precision, "ours"]
            rec["baseline_path"] = baseline
            for kind in ("early_wall_s", "steady_wall_s", "early_cpu_s", "steady_cpu_s"):
                ratios = [o[kind] / b[kind] for o, b in zip(ours, rs)]  # run for run
                rec[f"ours_over_baseline_{kind[:-2]}"] = round(statistics.median(ratios), 3)
        records.append(rec)
        print(f"{case:14} {precision:5} {side:9} {rec['early_wall_s']:8.3f} {rec['steady_wall_s']:9.3f} "
              f"{rec['steady_over_early']:8.2f} {rec['steady_over_early_cpu']:8.2f} {rec['load']:5.1f}"
              + (f"  ours/baseline early {rec['ours_over_baseline_early_wall']:.2f} steady "
                 f"{rec['ours_over_baseline_steady_wall']:.2f} (CPU {rec['ours_over_baseline_early_cpu']:.2f}, "
                 f"{rec['ours_over_baseline_steady_cpu']:.2f})" if side == "baseline" else ""))
        if "steady_profile" in rec:
            prof = rec["steady_profile"]
            print(f"    steady-state profile ({prof['frames']} frames): bmm/baddbmm {100 * prof['bmm_share']:.0f}% "
                  f"of the frame, {prof['bmm_gflop_per_frame']} GFLOP/frame at {prof['bmm_gflops']} GFLOP/s (matmul "
                  f"peak fp32 {prof['fp32_matmul_peak_gflops']}, bf16 {prof['bf16_matmul_peak_gflops']}); top ms/frame: "
                  + ", ".join(f"{k.removeprefix('aten::')} {ms}" for k, ms in prof["top_ops_ms_per_frame"][:5]))
    return {f"steady_state__{cpu_slug(cpu)}": records}


IDENTITY = ("case", "precision", "side", "frames", "long_term_gap", "query_block", "threads")


def merge_records(old: list[dict], new: list[dict]) -> list[dict]:
    """The CPU kind's records after a run: ``new`` replaces the old records of the same setting (:data:`IDENTITY`),
    the others stay (a run of some cases does not erase the rest)."""
    fresh = {tuple(r.get(k) for k in IDENTITY) for r in new}
    return [r for r in old if tuple(r.get(k) for k in IDENTITY) not in fresh] + new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hqtrack_core.bench.steady", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=list(PRECISIONS))
    parser.add_argument("--frames", type=int, default=330)
    parser.add_argument("--long-term-gap", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile N more steady-state frames of our side's first run per case (torch.profiler)")
    parser.add_argument("--baseline", metavar="DIR", default=None, help="another checkout to compare with")
    parser.add_argument("--query-block", type=int, default=0, metavar="N",
                        help="our side's global attention in blocks of N queries (default: the model's; a value above "
                             "the token count = one piece, as before the blocks)")
    parser.add_argument("--no-record", action="store_true", help="do not write figures/bench.json")
    args = parser.parse_args(argv)
    if args.baseline is not None and not (Path(args.baseline) / "hqtrack_core").is_dir():
        parser.error(f"--baseline {args.baseline}: no hqtrack_core/ there: give the root of a checkout")
    values = run(tuple(args.cases), tuple(args.precisions), args.frames, args.long_term_gap, args.threads,
                 args.rounds, args.baseline, args.profile, args.query_block)
    if not args.no_record:
        values = {key: merge_records(read_bench().get(key, []), records) for key, records in values.items()}
    report(values, record=not args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
