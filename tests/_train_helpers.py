"""Small shared helpers of the training tests: a folder of toy static images with instance masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def make_static_folder(root: Path, n: int = 4, size: tuple[int, int] = (72, 88), seed: int = 0) -> Path:
    """``root/images/*.jpg`` + ``root/masks/*.png`` (indexed, 2 rectangles each)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    h, w = size
    for i in range(n):
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        mask = np.zeros((h, w), np.uint8)
        for k in (1, 2):
            y, x = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
            mask[y:y + h // 3, x:x + w // 3] = k
            img[mask == k] = (60 * k, 200 - 50 * k, 40 * k)
        Image.fromarray(img).save(root / "images" / f"{i:03d}.jpg")
        im = Image.fromarray(mask, mode="P")
        im.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9))
        im.save(root / "masks" / f"{i:03d}.png")
    return root


def make_davis_folder(root: Path, n_seq: int = 3, n_frames: int = 8, size: tuple[int, int] = (96, 128),
                      seed: int = 0) -> Path:
    """A toy DAVIS-2016 layout at ``240p``: ``ImageSets/train.txt``, lossless PNG frames (so that decoding is exact
    everywhere) and 0/255 masks of one moving, growing rectangle on a noisy background."""
    rng = np.random.default_rng(seed)
    h, w = size
    names = [f"toy{k}" for k in range(n_seq)]
    (root / "ImageSets").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "train.txt").write_text("\n".join(names) + "\n")
    for name in names:
        frames = root / "JPEGImages" / "240p" / name
        masks = root / "Annotations" / "240p" / name
        frames.mkdir(parents=True)
        masks.mkdir(parents=True)
        background = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        colour = rng.integers(0, 255, 3, dtype=np.uint8)
        y, x = int(rng.integers(0, h // 3)), int(rng.integers(0, w // 3))
        for t in range(n_frames):
            img = background.copy()
            mask = np.zeros((h, w), np.uint8)
            mask[y + t: y + t + h // 3 + t, x + 2 * t: x + 2 * t + w // 3 + t] = 255
            img[mask > 0] = colour
            Image.fromarray(img).save(frames / f"{t:05d}.png")
            Image.fromarray(mask).save(masks / f"{t:05d}.png")
    return root
