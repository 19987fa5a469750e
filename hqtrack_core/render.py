"""Renderings of a tracked video for people: overlay videos (``.mp4`` / ``.gif``) and contact sheets.

One overlay everywhere: :func:`hqtrack_core.viz.overlay_labels` (DAVIS palette, outlines). ``hqtrack track
--overlay / --preview`` and the notebooks call these; outputs are written atomically (nothing half-written).

- :class:`OverlayVideoWriter`: frames in, one by one (``add(image, labels)``); ``.mp4`` through OpenCV's
  ``VideoWriter`` (MPEG-4 Part 2, ``mp4v``: plays in VLC / mpv / QuickTime and reopens with OpenCV; browsers
  want H.264, which OpenCV wheels do not ship; odd sides are padded to even by repeating the last row / column),
  ``.gif`` through Pillow (looping).
- :func:`write_overlay_video`: the same for lists.
- :func:`preview_indices` / :func:`contact_sheet` / :func:`write_contact_sheet`: ``n`` evenly spaced frames tiled
  in a grid, each captioned (the PNG of ``--preview``).
- :func:`overlay_panels`: the same frames as a one-row matplotlib figure (notebooks 00, 06, 07).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from .atomic import atomic_path, write_bytes_atomic
from .viz import overlay_labels

__all__ = ["VIDEO_FORMATS", "overlay_frames", "OverlayVideoWriter", "write_overlay_video", "preview_indices",
           "contact_sheet", "write_contact_sheet", "overlay_panels", "check_output_suffix"]

VIDEO_FORMATS = (".mp4", ".gif")


def check_output_suffix(path: str | os.PathLike, allowed: Sequence[str], what: str) -> Path:
    """``path`` as a Path when its suffix is one of ``allowed`` (case-insensitive); else ValueError naming it."""
    path = Path(path)
    if path.suffix.lower() not in allowed:
        raise ValueError(f"{what} {path}: the file name must end in {' or '.join(allowed)}")
    return path


def overlay_frames(images: Iterable[np.ndarray], labels: Iterable[np.ndarray], alpha: float = 0.5
                   ) -> list[np.ndarray]:
    """``overlay_labels`` of each ``(H, W, 3) uint8`` frame with its ``(H, W)`` label map."""
    return [overlay_labels(image, np.asarray(label), alpha=alpha) for image, label in zip(images, labels)]


class OverlayVideoWriter:
    """Write ``(H, W, 3) uint8`` RGB frames (with optional label maps drawn over) to ``path`` (.mp4 or .gif).

    Use as a context manager: the file appears at ``path`` only when the block succeeds with at least one frame.
    """

    def __init__(self, path: str | os.PathLike, fps: float = 10.0, alpha: float = 0.5) -> None:
        self.path = check_output_suffix(path, VIDEO_FORMATS, "overlay video")
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.fps = float(fps)
        self.alpha = alpha
        self.count = 0
        self._size: tuple[int, int] | None = None
        self._writer = None
        self._gif: list = []

    def __enter__(self) -> OverlayVideoWriter:
        self._stack = ExitStack()
        self._tmp = self._stack.enter_context(atomic_path(self.path))
        # the container follows the file name: encode beside the temporary file, with the real suffix
        self._staging = self._tmp.with_name(self._tmp.name + self.path.suffix.lower())
        return self

    def add(self, image: np.ndarray, labels: np.ndarray | None = None) -> None:
        """Append one frame; ``labels (H, W)`` object ids are drawn over it when given."""
        frame = overlay_labels(image, np.asarray(labels), alpha=self.alpha) if labels is not None else image
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got shape {frame.shape} dtype {frame.dtype}")
        size = frame.shape[:2]
        if self._size is None:
            self._size = size
            if self.path.suffix.lower() == ".mp4":
                writer = cv2.VideoWriter(str(self._staging), cv2.VideoWriter_fourcc(*"mp4v"), self.fps,
                                         (size[1] + size[1] % 2, size[0] + size[0] % 2))
                if not writer.isOpened():
                    raise OSError(f"OpenCV cannot write an mp4v video at {self._staging}")
                self._writer = writer
        elif size != self._size:
            raise ValueError(f"frame {self.count} is {size[1]}x{size[0]}, the first was {self._size[1]}x{self._size[0]}")
        if self._writer is not None:
            pad = ((0, size[0] % 2), (0, size[1] % 2), (0, 0))  # MPEG-4 wants even sides: repeat the last row/column
            self._writer.write(np.ascontiguousarray(np.pad(frame, pad, mode="edge")[..., ::-1]))
        else:
            self._gif.append(Image.fromarray(frame).convert("P", palette=Image.Palette.ADAPTIVE, colors=255))
        self.count += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._writer is not None:
                self._writer.release()
            if exc_type is None and self.count == 0:
                exc_type, exc, tb = ValueError, ValueError(f"overlay video {self.path}: no frames were added"), None
            if exc_type is None:
                if self._gif:
                    self._gif[0].save(self._staging, format="GIF", save_all=True, append_images=self._gif[1:],
                                      duration=max(20, round(1000 / self.fps)), loop=0)
                os.replace(self._staging, self._tmp)
        finally:
            if self._staging.exists():
                self._staging.unlink()
            self._stack.__exit__(exc_type, exc, tb)  # success: tmp -> path; error: tmp removed
        if exc is not None and tb is None:
            raise exc


def write_overlay_video(path: str | os.PathLike, images: Iterable[np.ndarray],
                        labels: Iterable[np.ndarray] | None = None, fps: float = 10.0, alpha: float = 0.5) -> Path:
    """Write frames (with their label maps drawn over, when given) as ``.mp4`` / ``.gif``; returns the path."""
    with OverlayVideoWriter(path, fps=fps, alpha=alpha) as writer:
        pairs = zip(images, labels) if labels is not None else ((image, None) for image in images)
        for image, label in pairs:
            writer.add(image, label)
    return writer.path


def preview_indices(total: int, n: int = 8) -> list[int]:
    """``min(n, total)`` frame indices spread evenly over ``0 .. total - 1``, first and last included."""
    if total < 1 or n < 1:
        raise ValueError(f"need total >= 1 and n >= 1, got total={total}, n={n}")
    return sorted(set(np.linspace(0, total - 1, min(n, total)).round().astype(int).tolist()))


def contact_sheet(images: Sequence[np.ndarray], captions: Sequence[str] | None = None, columns: int = 4,
                  width: int | None = None, gap: int = 4) -> np.ndarray:
    """Tile ``(H, W, 3) uint8`` images (e.g. overlays) in a grid of ``columns``, each scaled to ``width`` pixels
    (default: its own width) with its caption drawn in its top-left corner. Returns ``(H', W', 3) uint8``
    (white background)."""
    if len(images) == 0:
        raise ValueError("contact_sheet needs at least one image")
    if captions is not None and len(captions) != len(images):
        raise ValueError(f"{len(captions)} captions for {len(images)} images")
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    first = np.asarray(images[0])
    width = int(width or first.shape[1])
    height = max(1, round(first.shape[0] * width / first.shape[1]))
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    sheet = np.full((rows * height + (rows + 1) * gap, columns * width + (columns + 1) * gap, 3), 255, np.uint8)
    for k, image in enumerate(images):
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image {k} must be (H, W, 3) uint8 RGB, got shape {image.shape} dtype {image.dtype}")
        tile = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA) if image.shape[:2] != (height, width) \
            else image.copy()
        if captions is not None and captions[k]:
            scale = max(0.4, height / 400)
            (tw, th), base = cv2.getTextSize(str(captions[k]), cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            tile[: th + base + 6, : tw + 8] = (tile[: th + base + 6, : tw + 8] * 0.4).astype(np.uint8)
            cv2.putText(tile, str(captions[k]), (4, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                        cv2.LINE_AA)
        r, c = divmod(k, columns)
        y, x = gap + r * (height + gap), gap + c * (width + gap)
        sheet[y:y + height, x:x + width] = tile
    return sheet


def write_contact_sheet(path: str | os.PathLike, images: Sequence[np.ndarray],
                        labels: Sequence[np.ndarray] | None = None, captions: Sequence[str] | None = None,
                        columns: int = 4, width: int | None = None) -> Path:
    """:func:`contact_sheet` of the frames (with their label maps drawn over, when given) written as a PNG,
    atomically."""
    path = check_output_suffix(path, (".png",), "contact sheet")
    tiles = overlay_frames(images, labels) if labels is not None else list(images)
    sheet = contact_sheet(tiles, captions, columns=columns, width=width)
    ok, png = cv2.imencode(".png", np.ascontiguousarray(sheet[..., ::-1]))
    if not ok:  # pragma: no cover - OpenCV fails only on invalid input
        raise ValueError("PNG encoding failed")
    return write_bytes_atomic(path, png.tobytes())


def overlay_panels(images: Sequence[np.ndarray], labels: Sequence[np.ndarray], titles: Sequence[str] | None = None,
                   suptitle: str = "", panel_width: float = 4.0):
    """A matplotlib ``Figure``: one row of frames with their label maps drawn over (``overlay_labels``), each
    titled; ``panel_width`` inches per panel."""
    if len(images) == 0 or len(images) != len(labels):
        raise ValueError(f"overlay_panels needs as many label maps as frames (>= 1), got {len(images)} and "
                         f"{len(labels)}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} frames")
    h, w = np.asarray(images[0]).shape[:2]
    fig, axes = plt.subplots(1, len(images), figsize=(panel_width * len(images), panel_width * h / w + 0.6),
                             squeeze=False)
    for k, (ax, tile) in enumerate(zip(axes[0], overlay_frames(images, labels))):
        ax.imshow(tile)
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(titles[k], fontsize=10)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
