"""One way for notebooks and demos to get a real annotated video: the shared DAVIS data when present, else the
clip shipped in the repository (DAVIS-2016 ``blackswan`` at 240p, ``data/demo``, see
:mod:`hqtrack_core.data.demo_clip`).

``data_root`` means the same everywhere:

- ``""`` (auto): ``$HQTRACK_DATA`` or ``../shared/data`` when it holds the sequence, else the shipped clip;
- ``"demo"``: the shipped clip only (what a fresh clone without the shared data sees);
- a folder: a shared-data root (holding ``davis2016/``) or a DAVIS root (holding ``JPEGImages/``).

A sequence found in none of them is a ``KeyError`` naming where it was looked for.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..paths import data_root as shared_root
from .datasets import Video, davis_video, folder_video
from .demo_clip import DEMO_SEQUENCE, demo_davis_root
from .frames import resize_frame
from .masks import fit_mask_to, read_mask
from .toy_video import make_toy_video

__all__ = ["Clip", "DEMO_SEQUENCE", "PromptedClip", "davis_roots", "open_sequence", "load_clip", "load_judo",
           "osvos_prediction"]

RESOLUTIONS = ("480p", "240p")  # looked up in this order in a DAVIS root


def davis_roots(data_root: str | os.PathLike | None = "") -> list[Path]:
    """The DAVIS roots searched for ``data_root`` (see the module docstring), in order."""
    demo = demo_davis_root()
    if data_root is None or str(data_root) == "":
        shared = shared_root()
        return ([shared / "davis2016"] if shared is not None else []) + [demo]
    if str(data_root) == "demo":
        return [demo]
    folder = Path(data_root).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"data_root {str(data_root)!r} is not a folder (use '' for auto, 'demo' for the "
                                f"shipped clip)")
    return [folder if (folder / "JPEGImages").is_dir() else folder / "davis2016"]


def open_sequence(data_root: str | os.PathLike | None = "", sequence: str = DEMO_SEQUENCE) -> Video:
    """The annotated DAVIS video ``sequence`` from the first root of :func:`davis_roots` that has it
    (resolution 480p, else 240p). Frames are read lazily: iterate ``video.frames()``; ``video.mask(stem)``."""
    roots = davis_roots(data_root)
    for root in roots:
        for resolution in RESOLUTIONS:
            if (root / "JPEGImages" / resolution / sequence).is_dir():
                return davis_video(root, sequence, resolution)
    hint = (f"the shipped clip has only {DEMO_SEQUENCE!r}; set HQTRACK_DATA to the shared data for other DAVIS "
            f"sequences") if demo_davis_root() in roots else "check the name and data_root"
    raise KeyError(f"sequence {sequence!r} not found under {', '.join(str(r) for r in roots)}: {hint}")


@dataclass
class Clip:
    """The first frames of an annotated video, in memory and resized.

    ``frames``: ``(stem, (H, W, 3) uint8 RGB)`` pairs; ``masks``: ground-truth label maps ``(H, W) uint8``, one
    per frame; ``source``: a printable line saying what was loaded and from where.
    """

    name: str
    frames: list[tuple[str, np.ndarray]]
    masks: list[np.ndarray]
    source: str
    path: Path

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` of the frames."""
        return self.frames[0][1].shape[:2]

    @property
    def images(self) -> list[np.ndarray]:
        """The frames without their stems."""
        return [image for _, image in self.frames]

    @property
    def prompts(self) -> dict[str, np.ndarray]:
        """The first frame's ground truth as the prompt of :func:`hqtrack_core.api.track_video`."""
        return {self.frames[0][0]: self.masks[0]}


def load_clip(data_root: str | os.PathLike | None = "", sequence: str = DEMO_SEQUENCE,
              max_frames: int | None = None, scale: float | None = None, short_edge: int | None = None) -> Clip:
    """Read ``sequence`` (see :func:`open_sequence`), at most ``max_frames`` frames, resized by ``scale`` or to
    ``short_edge`` (:func:`~hqtrack_core.data.frames.resize_frame`: area for frames, nearest for masks; neither:
    as stored)."""
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    if scale is not None and short_edge is not None:
        raise ValueError("give scale or short_edge, not both")
    video = open_sequence(data_root, sequence)
    frames, masks = [], []
    for index, (stem, image) in enumerate(video.frames()):
        if max_frames is not None and index >= max_frames:
            break
        mask = video.mask(stem)
        if scale is not None or short_edge is not None:
            image = resize_frame(image, scale=scale, short_edge=short_edge)
            mask = resize_frame(mask, scale=scale, short_edge=short_edge, nearest=True)
        frames.append((stem, image))
        masks.append(mask)
    path = video.source.path
    where = "shipped clip" if path.is_relative_to(demo_davis_root()) else "shared data"
    h, w = frames[0][1].shape[:2]
    source = f"DAVIS-2016 {sequence} ({where}), {len(frames)} frames at {w}x{h}"
    return Clip(sequence, frames, masks, source, path)


def osvos_prediction(sequence: str, stem: str, data_root: str | os.PathLike | None = "") -> np.ndarray | None:
    """OSVOS's predicted label map ``(H, W) uint8`` of frame ``stem`` of a dev sequence, from the shared data's
    ``osvos_davis2017_predictions`` (a real method's output, e.g. the raw mask a refiner starts from); ``None`` when
    the shared data or that file is absent (the shipped clip has no predictions). ``data_root`` as above."""
    if str(data_root or "") == "demo":
        return None
    root = shared_root() if not data_root else Path(data_root).expanduser()
    if root is None:
        return None
    path = root / "osvos_davis2017_predictions" / sequence / f"{stem}.png"
    return read_mask(path) if path.is_file() else None


@dataclass
class PromptedClip:
    """A video whose objects are prompted on different frames (objects added mid-video).

    ``frames``: ``(H, W, 3) uint8 RGB``; ``prompts``: frame index -> ``(H, W) int64`` label map holding the ids
    that frame adds (0 elsewhere); ``source``: a printable line saying what was loaded and from where.
    """

    frames: list[np.ndarray]
    prompts: dict[int, np.ndarray]
    source: str
    warnings: list[str]

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def first_prompt(self) -> dict[int, int]:
        """Object id -> the frame that prompts it."""
        return {int(i): t for t, p in sorted(self.prompts.items(), reverse=True) for i in np.unique(p) if i}


def load_judo(data_root: str | os.PathLike | None = "", scale: float = 0.375, seed: int = 0) -> PromptedClip:
    """Cutie's ``judo`` example from the shared data (16 frames, objects 1-4 prompted at frames 0, 5, 8, 13; its
    853-pixel-wide ``00005.png`` is padded to the frame by :func:`~hqtrack_core.data.masks.fit_mask_to`, noted in
    ``warnings``), resized by ``scale``. Without the shared data (or with ``data_root="demo"``): a generated
    16-frame video whose second object is prompted at frame 5, with ``source`` saying so."""
    shared = None if str(data_root or "") == "demo" else (Path(data_root) if data_root else shared_root())
    if shared is None or not (shared / "cutie_examples" / "images" / "judo").is_dir():
        toy = make_toy_video(num_frames=16, height=240, width=320, num_objects=1, seed=seed, late_object=True)
        prompts = {0: toy.first_mask().astype(np.int64), 5: toy.first_mask(2).astype(np.int64)}
        return PromptedClip(list(toy.frames), prompts,
                            "generated toy video with a late object (Cutie's judo needs the shared data)", [])
    video = folder_video(shared / "cutie_examples" / "images" / "judo")
    mask_dir = shared / "cutie_examples" / "masks" / "judo"
    frames, prompts, notes = [], {}, []
    for index, (stem, image) in enumerate(video.frames()):
        frames.append(resize_frame(image, scale=scale))
        path = mask_dir / f"{stem}.png"
        if path.is_file():
            raw = read_mask(path)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fitted = fit_mask_to(raw, image.shape[:2])
            if caught:
                notes.append(f"{path.name}: {raw.shape[1]}x{raw.shape[0]} -> {fitted.shape[1]}x{fitted.shape[0]}")
            prompts[index] = resize_frame(fitted, scale=scale, nearest=True).astype(np.int64)
    h, w = frames[0].shape[:2]
    return PromptedClip(frames, prompts, f"Cutie example judo, {len(frames)} frames at {w}x{h}", notes)
