"""Reading, tabulating, plotting and live-checking the committed ablation rows (``figures/ablations/ROW.json``).

The notebooks 09-15 call these; ``make ablations`` writes the JSON files (``hqtrack ablate``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..paths import committed_figures_dir
from .rows import ROW_NAMES


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


def row_table(result: dict, keys: Sequence[str] = ("JF", "J", "F", "Q", "A", "R")) -> str:
    """One line per variant: scores (or why it was not run), latency (wall and CPU s/frame), memory, paper value."""
    width = max(len(v["label"]) for v in result["variants"])
    head = f"{'variant':<{width}} " + " ".join(f"{k:>6}" for k in keys) + "  s/frame  cpu s/f  mem MB   paper"
    lines = [head]
    for v in result["variants"]:
        paper = _f(result["paper"].get(v["name"]))
        timing = (f"{_f(v.get('latency_s_per_frame')):>7}  {_f(v.get('vmos_cpu_s_per_frame')):>7}  "
                  f"{_f(v.get('memory_state_peak_mb'), 1):>6}")
        if v["status"] == "run":
            scores = " ".join(f"{_f(v[k]):>6}" for k in keys)
        else:
            span = 7 * len(keys) - 1
            scores = f"{v['status'].split(' (')[0][:span]:<{span}}"  # e.g. "not run: needs weights" 
        lines.append(f"{v['label']:<{width}} {scores}  {timing}  {paper:>6}")
    return "\n".join(lines)


def sequence_table(result: dict, key: str = "JF") -> str:
    """Per-sequence ``key`` of every variant that ran (columns: clips)."""
    ran = [v for v in result["variants"] if v["status"] == "run"]
    if not ran:
        return "(no variant was run)"
    names = [c["name"] for c in result["clips"]]
    width = max(len(v["label"]) for v in ran)
    lines = [f"{key:<{width}} " + " ".join(f"{n[:14]:>14}" for n in names)]
    for v in ran:
        lines.append(f"{v['label']:<{width}} " + " ".join(f"{_f(v['sequences'][n][key]):>14}" for n in names))
    return "\n".join(lines)


def ours_vs_paper(result: dict) -> dict:
    """The row's line of the summary: what the paper claims, which variant wins here (by Q and by J&F; among all
    variants that ran when fewer than two of the compared ones did), and whether the direction agrees (``yes`` /
    ``no`` / ``tie`` / ``not run``)."""
    ran = [v for v in result["variants"] if v["status"] == "run" and (not result["compare"] or v["name"] in
                                                                      result["compare"])]
    if len(ran) < 2:  # the paper's variants did not run: our best among those that did (e.g. GrabCut vs none)
        ran = [v for v in result["variants"] if v["status"] == "run"]
    best = lambda key: max(ran, key=lambda v: v[key])["name"] if len(ran) > 1 else None  # noqa: E731
    return {"row": result["number"], "name": result["row"], "claim": result["claim"],
            "paper": result["paper_note"], "paper_best": result["expected_best"], "our_best_Q": best("Q"),
            "our_best_JF": best("JF"), "same_direction_Q": result["same_direction_Q"],
            "same_direction_JF": result["same_direction_JF"], "scale": result["scale"]}


def summary_table(results: Sequence[dict]) -> str:
    """Every row in one table: the paper's claim, our best variant and "same direction?"."""
    lines = [f"{'#':>1} {'row':<10} {'paper best':<14} {'ours (Q)':<14} {'ours (J&F)':<14} {'same (Q)':<8} "
             f"{'same (J&F)':<10}"]
    for r in sorted(results, key=lambda r: r["number"]):
        s = ours_vs_paper(r)
        lines.append(f"{s['row']:>1} {s['name']:<10} {s['paper_best'] or '-':<14} {s['our_best_Q'] or '-':<14} "
                     f"{s['our_best_JF'] or '-':<14} {s['same_direction_Q']:<8} {s['same_direction_JF']:<10}")
    return "\n".join(lines)


def plot_row(result: dict, ax, keys: Sequence[str] = ("JF", "Q")) -> None:
    """Grouped bars of ``keys`` per variant that ran; the paper's value (where given) as a black tick."""
    ran = [v for v in result["variants"] if v["status"] == "run"]
    x = np.arange(len(ran))
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        ax.bar(x + (i - (len(keys) - 1) / 2) * width, [v[key] for v in ran], width, label=key.replace("JF", "J&F"))
    for j, v in enumerate(ran):
        if v["name"] in result["paper"]:
            ax.plot([j - 0.4, j + 0.4], [result["paper"][v["name"]]] * 2, "k-", lw=2,
                    label="paper (VOTS val AUC)" if j == 0 else None)
    ax.set_xticks(x, [v["label"] for v in ran], rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_title(f"row {result['number']}: {result['row']} ({result['scale']} scale)")
    ax.legend(fontsize=8)


def recorded_data_root(recorded: str) -> Path:
    """The dataset a committed row was computed on, found on this machine: the recorded path when it is a folder
    here, else the folder of that name under the shared data (:func:`hqtrack_core.paths.data_root`; the recorded
    path may be relative to another working directory, e.g. the repository root of ``make ablations``)."""
    from ..paths import data_root as shared_root

    path = Path(recorded)
    if path.is_absolute() and path.is_dir():
        return path
    shared = shared_root()
    if shared is not None and (shared / path.name).is_dir():
        return shared / path.name
    return path


def live_check(result: dict, variant: str, clip: str, frames: int, data_root: str | os.PathLike | None = None,
               tolerance: float = 0.02) -> dict:
    """Recompute the first ``frames`` frames of one clip and one variant with the row's stored settings and compare
    the per-frame J with the committed run (tracking is causal: the first frames of the full run are this run), with
    the run's number of torch threads.

    Returns ``{"live", "committed", "max_abs_diff", "ok"}``; ``ok`` is ``max_abs_diff <= tolerance`` (bf16 on another
    CPU may move a few boundary pixels)."""
    from .study import ablate, settings_from_json

    import torch

    settings = settings_from_json(result["settings"])
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
            "seconds": live["compute_seconds"]}


def memory_schedule(policy, frames: int) -> list[list[int]]:
    """Which frames the long-term memory holds (reference + long-term entries) after each frame ``1..frames-1`` under
    ``policy``: the policy replayed on a :class:`~hqtrack_core.inference.memory.MemoryState` with placeholder
    entries (the schedule does not depend on the network)."""
    import torch

    from ..inference.memory import MemoryEntry, MemoryState

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


__all__ = ["results_dir", "recorded_data_root", "load_row", "load_all", "row_table", "sequence_table", "ours_vs_paper", "summary_table",
           "plot_row", "live_check", "memory_schedule"]
