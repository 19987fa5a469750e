"""Toy inputs: a generated video written as a user's input (a folder of frames and a first-frame mask PNG), random
frames with a two-object mask, toy clips with their ground truth (written as a DAVIS-layout folder by the ablation
tests), and DAVIS ground-truth / prediction folders for the evaluation tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from hqtrack_core.ablation.generators import LabelledClip, write_davis_folder
from hqtrack_core.data.datasets import write_davis_masks
from hqtrack_core.data.masks import write_mask
from hqtrack_core.data.toy_video import make_toy_video


def write_toy_clip(root: Path, video, name: str = "{t:05d}.jpg") -> tuple[Path, Path]:
    """``root/frames/<name>`` per frame (``name`` formatted with ``t``, the 0-based index, and ``n = t + 1``; JPEG at
    quality 95 when it ends in .jpg) and ``root/first.png`` (the first label map). Returns ``(frames, mask)``."""
    frames = root / "frames"
    frames.mkdir()
    for t, frame in enumerate(video.frames):
        Image.fromarray(frame).save(frames / name.format(t=t, n=t + 1), quality=95)
    mask = root / "first.png"
    write_mask(mask, video.labels[0])
    return frames, mask


def noise_video(n: int, h: int, w: int, dtype=np.uint8) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` random ``(h, w, 3)`` uint8 frames (seed 0) and a first mask with two rectangles (ids 1, 2) of ``dtype``."""
    rng = np.random.default_rng(0)
    frames = [(rng.random((h, w, 3)) * 255).astype(np.uint8) for _ in range(n)]
    mask = np.zeros((h, w), dtype)
    mask[10:30, 10:40] = 1
    mask[35:60, 50:90] = 2
    return frames, mask


def toy_clip(name: str, frames: int, objects: int, seed: int, size: tuple[int, int] = (48, 64)) -> LabelledClip:
    """A generated video of ``frames`` ``size = (H, W)`` frames and its label maps (``objects`` objects)."""
    video = make_toy_video(num_frames=frames, height=size[0], width=size[1], num_objects=objects, seed=seed)
    return LabelledClip(name, list(video.frames), list(video.labels))


def write_toy_davis(root: Path, clips: list[tuple[str, int, int, int]], size: tuple[int, int],
                    resolution: str) -> Path:
    """A DAVIS-layout folder at ``root`` (split ``heldout``, ``JPEGImages/<resolution>/...``) of toy clips given
    as ``(name, frames, objects, seed)``."""
    return write_davis_folder(root, [toy_clip(*spec, size=size) for spec in clips], split="heldout",
                              resolution=resolution)


def write_davis_results(root: Path, objects: dict[str, int], noise: float) -> tuple[Path, Path]:
    """``root/gt/<seq>`` and ``root/pred/<seq>``: 6 masks of 30x40 per sequence, ``objects[seq]`` (1 or 2) moving
    rectangles; the prediction is the ground truth with a fraction ``noise`` of pixels set to background (one
    generator, seed 0, drawn sequence by sequence). Returns ``(gt, pred)``."""
    rng = np.random.default_rng(0)
    for seq, count in objects.items():
        gts, preds = [], []
        for t in range(6):
            g = np.zeros((30, 40), np.uint8)
            g[5 + t: 15 + t, 5:20] = 1
            g[18:25, 22 + t: 35] = 2 if count == 2 else 0
            p = g.copy()
            p[rng.random(g.shape) < noise] = 0
            gts.append(g)
            preds.append(p)
        write_davis_masks(root / "gt" / seq, gts)
        write_davis_masks(root / "pred" / seq, preds)
    return root / "gt", root / "pred"
