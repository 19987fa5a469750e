"""A generated toy video written as a user's input: a folder of frames and a first-frame mask PNG."""

from __future__ import annotations

from pathlib import Path

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
