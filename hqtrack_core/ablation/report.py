"""Reading, tabulating, plotting and live-checking the committed ablation rows (``figures/ablations/ROW.json``).

The notebooks 09-15 call these; ``make ablations`` writes the JSON files (``hqtrack ablate``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..evaluation.vots import VOTS_MEASURES
from ..inference.memory import MemoryEntry, MemoryState
from ..paths import committed_figures_dir
from ..paths import data_root as shared_root
from .rows import ROW_NAMES
from .stats import Scores, bootstrap, compare, fmt_ci, fmt_diff, interval, seed_spread
from .study import ablate, settings_from_json


def results_dir() -> Path:
    """``figures/ablations``: the committed rows."""
    return committed_figures_dir() / "ablations"


def load_row(name: str, folder: str | os.PathLike | None = None) -> dict:
    """The JSON record of row ``name`` (``figures/ablations/<name>.json`` unless ``folder`` is given)."""
    path = Path(folder or results_dir()) / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make ablations` (or `hqtrack ablate {name} ...`)")
    return json.loads(path.read_text())


def _f(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def row_table(result: dict, keys: Sequence[str] = ("JF", "Q")) -> str:
    """One line per variant: each score of ``keys`` with its 95% interval (over sequences, and seeds where there
    are several; ``n/a`` with one sequence), J&F minus the paper's choice with its interval, latency (wall and CPU
    s/frame), memory and the paper's figure; variants that did not run say why."""
    ci_key = {"JF": "jf_ci95", "Q": "q_ci95"}
    width = max(len(v["label"]) for v in result["variants"])
    cols = [(k, ci_key.get(k)) for k in keys]
    head = f"{'variant':<{width}} " + " ".join(
        f"{k.replace('JF', 'J&F'):>6}" + (f" {'95% CI':<16}" if c else "") for k, c in cols)
    head += f" {'J&F - paper choice [95% CI]':<29} s/frame  cpu s/f  mem MB  paper"
    lines = [head]
    for v in result["variants"]:
        paper = _f(result["paper"].get(v["name"]))
        timing = (f"{_f(v.get('latency_s_per_frame')):>7}  {_f(v.get('vmos_cpu_s_per_frame')):>7}  "
                  f"{_f(v.get('memory_state_peak_mb'), 1):>6}")
        if v["status"] == "run":
            scores = " ".join(f"{_f(v[k]):>6}" + (f" {fmt_ci(v.get(c)):<16}" if c else "") for k, c in cols)
            diff = "(paper's choice)" if v["name"] == result.get("expected_best") else fmt_diff(v.get("diff_vs_paper"))
        else:
            span = sum(7 + (17 if c else 0) for _, c in cols) - 1
            scores, diff = f"{v['status'].split(' (')[0][:span]:<{span}}", "-"
        lines.append(f"{v['label']:<{width}} {scores} {diff:<29} {timing}  {paper:>5}")
    return "\n".join(lines)


def n_text(result: dict) -> str:
    """``n = 4 sequences, 270 frames, 4 objects, 1 seed``."""
    n = result["n"]
    plural = lambda k, word: f"{n[k]} {word}{'' if n[k] == 1 else 's'}"  # noqa: E731
    return "n = " + ", ".join(plural(k, k[:-1]) for k in ("sequences", "frames", "objects", "seeds"))


def verdict_text(result: dict) -> str:
    """The row's verdict with its reason, by J&F and by Q, and its n."""
    return (f"verdict (J&F): {result['verdict']} ({result['verdict_reason']})\n"
            f"verdict (Q):   {result['verdict_Q']} ({result['verdict_Q_reason']})\n{n_text(result)}")


def sequence_table(result: dict, key: str = "JF", by_clip: bool = False) -> str:
    """Per-sequence ``key`` of every variant that ran: a line per variant, a column per clip; ``by_clip``: a line
    per clip, a column per variant (for many clips or long clip names)."""
    ran = [v for v in result["variants"] if v["status"] == "run"]
    if not ran:
        return "(no variant was run)"
    names = [c["name"] for c in result["clips"]]
    if by_clip:
        width = max(len(n) for n in names)
        cols = [max(len(v["name"]), 6) for v in ran]
        lines = [f"{key:<{width}} " + " ".join(f"{v['name']:>{w}}" for v, w in zip(ran, cols))]
        lines += [f"{n:<{width}} " + " ".join(f"{_f(v['sequences'][n][key]):>{w}}" for v, w in zip(ran, cols))
                  for n in names]
        return "\n".join(lines)
    width = max(len(v["label"]) for v in ran)
    lines = [f"{key:<{width}} " + " ".join(f"{n[:14]:>14}" for n in names)]
    for v in ran:
        lines.append(f"{v['label']:<{width}} " + " ".join(f"{_f(v['sequences'][n][key]):>14}" for n in names))
    return "\n".join(lines)


def comparisons(result: dict) -> list[dict]:
    """One record per rival the claim ranks against the paper's choice: ``{"row", "name", "n", "paper_choice",
    "rival", "diff", "diff_Q", "verdict", "verdict_Q"}`` (``diff``: rival minus the paper's choice, J&F, with
    ``ci95``; ``None`` when either did not run). A row none of whose rivals ran gives one record with rival ``-``."""
    by_name = {v["name"]: v for v in result["variants"]}
    rivals = result.get("uncertainty", {}).get("rivals") or ["-"]
    out = []
    for rival in rivals:
        v = by_name.get(rival, {})
        out.append({"row": result["number"], "name": result["row"], "n": result["n"],
                    "paper_choice": result.get("expected_best"), "rival": rival,
                    "diff": v.get("diff_vs_paper"), "diff_Q": v.get("diff_vs_paper_Q"),
                    "verdict": result["verdict"], "verdict_Q": result["verdict_Q"]})
    return out


def summary_table(results: Sequence[dict]) -> str:
    """Every row in one table: n, the paper's choice, each rival's difference to it (J&F and Q, 95% intervals:
    rival minus paper's choice) and the row's verdicts."""
    lines = [f"{'#':>1} {'row':<10} {'n seq/fr/obj/seeds':<18} {'paper choice':<13} {'rival':<13} "
             f"{'J&F rival - paper [95% CI]':<27} {'Q rival - paper [95% CI]':<27} {'verdict J&F':<12} verdict Q"]
    for r in sorted(results, key=lambda r: r["number"]):
        n = r["n"]
        for k, c in enumerate(comparisons(r)):
            first = k == 0
            counts = f"{n['sequences']}/{n['frames']}/{n['objects']}/{n['seeds']}" if first else ""
            lines.append(f"{(str(r['number']) if first else ''):>1} {(r['row'] if first else ''):<10} {counts:<18} "
                         f"{(c['paper_choice'] or '-') if first else '':<13} {c['rival']:<13} "
                         f"{fmt_diff(c['diff']):<27} {fmt_diff(c['diff_Q']):<27} "
                         f"{r['verdict'] if first else '':<12} {r['verdict_Q'] if first else ''}")
    return "\n".join(lines)


def _wrap(label: str, width: int = 16) -> str:
    return "\n".join(textwrap.wrap(label, width)) or label


def plot_row(result: dict, ax, keys: Sequence[str] = ("JF", "Q")) -> None:
    """Grouped bars of ``keys`` per variant that ran, with their 95% intervals as error bars (none with a single
    sequence); the paper's VOTS AUC, where given, on its own right-hand axis (another benchmark, another measure)."""
    ran = [v for v in result["variants"] if v["status"] == "run"]
    x = np.arange(len(ran))
    width = 0.8 / len(keys)
    ci_key = {"JF": "jf_ci95", "Q": "q_ci95"}
    for i, key in enumerate(keys):
        values = np.array([v[key] for v in ran])
        cis = [v.get(ci_key.get(key, ""), None) for v in ran]
        err = np.array([[val - c[0], c[1] - val] if c else [0.0, 0.0] for val, c in zip(values, cis)]).T
        ax.bar(x + (i - (len(keys) - 1) / 2) * width, values, width, yerr=err if any(cis) else None, capsize=3,
               label=key.replace("JF", "J&F") + (" (95% CI)" if any(cis) else " (1 sequence: no CI)"))
    ax.set_xticks(x, [_wrap(v["label"], 10 if len(ran) > 4 else 16) for v in ran], fontsize=8)
    ax.set_ylim(0, 1.2)  # the band above 1 holds the legends, clear of the bars
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("score here (DAVIS J&F, VOTS Q)")
    ax.set_xlabel("variant")
    ax.set_title(f"row {result['number']}: {result['row']} ({result['scale']} scale; {n_text(result)})", fontsize=9)
    paper = [(j, result["paper"][v["name"]]) for j, v in enumerate(ran) if v["name"] in result["paper"]]
    if paper:
        twin = ax.twinx()
        twin.plot([j for j, _ in paper], [p for _, p in paper], "kD", label="paper: VOTS2023 AUC (right axis)")
        twin.set_ylabel("paper's VOTS2023 AUC")
        twin.set_ylim(0, 1.2)
        twin.set_yticks(np.linspace(0, 1, 6))
        twin.legend(fontsize=7, loc="upper right")
    ax.legend(fontsize=7, loc="upper left", ncol=2)


def recorded_data_root(recorded: str) -> Path:
    """The dataset a committed row was computed on, found on this machine: the recorded path when it is a folder
    here, else the folder of that name under the shared data (:func:`hqtrack_core.paths.data_root`; the recorded
    path may be relative to another working directory, e.g. the repository root of ``make ablations``)."""
    path = Path(recorded)
    if path.is_absolute() and path.is_dir():
        return path
    shared = shared_root()
    if shared is not None and (shared / path.name).is_dir():
        return shared / path.name
    return path


def live_check(result: dict, variant: str, clip: str, frames: int, data_root: str | os.PathLike | None = None,
               tolerance: float = 0.02, precision: str = "auto") -> dict:
    """Recompute the first ``frames`` frames of one clip and one variant with the row's stored settings and compare
    the per-frame J with the committed run (tracking is causal: the first frames of the full run are this run), with
    the run's number of torch threads.

    ``precision`` is the one the slice runs in: ``auto`` by default (bf16 only where this CPU has a bf16
    instruction; an AVX2-only CPU would emulate the row's recorded bf16 at a hundred times the cost), so the slice
    may run in another precision than the committed row. ``tolerance`` covers that: fp32 and bf16 move a few
    boundary pixels, not J by 0.02 (the ten slices notebooks 09-14 check, 6 frames each, rerun in fp32 against
    the committed bf16 rows: largest difference 0.0099, refiner row on car-shadow; notebooks print theirs).
    ``precision="recorded"`` reruns the row's own precision.

    Returns ``{"live", "committed", "max_abs_diff", "ok", "seconds", "precision"}``; ``ok`` is
    ``max_abs_diff <= tolerance``."""
    settings = settings_from_json(result["settings"])
    if precision != "recorded":
        settings = dataclasses.replace(settings, precision=precision)
    root = data_root or recorded_data_root(result["settings"]["data_root"])
    threads = torch.get_num_threads()
    torch.set_num_threads(result["settings"].get("torch_threads", threads))  # bf16 sums depend on the split
    try:
        live = ablate(result["row"], root, settings, log=lambda m: None, variants=[variant], clip_names=[clip],
                      truncate=frames)
    finally:
        torch.set_num_threads(threads)
    committed = next(v for v in result["variants"] if v["name"] == variant)["sequences"][clip]["J_frames"]
    got = live["variants"][0]["sequences"][clip]["J_frames"]
    diff = float(np.max(np.abs(np.array(got) - np.array(committed[: len(got)]))))
    return {"live": got, "committed": committed[: len(got)], "max_abs_diff": diff, "ok": diff <= tolerance,
            "seconds": live["compute_seconds"], "precision": live["settings"]["precision_resolved"]}


def _paired_over_clips(per_clip: dict[str, np.ndarray], paper: str | None) -> dict[str, dict]:
    """``per_clip``: variant -> ``(N,)`` values on the same clips. Per variant: ``mean``, ``ci95`` (paired bootstrap
    over the clips; ``None`` with one clip) and, but for the paper's choice, ``vs_paper`` (variant minus the paper's
    choice: ``{"mean", "ci95", "p", "detected"}`` as :func:`~hqtrack_core.ablation.stats.compare`)."""
    scores = [Scores(name, np.asarray(values, dtype=float)[None]) for name, values in per_clip.items()]
    if not scores:
        return {}
    n = scores[0].values.shape[1]
    weights = np.ones(n)
    samples = bootstrap(scores, weights)
    by_name = {s.name: s for s in scores}
    out = {}
    for s in scores:
        rec = out[s.name] = {"mean": float(s.values.mean()), "ci95": interval(samples[s.name]) if n > 1 else None}
        if paper in by_name and s.name != paper:
            rec["vs_paper"] = compare(s, by_name[paper], samples, weights)
    return out


def recovery(result: dict, after: int = 20) -> dict[str, dict]:
    """On long clips (clips whose ``source`` lists ``events``), per variant that ran: the mean J over the frames
    before the first absence (``"before"``: is the target tracked at all while memory cannot matter yet?) and over
    the ``after`` frames from each return (``"after_return"``: does the memory bring it back?). Each is a mean over
    the clips (a clip's ``after_return`` is the mean over its returns), with its 95% interval (``"before_ci95"``,
    ``"after_return_ci95"``; paired bootstrap over the clips, :mod:`~hqtrack_core.ablation.stats`) and, for every
    variant but the paper's choice, its difference to it (``"before_vs_paper"``, ``"after_return_vs_paper"``:
    ``{"mean", "ci95", "p", "detected"}`` as :func:`~hqtrack_core.ablation.stats.compare`). ``J_frames[i]`` is
    frame ``i + 1`` (DAVIS scores neither the first nor the last frame). Empty when the row did not run on long
    clips."""
    clips = [c for c in result["clips"] if c.get("source", {}).get("events")]
    ran = [v for v in result["variants"] if v["status"] == "run"] if clips else []
    per_clip = {"before": {}, "after_return": {}}
    for v in ran:
        before, back = [], []
        for c in clips:
            J = np.asarray(v["sequences"][c["name"]]["J_frames"], dtype=float)
            events = c["source"]["events"]
            before.append(J[: min(e["out"] for e in events) - 1].mean())
            back.append(np.mean([J[e["back"] - 1: e["back"] - 1 + after].mean() for e in events]))
        per_clip["before"][v["name"]], per_clip["after_return"][v["name"]] = before, back
    returns = sum(len(c["source"]["events"]) for c in clips)
    out = {v["name"]: {"clips": len(clips), "returns": returns} for v in ran}
    for key, values in per_clip.items():
        for name, rec in _paired_over_clips(values, result.get("expected_best")).items():
            out[name].update({key: rec["mean"], f"{key}_ci95": rec["ci95"]})
            if "vs_paper" in rec:
                out[name][f"{key}_vs_paper"] = rec["vs_paper"]
    return out


def recovery_table(result: dict, after: int = 20, rec: dict | None = None) -> str:
    """:func:`recovery` as text (``rec``: its result when already computed), one line per variant: each mean with
    its interval, then (after the return) the difference to the paper's choice with its interval."""
    rec = recovery(result, after) if rec is None else rec
    if not rec:
        return "(the row did not run on long clips)"
    labels = {v["name"]: v["label"] for v in result["variants"]}
    width = max(len(labels[n]) for n in rec)
    cols = ("before the first absence", f"{after} frames from each return", "return: minus the paper's choice")
    lines = [f"{'mean J':<{width}}  {cols[0]:<24}  {cols[1]:<24}  {cols[2]}"]
    for name, r in rec.items():
        diff = "(the paper's choice)" if name == result.get("expected_best") else fmt_diff(r.get("after_return_vs_paper"))
        lines.append(f"{labels[name]:<{width}}  {r['before']:.3f} {fmt_ci(r['before_ci95']):<18}  "
                     f"{r['after_return']:.3f} {fmt_ci(r['after_return_ci95']):<18}  {diff}")
    first = next(iter(rec.values()))
    lines.append(f"(n: {first['clips']} clips, {first['returns']} returns; 95% intervals: paired bootstrap over clips)")
    return "\n".join(lines)


FAILURE_RATES = VOTS_MEASURES[3:]  # NRE, DRE, ADQ: the rows record them beside Q, A and R


def seed_table(result: dict, key: str = "JF") -> str:
    """:func:`~hqtrack_core.ablation.stats.seed_spread` as text: each trained variant's score per training run, the
    range and SD over its runs, and the largest range set beside the largest difference between variants."""
    spread = seed_spread(result, key)
    label = key.replace("JF", "J&F")
    if not spread:
        return f"(no variant of this row ran: no {label} per training run)"
    if all(r["range"] is None for r in spread.values()):
        return (f"One training run per variant: how far retraining alone moves {label} is not measured in this row "
                "(`make ablation-seeds` trains more seeds).")
    labels = {v["name"]: v["label"] for v in result["variants"]}
    width = max(len("variant"), *(len(labels[n]) for n in spread))
    runs = max(len(r["per_run"]) for r in spread.values())
    lines = [f"{label} of each training run ({len(result['clips'])} sequences; the committed run first)",
             f"  {'variant':<{width}}  runs  {'per run':<{7 * runs}}  {'range':>5}  {'SD':>5}"]
    for name, r in spread.items():
        per = " ".join(f"{x:6.3f}" for x in r["per_run"])
        lines.append(f"  {labels[name]:<{width}}  {len(r['per_run']):>4}  {per:<{7 * runs}}  {_f(r['range']):>5}  "
                     f"{_f(r['sd']):>5}")
    widest = max((n for n in spread if spread[n]["range"] is not None), key=lambda n: spread[n]["range"])
    means = {n: float(np.mean(r["per_run"])) for n, r in spread.items()}
    lines.append(f"Retraining alone moved {label} by up to {spread[widest]['range']:.3f} ({labels[widest]}); "
                 f"the variants' means differ by up to {max(means.values()) - min(means.values()):.3f}.")
    return "\n".join(lines)


def failure_rates(result: dict) -> dict[str, dict[str, dict]]:
    """The VOTS failure rates of each variant that ran, ``{key: {variant: {"mean", "ci95", "vs_paper"}}}`` for
    ``key`` in NRE (share of the frames with the target present that report it absent: lower is better), DRE
    (present, reported with no overlap: lower is better) and ADQ (absence detection quality: the share of the
    frames with the target absent that report it absent: higher is better). Each is the mean over the clips where
    every variant has it (ADQ exists only on clips with absences), paired bootstrap over those clips. A key is
    missing when no clip has it (a row recorded before the row runner kept these rates: Q, A and R only)."""
    ran = [v for v in result["variants"] if v["status"] == "run"]
    out = {}
    for key in FAILURE_RATES:
        clips = [c["name"] for c in result["clips"]
                 if ran and all(v["sequences"][c["name"]].get(key) is not None for v in ran)]
        if clips:
            out[key] = _paired_over_clips({v["name"]: [v["sequences"][c][key] for c in clips] for v in ran},
                                          result.get("expected_best"))
            for rec in out[key].values():
                rec["clips"] = len(clips)
    return out


def failure_table(result: dict, rates: dict | None = None) -> str:
    """:func:`failure_rates` as text (``rates``: its result when already computed): a block per rate, a line per
    variant with the rate, its interval and its difference to the paper's choice."""
    rates = failure_rates(result) if rates is None else rates
    if not rates:
        return "(the row has no NRE / DRE / ADQ: it was recorded before the runner kept them)"
    labels = {v["name"]: v["label"] for v in result["variants"]}
    width = max(len(labels[n]) for recs in rates.values() for n in recs)
    paper = result.get("expected_best")
    what = {"NRE": "target present, reported absent (lower is better)",
            "DRE": "target present, reported with no overlap (lower is better)",
            "ADQ": "target absent, reported absent (higher is better)"}
    paper_ran = any(paper in recs for recs in rates.values())
    lines = []
    for key, recs in rates.items():
        lines.append(f"{key}: {what[key]}, over {next(iter(recs.values()))['clips']} clips")
        for name, r in recs.items():
            diff = ("(the paper's choice)" if name == paper else
                    f"minus {paper}: {fmt_diff(r.get('vs_paper'))}" if paper_ran else "")
            lines.append(f"  {labels[name]:<{width}}  {r['mean']:.3f} {fmt_ci(r['ci95']):<18}  {diff}".rstrip())
    lines.append("(95% intervals: paired bootstrap over clips" +
                 ("" if paper_ran else f"; no difference to the paper's choice: {paper} did not run") + ")")
    return "\n".join(lines)


def memory_schedule(policy, frames: int) -> list[list[int]]:
    """Which frames the long-term memory holds (reference + long-term entries) after each frame ``1..frames-1`` under
    ``policy``: the policy replayed on a :class:`~hqtrack_core.inference.memory.MemoryState` with placeholder
    entries (the schedule does not depend on the network)."""
    state = MemoryState(policy)
    dummy = [torch.zeros(1, 1, 1)]
    state.add_reference(MemoryEntry(0, dummy, dummy, "reference"))
    held = []
    for t in range(1, frames):
        state.add_frame(MemoryEntry(t, dummy, dummy, "short_term"))
        held.append(sorted(state.frame_indices))
    return held


def load_all(folder: str | os.PathLike | None = None) -> list[dict]:
    """Every committed row that exists, in row order."""
    folder = Path(folder or results_dir())
    return [load_row(n, folder) for n in ROW_NAMES if (folder / f"{n}.json").is_file()]


__all__ = ["results_dir", "recorded_data_root", "load_row", "load_all", "row_table", "n_text", "verdict_text",
           "sequence_table", "comparisons", "summary_table", "plot_row", "live_check", "memory_schedule", "recovery",
           "recovery_table", "seed_table", "FAILURE_RATES", "failure_rates", "failure_table"]
