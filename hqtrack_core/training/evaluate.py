"""Validate a trained VMOS on DAVIS sequences (semi-supervised: first-frame ground truth as the prompt).

The same loop as ``hqtrack track`` + ``hqtrack eval davis`` (the inference engine's
:class:`~hqtrack_core.inference.engine.VMOSTracker`, ``hqtrack_core.api.track_video`` and
``hqtrack_core.evaluation.davis``), in one call for notebooks and training reports, with two extra knobs:
``max_frames`` (a quick look at the start of a sequence) and ``max_short_edge`` (run the network on frames
downscaled to that short edge, e.g. 240 for a model trained on 240p clips; masks are scored at full size).
A bare network is tracked with the memory policy ``"deaot"`` (DeAOT's DAVIS setting: reference pinned, one
long-term entry every 5 frames, unbounded, previous frame as short-term), unless ``memory`` names another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..api.checkpoints import default_checkpoint
from ..api.video import track_video
from ..data.datasets import davis_video, davis_videos
from ..evaluation.davis import DavisScore, jaccard, score_sequence
from ..inference.engine import VMOSTracker
from ..inference.memory import memory_policy
from ..inference.preprocess import ResizePolicy
from ..model.checkpoint import load_vmos
from ..render import overlay_panels, preview_indices


@dataclass
class DavisRun:
    """Predictions and scores of one validation run (``root`` / ``resolution``: where its frames are)."""

    score: DavisScore
    predictions: dict[str, list[np.ndarray]] = field(default_factory=dict)
    seconds_per_frame: float = float("nan")
    root: Path | None = None
    resolution: str = "480p"

    def table(self) -> str:
        data = self.score.to_json()
        lines = [f"{'sequence':<12} {'J&F':>6} {'J':>6} {'F':>6}"]
        for name, s in data["sequences"].items():
            lines.append(f"{name:<12} {s['JF']:6.3f} {s['J']:6.3f} {s['F']:6.3f}")
        lines.append(f"{'mean':<12} {data['JF']:6.3f} {data['J']:6.3f} {data['F']:6.3f}")
        return "\n".join(lines)

    def overlay_figure(self, sequence: str, n: int = 4):
        """A row of ``n`` evenly spaced frames of ``sequence`` with the predicted masks drawn over (matplotlib
        ``Figure``), titled with the frame and its J."""
        if sequence not in self.predictions:
            raise KeyError(f"sequence {sequence!r} was not evaluated in this run; evaluated: {sorted(self.predictions)}")
        preds = self.predictions[sequence]
        picks = preview_indices(len(preds), n)
        video = davis_video(self.root, sequence, self.resolution)
        shown = [(stem, image) for t, (stem, image) in zip(range(len(preds)), video.frames()) if t in picks]
        objects = [int(i) for i in np.unique(video.mask(video.stems[0])) if i]
        titles = []
        for t, (stem, _) in zip(picks, shown):
            gt = video.mask(stem)
            j = np.mean([jaccard(gt == obj, preds[t] == obj) for obj in objects]) if objects else float("nan")
            titles.append(f"{sequence} frame {stem}: J {j:.2f}")
        return overlay_panels([image for _, image in shown], [preds[t] for t in picks], titles)


def evaluate_davis_sequences(tracker, root: str | os.PathLike, sequences: list[str], resolution: str = "480p",
                             max_frames: int | None = None, max_short_edge: int | None = None,
                             progress: bool = False, memory: str = "deaot") -> DavisRun:
    """Track each sequence from its first ground-truth mask and score J&F (first/last frames dropped).

    ``tracker``: a :class:`hqtrack_core.inference.engine.VMOSTracker` (reset before each sequence), or a bare
    VMOS network, tracked by a ``VMOSTracker`` with the memory policy ``memory`` (default ``"deaot"``).
    """
    if isinstance(tracker, torch.nn.Module):
        tracker = VMOSTracker(tracker.eval(), policy=memory_policy(memory))
    root = Path(root)
    videos = {v.name: v for v in davis_videos(root, resolution)}
    missing = [s for s in sequences if s not in videos]
    if missing:
        raise KeyError(f"sequences {missing} not found under {root}/JPEGImages/{resolution}")
    tracker.resize = None if max_short_edge is None else ResizePolicy(max_short_edge=max_short_edge,
                                                                      max_long_edge=None)
    score = DavisScore()
    run = DavisRun(score, root=root, resolution=resolution)
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
    return run


def load_trained_vmos(path: str | os.PathLike | None = None) -> torch.nn.Module:
    """A trained network saved by ``hqtrack train --export`` (``save_vmos`` format: config in the metadata),
    single- or multi-scale, float32, eval mode. Default: the committed teaching model."""
    return load_vmos(path if path is not None else default_checkpoint()).eval()
