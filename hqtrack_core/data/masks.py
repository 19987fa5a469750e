"""Object-id masks as PNG files: read any of the layouts the field uses, write DAVIS indexed PNGs.

A *label map* is a 2-D integer array ``(H, W)`` whose values are object ids (0 = background).

- DAVIS-2017 / YouTube-VOS / Cutie masks are palette ("P") PNGs: the palette indices are the ids.
- DAVIS-2016 masks are grey PNGs with values {0, 255}: read as {0, 1}.
- Other grey PNGs: the grey values are the ids.
- RGB PNGs (palette masks re-saved by an editor) are matched pixel-by-pixel against the DAVIS palette.

A first-frame prompt (:func:`read_prompt_mask`) is stricter: a JPEG is refused (its compression noise would
become dozens of phantom objects), and 255 beside other ids is the DAVIS / PASCAL-VOC "void" (unlabelled)
value, given to the background rather than tracked as object 255.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import atomic_path

__all__ = ["DAVIS_PALETTE", "VOID_ID", "davis_palette", "read_mask", "read_prompt_mask", "write_mask", "fit_mask_to"]

VOID_ID = 255  # DAVIS / PASCAL-VOC "void": unlabelled pixels (object boundaries, ambiguous regions)


def davis_palette() -> np.ndarray:
    """The DAVIS / PASCAL-VOC colour map: ``(256, 3) uint8``; id 0 black, 1 dark red, 2 dark green, ...

    Colour of id ``i``: bit ``k`` of ``i`` sets bit ``7 - j`` of channel ``k % 3`` for ``k = 3j + c``.
    """
    palette = np.zeros((256, 3), dtype=np.uint8)
    for index in range(256):
        value, colour = index, [0, 0, 0]
        for shift in range(7, -1, -1):
            for channel in range(3):
                colour[channel] |= ((value >> channel) & 1) << shift
            value >>= 3
        palette[index] = colour
    return palette


DAVIS_PALETTE: np.ndarray = davis_palette()
DAVIS_PALETTE.setflags(write=False)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask PNG as a label map ``(H, W) uint8`` of object ids (see the module docstring for layouts).

    Raises FileNotFoundError when the file is missing, ValueError when unreadable or an RGB colour is not
    in the DAVIS palette.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mask file not found: {path}")
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            if mode == "P":
                return np.array(image, dtype=np.uint8)
            if mode in ("1", "L", "LA", "I", "I;16"):
                grey = np.array(image.convert("L") if mode in ("1", "LA") else image)
                if grey.ndim != 2:
                    raise ValueError(f"mask {path}: unexpected shape {grey.shape}")
                values = np.unique(grey)
                if values.size and set(values.tolist()) <= {0, 255} and 255 in values:
                    return (grey == 255).astype(np.uint8)  # DAVIS-2016 binary masks: 255 -> object 1
                if grey.max(initial=0) > 255:
                    raise ValueError(f"mask {path}: grey values up to {int(grey.max())} exceed 255 object ids")
                return grey.astype(np.uint8)
            rgb = np.array(image.convert("RGB"))
    except (OSError, SyntaxError) as err:  # PIL raises these on truncated / non-image files
        raise ValueError(f"cannot read mask {path}: {err}") from err
    return _rgb_to_ids(rgb, path)


def _rgb_to_ids(rgb: np.ndarray, path: Path) -> np.ndarray:
    """Map RGB pixels to DAVIS-palette indices; error on any colour not in the palette."""
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    palette_codes = (DAVIS_PALETTE[:, 0].astype(np.int64) << 16) | (DAVIS_PALETTE[:, 1].astype(np.int64) << 8) | DAVIS_PALETTE[:, 2]
    lookup = {int(code): index for index, code in enumerate(palette_codes)}
    unique, inverse = np.unique(codes, return_inverse=True)
    ids = np.empty(unique.shape, dtype=np.uint8)
    for k, code in enumerate(unique.tolist()):
        if code not in lookup:
            colour = ((code >> 16) & 255, (code >> 8) & 255, code & 255)
            raise ValueError(f"mask {path}: RGB colour {colour} is not in the DAVIS palette; save masks as indexed PNGs")
        ids[k] = lookup[code]
    return ids[inverse.reshape(codes.shape)]


def write_mask(path: str | os.PathLike, labels: np.ndarray, palette: np.ndarray = DAVIS_PALETTE) -> Path:
    """Write a label map as an indexed ("P") PNG, atomically (temporary file in the same folder + os.replace).

    labels: ``(H, W)`` integer ids in [0, 255]. palette: ``(N <= 256, 3) uint8``. Parent folders are created.
    """
    path = Path(path)
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"write_mask: labels must be 2-D (H, W), got shape {labels.shape}")
    if labels.size == 0:
        raise ValueError("write_mask: labels are empty")
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"write_mask: labels must be integer object ids, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() > 255:
        raise ValueError(f"write_mask: object ids must be in [0, 255], got [{labels.min()}, {labels.max()}]")
    palette = np.asarray(palette, dtype=np.uint8)
    if palette.ndim != 2 or palette.shape[1] != 3 or palette.shape[0] > 256:
        raise ValueError(f"write_mask: palette must be (N<=256, 3), got {palette.shape}")
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette(palette.reshape(-1).tolist())
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return path


def fit_mask_to(labels: np.ndarray, size: tuple[int, int], tolerance: int = 1) -> np.ndarray:
    """Pad (with background) or crop a label map to ``size = (H, W)`` when it is at most ``tolerance``
    rows/columns off (a known defect of some released masks, e.g. Cutie's judo ``00005.png`` is 853 wide
    for 854-wide frames); warns when it changes the mask, raises ValueError when it is further off.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"fit_mask_to: labels must be 2-D (H, W), got shape {labels.shape}")
    height, width = int(size[0]), int(size[1])
    if labels.shape == (height, width):
        return labels
    dh, dw = height - labels.shape[0], width - labels.shape[1]
    if abs(dh) > tolerance or abs(dw) > tolerance:
        raise ValueError(
            f"mask size {labels.shape[1]}x{labels.shape[0]} (WxH) does not match frame size {width}x{height}; "
            f"only masks at most {tolerance} pixel(s) off are padded/cropped"
        )
    warnings.warn(
        f"mask size {labels.shape[1]}x{labels.shape[0]} (WxH) differs from frame size {width}x{height}: "
        "padding/cropping at the bottom/right",
        stacklevel=2,
    )
    out = np.zeros((height, width), dtype=labels.dtype)
    h, w = min(height, labels.shape[0]), min(width, labels.shape[1])
    out[:h, :w] = labels[:h, :w]
    return out


def read_prompt_mask(path: str | os.PathLike, size: tuple[int, int]) -> np.ndarray:
    """A first-frame prompt mask, checked: ``(H, W) uint8`` ids fitted to the frame ``size = (H, W)``.

    Refuses (ValueError) a JPEG file, a mask without objects, and a mask that looks lossy (many objects of a
    few pixels each: compression noise or an interpolating resize). ``255`` beside other ids is void and
    becomes background (with a warning); a mask of only 0 / 255 is one object (id 1).
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            lossy = image.format in ("JPEG", "MPO")
    except OSError:  # missing or unreadable: read_mask below says which
        lossy = path.suffix.lower() in (".jpg", ".jpeg")
    if lossy:
        raise ValueError(f"first-frame mask {path} is a JPEG: its compression noise would become dozens of "
                         "phantom objects; save the mask as a PNG (lossless, indexed or grey ids)")
    labels = read_mask(path)
    ids = np.unique(labels)
    if VOID_ID in ids:
        void = labels == VOID_ID
        if set(ids.tolist()) <= {0, VOID_ID}:  # a binary 0/255 mask (any PNG mode): one object
            labels = void.astype(np.uint8)
        else:
            warnings.warn(f"first-frame mask {path.name}: {int(void.sum())} pixels of value {VOID_ID} (DAVIS/VOC "
                          "void) are treated as background, not as an object", stacklevel=2)
            labels = np.where(void, 0, labels).astype(np.uint8)
    labels = fit_mask_to(labels, size)
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    if ids.size == 0:
        raise ValueError(f"first-frame mask {path} has no object (all background): draw at least one object")
    tiny = int((counts < max(16, labels.size // 10_000)).sum())
    if ids.size > 10 and tiny > ids.size // 2:
        raise ValueError(f"first-frame mask {path} has {ids.size} objects, {tiny} of them a few pixels each: it "
                         "looks lossy (saved as JPEG once, or resized with interpolation); re-export it as a "
                         "PNG of object ids resized with nearest-neighbour")
    return labels
