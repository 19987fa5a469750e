"""A small local VOTS-format dataset for tests/test_vot_toolkit.py: generated sequences with several objects, an
object that is absent for a while (fully occluded) and reappears, an object that starts after frame 0 (sent to the
tracker mid-sequence), and optionally a short real DAVIS-2016 clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hqtrack_core.data.vot_format import UNKNOWN, Special
from hqtrack_core.data.toy_video import make_toy_video
from hqtrack_core.data.vots import write_vots_sequence

H, W = 96, 128


def _occluded(frames: int, seed: int):
    """3 objects; object 2 hidden behind a grey panel on frames 4-6 (absent there), back from frame 7."""
    video = make_toy_video(num_frames=frames, height=H, width=W, num_objects=3, seed=seed)
    images, labels = video.frames.copy(), video.labels.copy()
    hidden = range(4, min(7, frames - 1))
    ys, xs = np.nonzero(np.isin(labels[list(hidden)], [2]).any(axis=0))
    if ys.size:
        y0, y1, x0, x1 = max(ys.min() - 2, 0), ys.max() + 3, max(xs.min() - 2, 0), xs.max() + 3
        for t in hidden:
            images[t, y0:y1, x0:x1] = 128
            labels[t, y0:y1, x0:x1] = 0
    objects = {str(i): [lab == i for lab in labels] for i in (1, 2, 3)}
    assert not objects["2"][4].any() and objects["2"][frames - 1].any(), "object 2 must vanish and come back"
    return images, objects


def _late(frames: int, seed: int):
    """2 objects from frame 0 and a third starting at frame frames // 3 (unknown before: a new object there)."""
    video = make_toy_video(num_frames=frames, height=H, width=W, num_objects=2, seed=seed, late_object=True)
    first = frames // 3
    objects = {str(i): [lab == i for lab in video.labels] for i in (1, 2)}
    objects["3"] = [Special(UNKNOWN)] * first + [lab == 3 for lab in video.labels[first:]]
    return video.frames, objects


def build_vots_dataset(root: Path, frames: int = 8, davis_root: Path | None = None,
                       davis_sequence: str = "bear") -> Path:
    """Write the dataset under ``root`` (with ``list.txt``); returns ``root``."""
    names = []
    for name, (images, objects) in {"occluded": _occluded(frames, seed=3), "late": _late(frames, seed=5)}.items():
        write_vots_sequence(root, name, list(images), objects)
        names.append(name)
    if davis_root is not None:
        from hqtrack_core.data.frames import read_frame, list_frames
        from hqtrack_core.data.masks import read_mask

        import cv2

        jpegs = list_frames(davis_root / "davis2016" / "JPEGImages" / "240p" / davis_sequence)[:frames]
        pngs = list_frames(davis_root / "davis2016" / "Annotations" / "240p" / davis_sequence)[:frames]
        size = (240 // 2 * 427 // 240, 120)  # half size: (W, H) = (213, 120)
        images = [cv2.resize(read_frame(p), size, interpolation=cv2.INTER_AREA) for p in jpegs]
        masks = [cv2.resize((read_mask(p) > 0).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
                 for p in pngs]
        write_vots_sequence(root, f"davis-{davis_sequence}", images, {"1": masks})
        names.append(f"davis-{davis_sequence}")
    (root / "list.txt").write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    return root
