"""Video frames: a folder of images (jpg/jpeg/png, in natural order: ``2.jpg`` before ``10.jpg``) or a video
file (OpenCV), read as RGB, one frame at a time (a 2-hour video is streamed, never held in memory).

``open_frames(path)`` gives a :class:`FrameSource`: iterate it for ``(stem, image)`` pairs, ``len()`` it, ask
its ``size``. Images are ``(H, W, 3) uint8`` RGB arrays (OpenCV's BGR is converted). A folder holding two
frames of one name (``00002.jpg`` and ``00002.png``) is refused: their masks would share one file. A video
that ends before the frame count its container announces (a truncated download) gives a warning saying how
many frames were decoded.
``resize_frame`` resizes a frame or a label map by a factor or to a short edge (one rule for every notebook
and the demo clip).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

__all__ = ["FRAME_SUFFIXES", "VIDEO_SUFFIXES", "natural_key", "list_frames", "read_frame", "FrameSource",
           "open_frames", "resize_frame", "resize_to", "RESIZE_MODES"]

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


def natural_key(name: str) -> tuple:
    """Sort key putting ``frame2`` before ``frame10`` (digit runs compare as numbers)."""
    return tuple((0, int(part), part) if part.isdigit() else (1, 0, part.lower())
                 for part in re.split(r"(\d+)", name) if part)


def list_frames(folder: str | os.PathLike) -> list[Path]:
    """Image files (``.jpg``, ``.jpeg``, ``.png``, any case) in ``folder``, in natural order of their names.

    Raises FileNotFoundError when the folder is missing or holds no frames, ValueError when two frames share
    a stem (their masks would overwrite each other).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"frame folder not found: {folder}")
    frames = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES),
                    key=lambda p: natural_key(p.name))
    if not frames:
        raise FileNotFoundError(f"no frames ({', '.join(FRAME_SUFFIXES)}) in {folder}")
    seen: dict[str, Path] = {}
    for frame in frames:
        if frame.stem in seen:
            raise ValueError(f"{seen[frame.stem].name} and {frame.name} in {folder} are two frames named "
                             f"{frame.stem!r} (their masks would overwrite each other): keep one of them")
        seen[frame.stem] = frame
    return frames


def read_frame(path: str | os.PathLike) -> np.ndarray:
    """Read one image as ``(H, W, 3) uint8`` RGB. FileNotFoundError if missing, ValueError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"frame not found: {path}")
    data = np.fromfile(str(path), dtype=np.uint8)  # fromfile + imdecode also handles non-ASCII paths
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f"cannot decode image {path} (corrupt or not an image)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@dataclass
class FrameSource:
    """Frames of one video: a folder of images or a video file.

    Iterating yields ``(stem, image)``: the file stem for folders, ``00000``, ``00001``, ... for video files.
    ``size`` is ``(H, W)`` of the first frame.
    """

    path: Path
    frames: list[Path] | None = None  # folder of images; None for a video file
    _count: int = field(default=0, repr=False)
    _size: tuple[int, int] = field(default=(0, 0), repr=False)

    @property
    def is_video(self) -> bool:
        return self.frames is None

    @property
    def size(self) -> tuple[int, int]:
        """``(H, W)`` of the frames."""
        return self._size

    def __len__(self) -> int:
        return self._count

    @property
    def stems(self) -> list[str]:
        if self.frames is not None:
            return [p.stem for p in self.frames]
        return [f"{i:05d}" for i in range(self._count)]

    def __iter__(self) -> Iterator[tuple[str, np.ndarray]]:
        if self.frames is not None:
            for frame in self.frames:
                image = read_frame(frame)
                if image.shape[:2] != self._size:
                    raise ValueError(
                        f"frame {frame} is {image.shape[1]}x{image.shape[0]} (WxH), the first frame is "
                        f"{self._size[1]}x{self._size[0]}: all frames of a video must have one size"
                    )
                yield frame.stem, image
            return
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise ValueError(f"cannot open video {self.path}")
        try:
            index = 0
            while True:
                ok, image = capture.read()
                if not ok:
                    break
                yield f"{index:05d}", cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
                index += 1
        finally:
            capture.release()
        if index < self._count:
            warnings.warn(f"video {self.path.name}: decoded {index} of the {self._count} frames its container "
                          "announces (truncated or damaged file?); only those were tracked", stacklevel=2)


def open_frames(source: str | os.PathLike) -> FrameSource:
    """Open a folder of frames or a video file as a :class:`FrameSource`.

    For a video ``len()`` is the frame count the container announces (nothing is decoded beyond the first
    frame, so a 2-hour video starts at once); when the container gives none, the video is decoded once to
    count. Iterating warns when fewer frames decode than announced.
    """
    path = Path(source)
    if path.is_dir():
        frames = list_frames(path)
        first = read_frame(frames[0])
        return FrameSource(path=path, frames=frames, _count=len(frames), _size=tuple(first.shape[:2]))
    if not path.exists():
        raise FileNotFoundError(f"no such frame folder or video file: {path}")
    if path.suffix.lower() in FRAME_SUFFIXES:
        raise ValueError(f"{path} is a single image; pass the folder of frames")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ValueError(f"cannot open video {path} (unsupported format or corrupt file)")
        announced = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ok, image = capture.read()
        if not ok:
            raise ValueError(f"video {path} has no decodable frames (truncated or corrupt file?)")
        size, count = tuple(image.shape[:2]), max(announced, 1)
        if announced <= 0:  # no count in the container: decode once to count
            while capture.grab():
                count += 1
    finally:
        capture.release()
    return FrameSource(path=path, frames=None, _count=count, _size=size)


# OpenCV interpolation of each resize mode: ``area`` anti-aliased downscaling (frames shown or stored smaller),
# ``cubic`` the official test-time and training resize of network inputs, ``linear`` smooth upsampling of soft
# maps, ``nearest`` label maps (ids never blend).
RESIZE_MODES: dict[str, int] = {"area": cv2.INTER_AREA, "cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR,
                                "nearest": cv2.INTER_NEAREST}


def resize_to(image: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    """``image`` ``(H, W[, C])`` resized to ``size = (h, w)`` with :data:`RESIZE_MODES` ``mode`` (OpenCV); the
    one resize of numpy frames and label maps in the package."""
    try:
        interpolation = RESIZE_MODES[mode]
    except KeyError:
        raise ValueError(f"resize mode must be one of {sorted(RESIZE_MODES)}, got {mode!r}") from None
    return cv2.resize(image, (int(size[1]), int(size[0])), interpolation=interpolation)


def resize_frame(image: np.ndarray, scale: float | None = None, short_edge: int | None = None,
                 nearest: bool = False) -> np.ndarray:
    """Resize a frame ``(H, W, 3)`` or a label map ``(H, W)`` by ``scale`` or to a ``short_edge`` (give one).

    Frames use ``INTER_AREA`` (anti-aliased downscaling); ``nearest=True`` (label maps: ids are never blended)
    uses ``INTER_NEAREST``. Output sides are ``round(side * factor)``, at least 1; factor 1 returns the input.
    """
    if (scale is None) == (short_edge is None):
        raise ValueError("resize_frame: give exactly one of scale= or short_edge=")
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"resize_frame: expected (H, W) or (H, W, 3), got shape {image.shape}")
    h, w = image.shape[:2]
    if short_edge is not None:
        if short_edge < 1:
            raise ValueError(f"resize_frame: short_edge must be >= 1, got {short_edge}")
        scale = short_edge / min(h, w)
    if not scale > 0:
        raise ValueError(f"resize_frame: scale must be > 0, got {scale}")
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return image
    return resize_to(image, (size[1], size[0]), "nearest" if nearest else "area")
