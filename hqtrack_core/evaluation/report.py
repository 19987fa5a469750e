"""Helpers for evaluation reports: the score tables that ``hqtrack eval davis|vots`` and notebook 05 print, plots,
worst frames, overlays, and a synthetic "method" for machines without the real data."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hqtrack_core.evaluation.davis import DavisScore
from hqtrack_core.evaluation.vots import PLOT_THRESHOLDS, VOTS_MEASURES, VotsScore

__all__ = ["partial_banner", "davis_table", "vots_table", "WorstFrame", "worst_frames", "overlay", "plot_quality", "plot_jf_frames",
           "degrade_labels"]


def _f(value) -> str:
    """Three decimals in 6 characters; ``-`` when undefined; no ``-0.000`` (a tiny negative decay prints 0.000)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "   -  "
    return f"{round(float(value), 3) or 0.0:6.3f}"


def partial_banner(scored: int, missing: dict[str, str]) -> str | None:
    """The line printed above and below a table scored on part of the data (``None`` when nothing is missing)."""
    if not missing:
        return None
    names = list(missing)
    shown = ", ".join(names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")
    return (f"PARTIAL: {scored} of {scored + len(missing)} sequences scored; not scored: {shown}. "
            "Not comparable with a full evaluation.")


def _table(header: str, rows: dict[str, str], total_label: str, total: str, missing: dict[str, str]) -> str:
    """A row per sequence and a total row; on part of the data, between PARTIAL banners with the total row
    labelled PARTIAL."""
    width = max(12, *(len(n) for n in rows))
    banner = partial_banner(len(rows), missing)
    lines = [f"{'sequence':<{width}} {header}", *(f"{name:<{width}} {row}" for name, row in rows.items()),
             f"{'PARTIAL' if banner else total_label:<{width}} {total}"]
    return "\n".join([banner, *lines, banner] if banner else lines)


def davis_table(score: DavisScore) -> str:
    """Per-sequence and global J&F, J, F, recalls and decays, three decimals (the columns of the official
    davis2017-evaluation; ``hqtrack eval davis`` prints it)."""
    keys = ("JF", "J", "F", "J_recall", "F_recall", "J_decay", "F_decay")
    columns = lambda m: " ".join(f"{_f(m[k]):>8}" for k in keys)  # noqa: E731
    rows = {name: f"{len(s.objects):>3} {columns(s.measures())}" for name, s in score.sequences.items()}
    objects = sum(len(s.objects) for s in score.sequences.values())
    return _table(f"{'obj':>3} " + " ".join(f"{k:>8}" for k in keys), rows, "global",
                  f"{objects:>3} {columns(score.measures())}", score.missing)


def vots_table(score: VotsScore) -> str:
    """Per-sequence and overall VOTS measures, three decimals (``-`` where undefined; ``hqtrack eval vots``
    prints it)."""
    columns = lambda s: " ".join(_f(getattr(s, k)) for k in VOTS_MEASURES)  # noqa: E731
    rows = {name: columns(s) for name, s in score.sequences.items()}
    return _table(" ".join(f"{k:>6}" for k in VOTS_MEASURES), rows, "overall", columns(score), score.missing)


@dataclass(frozen=True)
class WorstFrame:
    sequence: str
    frame: str
    object_id: int
    J: float
    F: float


def worst_frames(score: DavisScore, k: int = 3) -> list[WorstFrame]:
    """The ``k`` (sequence, frame, object) with the lowest J (ties: lowest F, then name order)."""
    rows = [WorstFrame(name, s.frames[t], obj, float(o.J_frames[t]), float(o.F_frames[t]))
            for name, s in score.sequences.items() for obj, o in s.objects.items() for t in range(len(s.frames))]
    return sorted(rows, key=lambda r: (r.J, r.F, r.sequence, r.frame, r.object_id))[:k]


def overlay(image: np.ndarray, gt: np.ndarray, pred: np.ndarray, alpha: float = 0.6, crop: bool = False) -> np.ndarray:
    """RGB overlay ``(H, W, 3) uint8``: true positives green, misses (truth only) blue, false positives red, true
    outline white. ``crop`` zooms on the true object's box (the prediction's if the truth is empty), widened by its
size on each side (at least 40 px)."""
    gt, pred = np.asarray(gt, bool), np.asarray(pred, bool)
    out = image.astype(np.float32).copy()
    for region, colour in ((gt & pred, (0, 200, 0)), (gt & ~pred, (40, 90, 255)), (pred & ~gt, (255, 40, 40))):
        out[region] = (1 - alpha) * out[region] + alpha * np.array(colour, np.float32)
    contours, _ = cv2.findContours(gt.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.ascontiguousarray(out.clip(0, 255).astype(np.uint8))
    cv2.drawContours(out, contours, -1, (255, 255, 255), 1)
    focus = gt if gt.any() else pred
    if crop and focus.any():
        rows, cols = np.flatnonzero(focus.any(axis=1)), np.flatnonzero(focus.any(axis=0))
        my = max(40, int(rows[-1] - rows[0]))
        mx = max(40, int(cols[-1] - cols[0]))
        out = out[max(0, rows[0] - my) : rows[-1] + my + 1, max(0, cols[0] - mx) : cols[-1] + mx + 1]
    return out


def plot_quality(ax, scores: dict[str, VotsScore] | VotsScore, per_sequence: bool = True) -> None:
    """VOTS quality plot: fraction of frames with overlap above each threshold (area under it ~ Q)."""
    scores = scores if isinstance(scores, dict) else {"overall": scores}
    for label, score in scores.items():
        if per_sequence:
            for name, s in score.sequences.items():
                ax.plot(PLOT_THRESHOLDS, s.plot, lw=1, alpha=0.6, label=f"{name} (Q {s.Q:.3f})")
        ax.plot(PLOT_THRESHOLDS, score.plot, lw=2.5, color="k", label=f"{label} (Q {score.Q:.3f})")
    ax.set(xlabel="overlap threshold", ylabel="fraction of frames", xlim=(0, 1), ylim=(0, 1.02), title="VOTS quality plot")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def plot_jf_frames(ax, score: DavisScore) -> None:
    """Per-frame J (solid) and F (dashed) of every object."""
    for name, s in score.sequences.items():
        for obj, o in s.objects.items():
            label = name if len(s.objects) == 1 else f"{name}/{obj}"
            x = [int(f) if f.isdigit() else i for i, f in enumerate(s.frames)]
            line, = ax.plot(x, o.J_frames, lw=1.5, label=f"{label} J")
            ax.plot(x, o.F_frames, lw=1, ls="--", color=line.get_color(), label=f"{label} F")
    ax.set(xlabel="frame", ylabel="score", ylim=(0, 1.02), title="J (solid) and F (dashed) per frame")
    ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)


def degrade_labels(labels: np.ndarray, seed: int = 0, shift: int = 3, drop_every: int = 7) -> list[np.ndarray]:
    """A synthetic "method" for demos without real predictions: the true label maps ``(T, H, W)`` shifted by a
    drifting offset, eroded, with an object dropped every ``drop_every`` frames."""
    rng = np.random.default_rng(seed)
    out = []
    for t, label in enumerate(labels):
        dy, dx = (int(v) for v in np.round(shift * np.array([np.sin(t / 4), np.cos(t / 5)]) + rng.normal(0, 1, 2)))
        moved = np.roll(np.roll(label, dy, axis=0), dx, axis=1)
        pred = np.zeros_like(label)
        for obj in np.unique(label[label > 0]):
            if drop_every and t % drop_every == drop_every - 1 and obj == 1:
                continue
            mask = cv2.erode((moved == obj).astype(np.uint8), np.ones((3, 3), np.uint8))
            pred[mask > 0] = obj
        out.append(pred)
    return out
