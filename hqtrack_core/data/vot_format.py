"""VOT region and trajectory files, byte-compatible with vot-toolkit 0.9.0 (``vot.region.io``).

A trajectory is one region per frame, each either a :class:`Special` code or a :class:`MaskRegion`
(a binary mask stored inside its box: local array + ``(x, y)`` offset in the image).

Text format, one region per line:
    ``<code>``                              special region (0 unknown, 1 initialisation, 2 failure)
    ``m<x0>,<y0>,<w>,<h>,<rle...>``         mask inside the box (x0, y0, w, h); the RLE runs the box row-major and
                                            alternates zeros and ones, starting with zeros (a leading 0 when the
                                            first pixel is set)
Binary format (``.bin``), little-endian: header ``int16 version = 1, uint32 length``, then per region a ``uint8``
type: 0 special ``uint32 code``; 3 mask ``int16 x0, int16 y0, uint16 w, uint16 h, uint16 n, n x uint16 rle``
(runs longer than 255*255 are split as ``255*255, 0, rest``); types 1, 2, 4 (rectangle, polygon, point) are
read by the toolkit but never appear in VOTS mask trajectories: we reject them with a clear error.

Toolkit conventions reproduced here (they change scores, see ``hqtrack_core.evaluation.vots``):
- Reading a *text* mask crops it to its tight box ("optimize" in the toolkit); a mask whose tight box has its right
  edge at local column 0 -- i.e. a mask one pixel wide -- becomes the empty 0x0 mask at (0, 0).
- Reading a *binary* mask keeps its box and offset as stored (no cropping).
- :meth:`MaskRegion.is_empty` is the toolkit's: empty when the box of set pixels, in local coordinates, ends at
  column 0 or row 0 -- so masks one pixel wide or tall count as empty for the frame classes (N, H, M).
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import write_bytes_atomic

__all__ = [
    "UNKNOWN", "INITIALIZATION", "FAILURE", "Special", "MaskRegion", "Region",
    "rle_encode", "rle_decode", "parse_region", "format_region",
    "read_trajectory", "write_trajectory", "encode_trajectory_text", "encode_trajectory_binary",
    "decode_trajectory_text", "decode_trajectory_binary",
]

UNKNOWN = 0  # special code: no annotation / no result for this frame
INITIALIZATION = 1  # special code: the tracker was initialised on this frame (frame 0 of VOTS results)
FAILURE = 2  # special code: tracking failure (supervised experiments; excluded from the overlaps)

_BINARY_MAXSTRIDE = 255 * 255  # vot.region.io.write_trajectory_binary
_TEXT_MAXSTRIDE = 100_000_000  # vot.region.io.mask_to_rle default


@dataclass(frozen=True)
class Special:
    """A special region: a code instead of a shape. Always empty."""

    code: int

    def is_empty(self) -> bool:
        return True


@dataclass(frozen=True, eq=False)
class MaskRegion:
    """A binary mask inside a box: ``mask (h, w) uint8`` in {0, 1}, ``offset = (x0, y0)`` of its top-left pixel."""

    mask: np.ndarray
    offset: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        mask = np.asarray(self.mask)
        if mask.ndim != 2:
            raise ValueError(f"MaskRegion: mask must be 2-D, got shape {mask.shape}")
        object.__setattr__(self, "mask", (mask > 0).astype(np.uint8))
        object.__setattr__(self, "offset", (int(self.offset[0]), int(self.offset[1])))

    @classmethod
    def from_image_mask(cls, mask: np.ndarray) -> "MaskRegion":
        """From a full-image binary mask ``(H, W)``: crop to the tight box of set pixels (toolkit ``encode_mask``);
        an empty mask gives the 0x0 mask at (0, 0)."""
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise ValueError(f"from_image_mask: mask must be 2-D (H, W), got shape {mask.shape}")
        box = _local_bounds(mask)
        if box is None:
            return cls(np.zeros((0, 0), np.uint8), (0, 0))
        left, top, right, bottom = box
        return cls(mask[top : bottom + 1, left : right + 1], (left, top))

    def to_image_mask(self, size: tuple[int, int]) -> np.ndarray:
        """Paste into a ``(H, W)`` bool image (``size = (H, W)``); pixels outside the image are dropped."""
        height, width = size
        out = np.zeros((height, width), dtype=bool)
        x0, y0 = self.offset
        h, w = self.mask.shape
        xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, width), min(y0 + h, height)
        if xb > xa and yb > ya:
            out[ya:yb, xa:xb] = self.mask[ya - y0 : yb - y0, xa - x0 : xb - x0] > 0
        return out

    def is_empty(self) -> bool:
        """The toolkit's ``Mask.is_empty``: true when the local box of set pixels ends at column 0 or row 0 (no
        pixel set, or a tight mask one pixel wide or tall)."""
        box = _local_bounds(self.mask)
        left, top, right, bottom = box if box is not None else (0, 0, 0, 0)
        return right == 0 or bottom == 0

    def __repr__(self) -> str:
        return f"MaskRegion(shape={self.mask.shape}, offset={self.offset}, pixels={int(self.mask.sum())})"


Region = Special | MaskRegion


def _local_bounds(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(left, top, right, bottom)`` of the set pixels (inclusive), or None when none is set."""
    rows = np.flatnonzero(mask.any(axis=1)) if mask.size else np.empty(0, int)
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


# ----------------------------------------------------------------------------------------------- run-length code
def rle_encode(mask: np.ndarray, maxstride: int = _TEXT_MAXSTRIDE) -> list[int]:
    """Row-major run lengths of a binary mask, zeros first (``[0, ...]`` when the first pixel is set); runs longer
    than ``maxstride`` are split as ``maxstride, 0, rest``. An empty (0-pixel) mask encodes as ``[0]``."""
    flat = (np.asarray(mask).reshape(-1) > 0).astype(np.int8)
    if flat.size == 0:
        return [0]
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(edges).tolist()
    out: list[int] = [0] if flat[0] else []
    for length in runs:
        while length > maxstride:
            out.extend((maxstride, 0))
            length -= maxstride
        if length > 0:
            out.append(length)
    return out


def rle_decode(rle: Sequence[int], width: int, height: int) -> np.ndarray:
    """Inverse of :func:`rle_encode`: a ``(height, width) uint8`` mask. Runs may cover fewer pixels than the box
    (the rest stays 0), never more."""
    if width < 0 or height < 0:
        raise ValueError(f"mask box size must be non-negative, got {width}x{height}")
    runs = np.asarray(rle, dtype=np.int64)
    if runs.size and runs.min() < 0:
        raise ValueError("mask RLE has a negative run length")
    total = int(runs.sum()) if runs.size else 0
    if total > width * height:
        raise ValueError(f"mask RLE covers {total} pixels, more than its {width}x{height} box")
    values = np.repeat((np.arange(runs.size) % 2).astype(np.uint8), runs)
    flat = np.zeros(width * height, dtype=np.uint8)
    flat[: values.size] = values
    return flat.reshape(height, width)


# ------------------------------------------------------------------------------------------------------- text
def parse_region(line: str, separator: str = ",") -> Region:
    """Parse one text line (``m...`` mask or a special code). Text masks are cropped to their tight box (see the
    module docstring: a one-pixel-wide mask reads as empty, as in the toolkit)."""
    text = line.strip()
    if not text:
        raise ValueError("empty region line")
    if text[0] == "m":
        try:
            values = [int(v) for v in text[1:].split(separator)]
        except ValueError as err:
            raise ValueError(f"malformed mask region {text[:40]!r}: {err}") from err
        if len(values) < 4:
            raise ValueError(f"malformed mask region {text[:40]!r}: needs x0,y0,w,h and RLE")
        x0, y0, w, h = values[:4]
        local = rle_decode(values[4:], w, h)
        return _optimize(local, (x0, y0))
    try:
        tokens = [float(t) for t in text.split(separator)]
    except ValueError as err:
        raise ValueError(f"malformed region line {text[:40]!r}") from err
    if len(tokens) == 1:
        return Special(int(tokens[0]))
    if any(math.isnan(t) for t in tokens) and len(tokens) in (2, 4) or (len(tokens) > 4 and len(tokens) % 2 == 0 and any(math.isnan(t) for t in tokens)):
        return Special(0)  # the toolkit reads NaN shapes as "unknown"
    raise ValueError(f"region {text[:40]!r} is a point/rectangle/polygon: only masks and special codes are supported")


def _optimize(local: np.ndarray, offset: tuple[int, int]) -> MaskRegion:
    """The toolkit's ``Mask._optimize`` (applied when reading text): crop to the tight box; a box whose right edge
    is local column 0 (empty, or one pixel wide) becomes the 0x0 mask at (0, 0)."""
    box = _local_bounds(local)
    left, top, right, bottom = box if box is not None else (0, 0, 0, 0)
    if right == 0:
        return MaskRegion(np.zeros((0, 0), np.uint8), (0, 0))
    return MaskRegion(local[top : bottom + 1, left : right + 1], (offset[0] + left, offset[1] + top))


def format_region(region: Region) -> str:
    """One text line (no newline), as the toolkit's ``str(region)``."""
    if isinstance(region, Special):
        return str(int(region.code))
    if isinstance(region, MaskRegion):
        h, w = region.mask.shape
        rle = ",".join(str(v) for v in rle_encode(region.mask))
        return f"m{region.offset[0]},{region.offset[1]},{w},{h},{rle}"
    raise TypeError(f"cannot format region of type {type(region).__name__}")


def encode_trajectory_text(regions: Iterable[Region]) -> str:
    return "".join(format_region(r) + "\n" for r in regions)


def decode_trajectory_text(text: str) -> list[Region]:
    """Parse a text trajectory; every line is one frame (a blank line is an error, as in the toolkit)."""
    lines = text.splitlines()
    regions = []
    for number, line in enumerate(lines, 1):
        try:
            regions.append(parse_region(line))
        except ValueError as err:
            raise ValueError(f"line {number}: {err}") from None
    return regions


# ----------------------------------------------------------------------------------------------------- binary
def encode_trajectory_binary(regions: Sequence[Region]) -> bytes:
    regions = list(regions)
    chunks = [struct.pack("<hI", 1, len(regions))]
    for region in regions:
        if isinstance(region, Special):
            chunks.append(struct.pack("<BI", 0, int(region.code)))
        elif isinstance(region, MaskRegion):
            rle = rle_encode(region.mask, maxstride=_BINARY_MAXSTRIDE)
            h, w = region.mask.shape
            x0, y0 = region.offset
            if not (-32768 <= x0 <= 32767 and -32768 <= y0 <= 32767) or w > 65535 or h > 65535 or len(rle) > 65535:
                raise ValueError(f"mask (offset {region.offset}, {w}x{h}, {len(rle)} runs) exceeds the .bin format limits")
            chunks.append(struct.pack(f"<BhhHHH{len(rle)}H", 3, x0, y0, w, h, len(rle), *rle))
        else:
            raise TypeError(f"cannot encode region of type {type(region).__name__}")
    return b"".join(chunks)


def decode_trajectory_binary(data: bytes) -> list[Region]:
    """Parse a ``.bin`` trajectory. Masks keep their stored box (no cropping), as in the toolkit."""
    offset = 0

    def take(fmt: str) -> tuple:
        nonlocal offset
        size = struct.calcsize(fmt)
        if offset + size > len(data):
            raise ValueError(f"truncated .bin trajectory (needs {offset + size} bytes, has {len(data)})")
        values = struct.unpack_from(fmt, data, offset)
        offset += size
        return values

    version, length = take("<hI")
    if version != 1:
        raise ValueError(f"not a VOT .bin trajectory (version field {version}, expected 1)")
    regions: list[Region] = []
    for _ in range(length):
        (kind,) = take("<B")
        if kind == 0:
            regions.append(Special(take("<I")[0]))
        elif kind == 3:
            x0, y0, w, h, n = take("<hhHHH")
            rle = take(f"<{n}H")
            regions.append(MaskRegion(rle_decode(rle, w, h), (x0, y0)))
        elif kind in (1, 2, 4):
            raise ValueError(f"region type {kind} (rectangle/polygon/point) in .bin: only masks and special codes are supported")
        else:
            raise ValueError(f"unknown region type {kind} in .bin trajectory")
    return regions


# ------------------------------------------------------------------------------------------------------ files
def _is_binary(path: Path) -> bool:
    if path.suffix == ".bin":
        return True
    if path.suffix == ".txt":
        return False
    with open(path, "rb") as handle:  # the toolkit sniffs: binary files start with int16 version 1
        head = handle.read(2)
    return len(head) == 2 and struct.unpack("<h", head)[0] == 1


def read_trajectory(path: str | os.PathLike) -> list[Region]:
    """Read a ``.bin`` or text trajectory (``.txt``; other suffixes are sniffed as the toolkit does)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trajectory file not found: {path}")
    try:
        if _is_binary(path):
            return decode_trajectory_binary(path.read_bytes())
        return decode_trajectory_text(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def write_trajectory(path: str | os.PathLike, regions: Sequence[Region]) -> Path:
    """Write a trajectory atomically: binary when the name ends in ``.bin``, text otherwise."""
    path = Path(path)
    data = encode_trajectory_binary(regions) if path.suffix == ".bin" else encode_trajectory_text(regions).encode("utf-8")
    return write_bytes_atomic(path, data)
