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
