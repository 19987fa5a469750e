"""Validate a trained VMOS on DAVIS sequences (semi-supervised: first-frame ground truth as the prompt).

The same loop as ``hqtrack track`` + ``hqtrack eval davis`` (``hqtrack_core.tracking.track_video`` and
``hqtrack_core.evaluation.davis``), in one call for notebooks and training reports, with two extra knobs:
``max_frames`` (a quick look at the start of a sequence) and ``max_short_edge`` (run the network on frames
downscaled to that short edge, e.g. 240 for a model trained on 240p clips; masks are scored at full size).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class DavisRun:
    """Predictions and scores of one validation run."""

    score: object  # hqtrack_core.evaluation.davis.DavisScore
    predictions: dict[str, list[np.ndarray]] = field(default_factory=dict)
    seconds_per_frame: float = float("nan")

    def table(self) -> str:
        data = self.score.to_json()
        lines = [f"{'sequence':<12} {'J&F':>6} {'J':>6} {'F':>6}"]
        for name, s in data["sequences"].items():
            lines.append(f"{name:<12} {s['JF']:6.3f} {s['J']:6.3f} {s['F']:6.3f}")
        lines.append(f"{'mean':<12} {data['JF']:6.3f} {data['J']:6.3f} {data['F']:6.3f}")
        return "\n".join(lines)


def evaluate_davis_sequences(tracker, root: str | os.PathLike, sequences: list[str], resolution: str = "480p",
                             max_frames: int | None = None, max_short_edge: int | None = None,
                             progress: bool = False) -> DavisRun:
    """Track each sequence from its first ground-truth mask and score J&F (first/last frames dropped).

    ``tracker``: a :class:`hqtrack_core.inference.engine.VMOSTracker` (reset before each sequence).
    """
    import time

    from ..data.datasets import davis_videos
    from ..evaluation.davis import DavisScore, score_sequence
    from ..inference.engine import ResizePolicy
    from ..tracking import track_video

    root = Path(root)
    videos = {v.name: v for v in davis_videos(root, resolution)}
    missing = [s for s in sequences if s not in videos]
    if missing:
        raise KeyError(f"sequences {missing} not found under {root}/JPEGImages/{resolution}")
    tracker.resize = None if max_short_edge is None else ResizePolicy(max_short_edge=max_short_edge,
                                                                      max_long_edge=None)
    score = DavisScore()
    run = DavisRun(score)
    seconds, count = 0.0, 0
    for name in sequences:
        video = videos[name]
        tracker.reset()
        first = video.stems[0]
        preds, gts = [], []
        for frame in track_video(tracker, video.frames(), {first: video.mask(first)}, max_frames=max_frames,
                                 progress=progress):
            preds.append(frame.labels.astype(np.uint8))
            gts.append(video.mask(frame.stem))
            if frame.index > 0:
                seconds += frame.seconds
                count += 1
        score.sequences[name] = score_sequence(name, gts, preds, frames=video.stems[:len(preds)])
        run.predictions[name] = preds
    run.seconds_per_frame = seconds / max(count, 1)
    _ = time
    return run
