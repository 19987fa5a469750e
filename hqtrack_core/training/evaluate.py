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
import torch
import torch.nn.functional as F


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

    ``tracker``: a :class:`hqtrack_core.inference.engine.VMOSTracker` (reset before each sequence), or a bare
    VMOS network, which is then run by :class:`ValidationTracker`.
    """
    from ..data.datasets import davis_videos
    from ..evaluation.davis import DavisScore, score_sequence
    from ..inference.engine import ResizePolicy
    from ..tracking import track_video

    if isinstance(tracker, torch.nn.Module):
        tracker = ValidationTracker(tracker)
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
    return run


class ValidationTracker:
    """Minimal single-group tracker over the network's tensor methods, for validating a training run
    without the inference engine: the reference frame is pinned in long-term memory, every
    ``long_term_gap``-th frame is added to it, the previous frame is the short-term memory (DeAOT's DAVIS
    setting: gap 5, skip 1). At most ``max_obj_num`` objects with ids 1..N; memory is unbounded.
    ``step(image, mask=None)`` like :class:`~hqtrack_core.inference.engine.VMOSTracker`.
    """

    def __init__(self, model: torch.nn.Module, long_term_gap: int = 5, resize=None) -> None:
        self.model = model.eval()
        self.long_term_gap = long_term_gap
        self.resize = resize
        self.reset()

    def reset(self) -> None:
        self.frame_index = -1
        self.long_k = self.long_v = self.short_k = self.short_v = None
        self.n_objects = 0
        self.last_mem = 0

    @torch.no_grad()
    def step(self, image: np.ndarray, mask: np.ndarray | None = None):
        from types import SimpleNamespace

        from ..model.gpm import LayerMemory
        from ..inference.engine import normalize_image
        from .unroll import one_hot

        m = self.model
        self.frame_index += 1
        h, w = image.shape[:2]
        size = self.resize.size_for(h, w) if self.resize is not None else (h, w)
        device = next(m.parameters()).device
        x = normalize_image(image, size=size, device=device)
        feats = m.encode(x)
        k1 = m.max_obj_num + 1
        if mask is not None:
            labels = torch.from_numpy(np.asarray(mask, dtype=np.int64)).to(device)[None]
            self.n_objects = int(labels.max())
            if self.n_objects >= k1:
                raise ValueError(f"at most {k1 - 1} objects, got ids up to {self.n_objects}")
            small = F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()
            emb = m.id_embedding(one_hot(small, k1))
            prop = m.propagate(feats, id_emb=emb)
            self.long_k, self.long_v = m.memory_entry(prop, emb)
            self.short_k, self.short_v = self.long_k, self.long_v
            self.last_mem = self.frame_index
            return SimpleNamespace(labels=np.asarray(mask).astype(np.uint8))
        if self.long_k is None:
            raise ValueError("the first step needs a mask")
        memories = [LayerMemory(*t) for t in zip(self.long_k, self.long_v, self.short_k, self.short_v)]
        prop = m.propagate(feats, memories)
        logits = m.decode(prop, feats)[:, : self.n_objects + 1]
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=True)
        pred_small = logits.argmax(1)
        emb = m.id_embedding(one_hot(pred_small, k1))
        self.short_k, self.short_v = m.memory_entry(prop, emb)
        if self.frame_index - self.last_mem >= self.long_term_gap:
            self.long_k = [torch.cat([n, o], dim=1) for n, o in zip(self.short_k, self.long_k)]
            self.long_v = [torch.cat([n, o], dim=1) for n, o in zip(self.short_v, self.long_v)]
            self.last_mem = self.frame_index
        if size != (h, w):
            logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=True)
        return SimpleNamespace(labels=logits.argmax(1)[0].cpu().numpy().astype(np.uint8))


def load_trained_vmos(path: str | os.PathLike | None = None) -> torch.nn.Module:
    """A trained network saved by ``hqtrack train --export`` (``save_vmos`` format: config in the metadata),
    single- or multi-scale, float32, eval mode. Default: the committed teaching model."""
    from ..hub import default_checkpoint
    from ..model.checkpoint import load_vmos

    return load_vmos(path if path is not None else default_checkpoint()).eval()
