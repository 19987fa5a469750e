"""Dataset readers: one :class:`Video` per sequence, whatever the layout on disk.

Layouts:

- DAVIS 2016 / 2017 (:func:`davis_videos`): ``JPEGImages/<res>/<seq>/*.jpg`` and ``Annotations/<res>/<seq>/*.png``
  (2016: binary 0/255 masks, read as object 1; 2017: indexed palette PNGs); optional ``ImageSets/<split>.txt``
  or ``ImageSets/<year>/<split>.txt`` lists.
- YouTube-VOS (:func:`youtube_vos_videos`): ``<split>/JPEGImages/<vid>/*.jpg``, ``<split>/Annotations/<vid>/*.png``
  with sparse annotations (a mask where an object first appears).
- VOTS (:func:`vots_video`): ``sequence``, ``color/%08d.jpg``, ``groundtruth_<obj>.txt`` (objects become ids 1..N
  in sorted order of their names).
- A plain folder of frames with a folder of indexed PNGs named like the frames (:func:`folder_video`), or a video
  file read with OpenCV, frames named ``00000``, ``00001``, ... (:func:`video_file`).

Masks are label maps ``(H, W) uint8``; a mask one pixel off the frame size is padded/cropped with a warning
(:func:`~hqtrack_core.data.masks.fit_mask_to`), further off is an error naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hqtrack_core.data.frames import FrameSource, open_frames
from hqtrack_core.data.masks import fit_mask_to, read_mask, write_mask
from hqtrack_core.data.splits import DERIVED_SPLITS
from hqtrack_core.data.vot_format import MaskRegion
from hqtrack_core.data.vots import read_vots_sequence

__all__ = ["Video", "davis_videos", "davis_video", "youtube_vos_videos", "vots_video", "folder_video", "video_file", "write_davis_masks"]


@dataclass
class Video:
    """One video: its frames and its (possibly sparse) annotations.

    ``masks`` maps a frame stem to an annotation PNG path; ``labels`` holds in-memory label maps (VOTS ground
    truth). Iterate :meth:`frames` for ``(stem, image)``; :meth:`mask` gives the label map of a frame or None.
    """

    name: str
    source: FrameSource
    masks: dict[str, Path] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.source)

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` of the frames."""
        return self.source.size

    @property
    def stems(self) -> list[str]:
        return self.source.stems

    @property
    def annotated(self) -> list[str]:
        """Stems of the annotated frames, in frame order."""
        keys = set(self.masks) | set(self.labels)
        return [s for s in self.stems if s in keys]

    def frames(self) -> Iterator[tuple[str, np.ndarray]]:
        return iter(self.source)

    def mask(self, stem: str) -> np.ndarray | None:
        """Label map ``(H, W) uint8`` of frame ``stem``, or None when it has no annotation."""
        if stem in self.labels:
            return self.labels[stem]
        path = self.masks.get(stem)
        if path is None:
            return None
        labels = read_mask(path)
        try:
            return fit_mask_to(labels, self.size)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None

    def object_ids(self) -> list[int]:
        """All object ids over the annotated frames."""
        ids: set[int] = set()
        for stem in self.annotated:
            ids.update(int(v) for v in np.unique(self.mask(stem)) if v != 0)
        return sorted(ids)


def _match_masks(name: str, source: FrameSource, mask_dir: Path | None, dense: bool = False) -> dict[str, Path]:
    if mask_dir is None:
        return {}
    if not mask_dir.is_dir():
        raise FileNotFoundError(f"video {name!r}: annotation folder not found: {mask_dir}")
    masks = {p.stem: p for p in sorted(mask_dir.iterdir()) if p.suffix.lower() == ".png"}
    stems = set(source.stems)
    orphans = sorted(set(masks) - stems)
    if orphans:
        raise FileNotFoundError(f"video {name!r}: annotation {masks[orphans[0]]} has no frame "
                                f"(frames are {source.path}/{source.stems[0]}..., {len(stems)} of them)")
    if dense:
        missing = [s for s in source.stems if s not in masks]
        if missing:
            raise FileNotFoundError(f"video {name!r}: frame {missing[0]} has no annotation in {mask_dir} "
                                    f"({len(missing)} missing)")
    return masks


def _split_names(root: Path, split: str | None, year: int | None) -> list[str] | None:
    if split is None:
        return None
    candidates = [root / "ImageSets" / f"{split}.txt"]
    if year is not None:
        candidates.insert(0, root / "ImageSets" / str(year) / f"{split}.txt")
    for path in candidates:
        if path.is_file():
            return path.read_text().split()
    if split in DERIVED_SPLITS:
        derived = DERIVED_SPLITS[split]
        return derived.select(_split_names(root, derived.base, year))
    raise FileNotFoundError(f"split {split!r}: none of {[str(c) for c in candidates]} exists "
                            f"(derived splits: {sorted(DERIVED_SPLITS)})")


def davis_videos(root: str | os.PathLike, resolution: str = "480p", split: str | None = None,
                 year: int | None = None, annotations: bool = True) -> list[Video]:
    """DAVIS videos under ``root`` (2016 or 2017 layout), optionally restricted to ``ImageSets`` split ``split``.
    Every frame must have an annotation (DAVIS is densely annotated)."""
    root = Path(root)
    images = root / "JPEGImages" / resolution
    if not images.is_dir():
        raise FileNotFoundError(f"not a DAVIS folder: {images} is missing")
    names = _split_names(root, split, year) or sorted(p.name for p in images.iterdir() if p.is_dir())
    return [davis_video(root, name, resolution, annotations) for name in names]


def davis_video(root: str | os.PathLike, name: str, resolution: str = "480p", annotations: bool = True) -> Video:
    """One DAVIS sequence ``root/JPEGImages/<resolution>/<name>`` (dense annotations checked)."""
    root = Path(root)
    source = open_frames(root / "JPEGImages" / resolution / name)
    mask_dir = root / "Annotations" / resolution / name if annotations else None
    return Video(name, source, _match_masks(name, source, mask_dir, dense=True))


def youtube_vos_videos(root: str | os.PathLike, split: str = "valid") -> list[Video]:
    """YouTube-VOS videos of ``root/<split>`` (sparse annotations: objects may start after frame 0)."""
    base = Path(root) / split
    images = base / "JPEGImages"
    if not images.is_dir():
        raise FileNotFoundError(f"not a YouTube-VOS folder: {images} is missing")
    videos = []
    for folder in sorted(p for p in images.iterdir() if p.is_dir()):
        source = open_frames(folder)
        videos.append(Video(folder.name, source, _match_masks(folder.name, source, base / "Annotations" / folder.name)))
    return videos


def folder_video(frames: str | os.PathLike, masks: str | os.PathLike | None = None, name: str | None = None) -> Video:
    """A folder of frames with an optional folder of indexed PNGs named like the frames (sparse allowed)."""
    source = open_frames(frames)
    if source.is_video:
        raise ValueError(f"{frames} is a video file; use video_file()")
    return Video(name or Path(frames).name, source, _match_masks(name or Path(frames).name, source,
                                                                 Path(masks) if masks is not None else None))


def video_file(path: str | os.PathLike, masks: str | os.PathLike | None = None) -> Video:
    """A video file (OpenCV); annotations in ``masks`` are named ``00000.png``, ``00001.png``, ..."""
    source = open_frames(path)
    if not source.is_video:
        raise ValueError(f"{path} is a folder of frames; use folder_video()")
    name = Path(path).stem
    return Video(name, source, _match_masks(name, source, Path(masks) if masks is not None else None))


def vots_video(sequence: str | os.PathLike) -> tuple[Video, dict[int, str]]:
    """A VOTS sequence as a :class:`Video` with one label map per frame (objects -> ids 1..N in sorted name
    order; overlapping ground truths: the higher id wins). Returns the video and ``{id: object name}``."""
    seq = read_vots_sequence(sequence)
    source = open_frames(seq.frames[0].parent)
    if len(source) < len(seq):
        raise FileNotFoundError(f"sequence {seq.name}: {len(seq)} frames expected, {len(source)} found")
    ids = {i + 1: obj for i, obj in enumerate(sorted(o for o in seq.objects if o != seq.IGNORE))}
    labels = {}
    for t, stem in enumerate(source.stems[: len(seq)]):
        label = np.zeros((seq.height, seq.width), np.uint8)
        for i, obj in ids.items():
            region = seq.objects[obj][t]
            if isinstance(region, MaskRegion):
                label[region.to_image_mask((seq.height, seq.width))] = i
        labels[stem] = label
    return Video(seq.name, source, labels=labels), ids


def write_davis_masks(folder: str | os.PathLike, masks: dict[str, np.ndarray] | list[np.ndarray]) -> list[Path]:
    """Write label maps as DAVIS indexed PNGs ``folder/<stem>.png`` (a list is named ``00000``, ``00001``...)."""
    items = masks.items() if isinstance(masks, dict) else ((f"{i:05d}", m) for i, m in enumerate(masks))
    return [write_mask(Path(folder) / f"{stem}.png", labels) for stem, labels in items]
