"""Toy inputs: a generated video written as a user's input (a folder of frames and a first-frame mask PNG), and
random frames with a two-object mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from hqtrack_core.data.masks import write_mask


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
