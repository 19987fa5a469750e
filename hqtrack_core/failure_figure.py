"""Looking at a failure frame by frame: per-frame J, the frames where the target is lost, what the memory held.

- :func:`per_frame_jaccard`: J of every frame (mean over the objects of the first ground-truth frame).
- :func:`lost_frames`: the frames whose J is below a threshold.
- :func:`track_with_memory`: run a tracker over a video and keep, after every frame, which frames its memory held
  (:func:`hqtrack_core.viz.memory_snapshot` of the first object group).
- :func:`failure_strip`: a matplotlib figure: a strip of frames with the ground truth (green outline) and the
  prediction (yellow outline) drawn over them, missed pixels tinted red and false positives blue, each titled with
  its J and the memory's frames; below it, J per frame with the lost frames shaded, and the ground-truth and
  predicted areas on a log scale (a target that grows shows up there).

- :func:`sequence_failure_figure`: all of it for one DAVIS sequence with the shipped model and the CLI defaults,
  optionally with runs where the ground truth is given again at some frames (does a memory holding the whole
  target keep it?). ``figures/teach/drift_turn_failure.png`` (issue 34) is::

    sequence_failure_figure("../shared/data/davis2016", "drift-turn", corrections=(32, 47)).savefig(
        "figures/teach/drift_turn_failure.png", dpi=75)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import cv2
import matplotlib.pyplot as plt
import numpy as np

from .api import InferenceConfig, build_tracker, track_video
from .data.datasets import davis_video
from .evaluation.davis import jaccard
from .render import preview_indices
from .viz import memory_snapshot

__all__ = ["per_frame_jaccard", "lost_frames", "track_with_memory", "failure_strip", "sequence_failure_figure"]


def per_frame_jaccard(gt: Sequence[np.ndarray], pred: Sequence[np.ndarray]) -> np.ndarray:
    """``(T,)`` J of every frame: the mean over the objects of ``gt[0]`` (ids > 0) of the IoU of object ``k`` in
    ``gt[t]`` and ``pred[t]`` (1 when both are empty). ``gt``, ``pred``: ``T`` label maps ``(H, W)``."""
    if len(gt) != len(pred) or len(gt) == 0:
        raise ValueError(f"per_frame_jaccard needs as many predictions as ground-truth frames (>= 1), got "
                         f"{len(pred)} and {len(gt)}")
    ids = [int(i) for i in np.unique(np.asarray(gt[0])) if i != 0]
    if not ids:
        raise ValueError("the first ground-truth frame holds no object")
    out = np.empty(len(gt))
    for t, (g, p) in enumerate(zip(gt, pred)):
        g, p = np.asarray(g), np.asarray(p)
        if g.shape != p.shape:
            raise ValueError(f"frame {t}: prediction {p.shape} and ground truth {g.shape} differ in size")
        out[t] = np.mean([jaccard(g == k, p == k) for k in ids])
    return out


def lost_frames(j: Sequence[float], threshold: float = 0.5) -> list[int]:
    """Indices of the frames whose J is below ``threshold``."""
    return [t for t, v in enumerate(j) if v < threshold]


def track_with_memory(stepper, frames: Iterable[tuple[str, np.ndarray]], first_mask: np.ndarray
                      ) -> tuple[list[np.ndarray], list[dict[str, list[int]]]]:
    """Track ``frames`` (``(stem, image)`` pairs) from ``first_mask`` with ``stepper`` (a ``VMOSTracker``; a
    pipeline works when it exposes ``memory``). Returns the label maps and, per frame, the frames the memory held
    after that frame (``{"reference": [...], "long_term": [...], "short_term": [...]}``, first object group)."""
    frames = list(frames)
    if not frames:
        raise ValueError("no frames to track")
    preds, snapshots = [], []
    for tracked in track_video(stepper, frames, {frames[0][0]: np.asarray(first_mask)}):
        preds.append(tracked.labels)
        memory = stepper.memory
        snapshots.append(memory_snapshot(memory[0]) if memory else {})
    return preds, snapshots


def _panel(image: np.ndarray, gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The frame with missed pixels tinted red, false positives blue, ground-truth outline green and prediction
    outline yellow (``(H, W, 3) uint8``)."""
    out = np.asarray(image, np.float32).copy()
    g, p = np.asarray(gt) > 0, np.asarray(pred) > 0
    for region, colour in ((g & ~p, (255, 40, 40)), (p & ~g, (40, 120, 255))):
        out[region] = 0.45 * out[region] + 0.55 * np.asarray(colour, np.float32)
    for mask, colour in ((g, (0, 255, 0)), (p, (255, 230, 0))):
        m = mask.astype(np.uint8)
        out[(m - cv2.erode(m, np.ones((3, 3), np.uint8))) > 0] = colour
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _memory_text(snapshot: dict[str, list[int]] | None) -> str:
    if not snapshot:
        return ""
    long_term = sorted(set(snapshot.get("reference", [])) | set(snapshot.get("long_term", [])))
    short = snapshot.get("short_term", [])
    return f"\nmemory: {long_term}" + (f", short {short[0]}" if short else "")


def failure_strip(images: Sequence[np.ndarray], gt: Sequence[np.ndarray], pred: Sequence[np.ndarray], *,
                  frames: Sequence[int] | None = None, n: int = 8, j: Sequence[float] | None = None,
                  snapshots: Sequence[dict[str, list[int]]] | None = None, threshold: float = 0.5,
                  others: Mapping[str, Sequence[float]] | None = None, title: str = "", panel_width: float = 2.6):
    """A matplotlib ``Figure``: a row of frames (``frames``, default ``n`` spread evenly, first and last included)
    drawn by :func:`_panel` and titled with J and the memory after that frame; below, J per frame (lost frames,
    J < ``threshold``, shaded; the shown frames marked) and the ground-truth and predicted areas (log scale).

    ``images``: ``T`` frames ``(H, W, 3) uint8``; ``gt``, ``pred``: ``T`` label maps; ``j``: per-frame J
    (default :func:`per_frame_jaccard`); ``snapshots``: per-frame memory (:func:`track_with_memory`); ``others``:
    per-frame J of other runs of the same video, by label, drawn as dashed lines for comparison.
    """
    total = len(images)
    if total == 0 or len(gt) != total or len(pred) != total:
        raise ValueError(f"failure_strip needs as many ground-truth and predicted maps as frames (>= 1), got "
                         f"{total} frames, {len(gt)} ground truth, {len(pred)} predictions")
    if snapshots is not None and len(snapshots) != total:
        raise ValueError(f"{len(snapshots)} memory snapshots for {total} frames")
    j = per_frame_jaccard(gt, pred) if j is None else np.asarray(j, float)
    if len(j) != total:
        raise ValueError(f"{len(j)} J values for {total} frames")
    shown = list(frames) if frames is not None else preview_indices(total, n)
    bad = [t for t in shown if not 0 <= t < total]
    if bad:
        raise ValueError(f"frames {bad} are outside 0..{total - 1}")
    h, w = np.asarray(images[0]).shape[:2]
    cols = len(shown)
    fig = plt.figure(figsize=(panel_width * cols, panel_width * h / w + 3.4))
    grid = fig.add_gridspec(2, cols, height_ratios=[panel_width * h / w + 0.5, 2.6])
    for k, t in enumerate(shown):
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(_panel(images[t], gt[t], pred[t]))
        ax.set_axis_off()
        ax.set_title(f"frame {t}  J {j[t]:.2f}" + _memory_text(snapshots[t] if snapshots else None), fontsize=8)
    ax = fig.add_subplot(grid[1, :])
    steps = np.arange(total)
    for t in lost_frames(j, threshold):
        ax.axvspan(t - 0.5, t + 0.5, color="red", alpha=0.12, lw=0)
    ax.plot(steps, j, color="black", lw=1.5, label="J")
    ax.axhline(threshold, color="red", lw=0.8, ls=":", label=f"lost: J < {threshold}")
    ax.plot(shown, j[shown], "o", color="black", ms=4)
    for k, (label, values) in enumerate((others or {}).items()):
        if len(values) != total:
            raise ValueError(f"others[{label!r}] has {len(values)} J values for {total} frames")
        ax.plot(steps, values, ls="--", lw=1.2, color=("tab:blue", "tab:cyan", "tab:pink")[k % 3], label=label)
    if snapshots:
        written = sorted({f for s in snapshots for f in s.get("long_term", [])})
        for f in written:
            ax.axvline(f, color="grey", lw=0.8, ls="-.")
        if written:
            ax.plot([], [], color="grey", lw=0.8, ls="-.", label="long-term memory written")
    ax.set_xlim(-0.5, total - 0.5)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("frame")
    ax.set_ylabel("J")
    area = ax.twinx()
    area.plot(steps, [np.count_nonzero(np.asarray(g)) for g in gt], color="green", lw=1, label="ground-truth area")
    area.plot(steps, [np.count_nonzero(np.asarray(p)) for p in pred], color="goldenrod", lw=1,
              label="predicted area")
    area.set_yscale("log")
    area.set_ylabel("pixels")
    lines = ax.get_legend_handles_labels()
    more = area.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="lower left", ncol=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def sequence_failure_figure(data_root, sequence: str, resolution: str = "240p", corrections: Sequence[int] = (),
                            frames: Sequence[int] | None = None, **tracker_options):
    """:func:`failure_strip` of DAVIS ``sequence`` tracked by :func:`hqtrack_core.api.build_tracker` (the shipped
    model and its card's settings unless ``tracker_options``, settings of ``InferenceConfig.from_card``, say otherwise) from the first frame's ground truth.
    Each frame in ``corrections`` adds a run where the ground truth is given again at that frame (a correction
    of the known objects), drawn as a dashed J curve."""
    video = davis_video(data_root, sequence, resolution)
    stems = video.stems
    bad = [t for t in corrections if not 0 < t < len(stems)]
    if bad:
        raise ValueError(f"correction frames {bad} are outside 1..{len(stems) - 1}")
    images = [image for _, image in video.frames()]
    gt = [video.mask(stem) for stem in stems]
    vmos = build_tracker(InferenceConfig.from_card(**tracker_options))
    tracker, info = vmos.tracker, vmos.description
    preds, snapshots = track_with_memory(tracker, list(zip(stems, images)), gt[0])
    others = {}
    for t in corrections:
        tracker.reset()
        prompts = {stems[0]: gt[0], stems[t]: gt[t]}
        fixed = [f.labels for f in track_video(tracker, list(zip(stems, images)), prompts)]
        others[f"ground truth given again at frame {t}"] = per_frame_jaccard(gt, fixed)
    shown = frames if frames is not None else preview_indices(len(stems), 9)
    settings = info.split(", device")[0]
    return failure_strip(images, gt, preds, frames=shown, snapshots=snapshots, others=others,
                         title=f"{sequence}: {settings}\ngreen: ground truth, yellow: prediction, red: missed, "
                               "blue: false positive")
