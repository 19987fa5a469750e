"""Small, reusable renderings for the notebooks: label overlays, attention heat maps, feature maps.

Every function takes and returns plain numpy arrays (``uint8`` RGB images ``(H, W, 3)``, float maps ``(h, w)``)
so that it works with any plotting library; nothing here draws on a figure.

- :func:`overlay_labels`: colour an object-id map over a frame (DAVIS palette), with object outlines.
- :func:`heatmap_overlay`: a coarse map (an attention row on the 1/16 grid) upsampled and blended over a frame.
- :func:`window_to_grid`: place a short-term ``(2m+1) x (2m+1)`` local attention window into its token grid.
- :func:`feature_rgb`: the first three principal components of a feature map ``(C, h, w)`` as an RGB image.
- :func:`memory_snapshot` / :func:`memory_timeline`: which frames a VMOS memory holds, step by step.
- :func:`png_bytes`: an RGB image encoded as PNG (for ``ipywidgets.Image``: a frame slider needs no
  ``Output`` widget, whose capture can deadlock headless notebook runners, nbclient issue 312).
- :func:`image_slider`: an ipywidgets slider over pre-rendered images (papermill-safe; needs a live kernel to
  move: the kernel-free player is :func:`hqtrack_core.player.frame_player`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import cv2
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from .data.masks import DAVIS_PALETTE

__all__ = ["overlay_labels", "heatmap_overlay", "window_to_grid", "feature_rgb", "memory_snapshot",
           "memory_timeline", "png_bytes", "image_slider"]


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be HxWx3 RGB, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 RGB, got dtype {image.dtype}")
    return image


def overlay_labels(image: np.ndarray, labels: np.ndarray, alpha: float = 0.5, outline: bool = True,
                   palette: np.ndarray = DAVIS_PALETTE) -> np.ndarray:
    """Blend the colour of every object id of ``labels (H, W)`` over ``image (H, W, 3) uint8``.

    Background (id 0) pixels are left untouched; with ``outline`` each object's boundary is drawn in its
    full colour. Returns a new ``(H, W, 3) uint8`` image.
    """
    image = _check_image(image)
    labels = np.asarray(labels)
    if labels.shape != image.shape[:2]:
        raise ValueError(f"labels shape {labels.shape} does not match the image size {image.shape[:2]}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must hold integer object ids, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(palette)):
        raise ValueError(f"object ids must be in 0..{len(palette) - 1}, got {labels.min()}..{labels.max()}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    out = image.astype(np.float32)
    colours = np.asarray(palette, np.float32)[labels]
    fg = labels > 0
    out[fg] = (1 - alpha) * out[fg] + alpha * colours[fg]
    if outline:
        for obj in np.unique(labels[fg]):
            binary = (labels == obj).astype(np.uint8)
            edge = binary - cv2.erode(binary, np.ones((3, 3), np.uint8))
            out[edge > 0] = palette[obj]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def heatmap_overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.6, colormap: int = cv2.COLORMAP_JET,
                    normalize: bool = True) -> np.ndarray:
    """Upsample ``heat (h, w)`` to the image size (nearest, so token cells stay visible), map it through an
    OpenCV colour map and blend it over ``image``. ``normalize`` rescales ``heat`` to [0, 1] (else it must
    already lie in [0, 1]); NaN cells are left uncoloured."""
    image = _check_image(image)
    heat = np.asarray(heat, dtype=np.float32)
    if heat.ndim != 2:
        raise ValueError(f"heat must be a 2-D map, got shape {heat.shape}")
    valid = np.isfinite(heat)
    if normalize and valid.any():
        lo, hi = float(heat[valid].min()), float(heat[valid].max())
        heat = (heat - lo) / (hi - lo) if hi > lo else np.zeros_like(heat)
    elif not normalize and valid.any() and (heat[valid].min() < 0 or heat[valid].max() > 1):
        raise ValueError("heat must lie in [0, 1] when normalize=False")
    size = (image.shape[1], image.shape[0])
    big = cv2.resize(np.where(valid, heat, 0).astype(np.float32), size, interpolation=cv2.INTER_NEAREST)
    mask = cv2.resize(valid.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    colour = cv2.applyColorMap((big * 255).astype(np.uint8), colormap)[..., ::-1].astype(np.float32)
    out = image.astype(np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * colour[mask]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def heatmap_colorbar(ax, heat: np.ndarray, label: str, normalize: bool = True):
    """A colour bar beside ``ax`` for a :func:`heatmap_overlay` of ``heat (h, w)`` drawn with its default colour
    map (JET): it spans the values the overlay's colours stand for, the finite min..max of ``heat`` when
    ``normalize`` (as the overlay rescales), else 0..1. Returns the colour bar."""
    heat = np.asarray(heat, dtype=np.float64)
    valid = heat[np.isfinite(heat)]
    lo, hi = (float(valid.min()), float(valid.max())) if normalize and valid.size else (0.0, 1.0)
    bar = ax.figure.colorbar(ScalarMappable(Normalize(lo, hi if hi > lo else lo + 1e-12), "jet"), ax=ax,
                             fraction=0.046, pad=0.02)
    bar.set_label(label)
    return bar


def window_to_grid(window: np.ndarray, center: tuple[int, int], grid: tuple[int, int],
                   fill: float = np.nan) -> np.ndarray:
    """Place a local-attention window ``(W, W)`` (offset ``(dy, dx)`` at ``[dy + m, dx + m]``) centred on token
    ``center = (y, x)`` into a ``grid = (h, w)`` map; cells outside the window (and window cells falling
    outside the grid) are ``fill``."""
    window = np.asarray(window, dtype=np.float32)
    if window.ndim != 2 or window.shape[0] != window.shape[1] or window.shape[0] % 2 == 0:
        raise ValueError(f"window must be an odd square (W, W), got shape {window.shape}")
    h, w = int(grid[0]), int(grid[1])
    cy, cx = int(center[0]), int(center[1])
    if not (0 <= cy < h and 0 <= cx < w):
        raise ValueError(f"center {center} lies outside the grid {grid}")
    m = window.shape[0] // 2
    out = np.full((h, w), fill, dtype=np.float32)
    y0, y1 = max(cy - m, 0), min(cy + m + 1, h)
    x0, x1 = max(cx - m, 0), min(cx + m + 1, w)
    out[y0:y1, x0:x1] = window[y0 - cy + m:y1 - cy + m, x0 - cx + m:x1 - cx + m]
    return out


def feature_rgb(features: np.ndarray, basis: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Project a feature map ``(C, h, w)`` onto its first three principal components -> ``(h, w, 3)`` float
    in [0, 1] (each component min-max scaled). Give ``basis (C, 3)`` (returned by a previous call) to project
    several maps consistently. Returns ``(rgb, basis)``; signs are fixed so each component's largest
    loading is positive (deterministic output)."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 3:
        raise ValueError(f"features must be (C, h, w), got shape {features.shape}")
    c, h, w = features.shape
    flat = features.reshape(c, -1).T  # (h*w, C)
    flat = flat - flat.mean(axis=0, keepdims=True)
    if basis is None:
        if c < 3:
            raise ValueError(f"need at least 3 channels for an RGB projection, got {c}")
        _, _, vt = np.linalg.svd(flat, full_matrices=False)
        basis = vt[:3].T
        signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(3)])
        basis = basis * np.where(signs == 0, 1, signs)
    basis = np.asarray(basis, dtype=np.float64)
    if basis.shape != (c, 3):
        raise ValueError(f"basis must be ({c}, 3), got {basis.shape}")
    proj = flat @ basis
    lo, hi = proj.min(axis=0), proj.max(axis=0)
    proj = (proj - lo) / np.where(hi > lo, hi - lo, 1.0)
    return proj.reshape(h, w, 3).astype(np.float32), basis


def memory_snapshot(memory) -> dict[str, list[int]]:
    """Frame indices held by a :class:`~hqtrack_core.inference.memory.MemoryState`: ``reference`` (pinned),
    ``long_term`` (newest first) and ``short_term`` (the one frame the local attention reads)."""
    short = memory.short_term
    return {
        "reference": [e.frame_index for e in memory.references],
        "long_term": [e.frame_index for e in memory.long_term],
        "short_term": [] if short is None else [short.frame_index],
    }


def memory_timeline(snapshots: Iterable[dict[str, list[int]]]) -> list[tuple[int, int, str]]:
    """Flatten per-step memory snapshots ``{"reference": [...], "long_term": [...], "short_term": [...]}``
    (frame indices held after each step) into ``(step, frame_index, kind)`` rows for a scatter plot."""
    rows: list[tuple[int, int, str]] = []
    for step, snap in enumerate(snapshots):
        for kind, frames in snap.items():
            rows.extend((step, int(f), kind) for f in frames)
    return rows


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an ``(H, W, 3) uint8`` RGB image as PNG bytes."""
    image = _check_image(image)
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:  # pragma: no cover - OpenCV fails only on invalid input, checked above
        raise ValueError("PNG encoding failed")
    return buffer.tobytes()


def image_slider(images: Sequence[np.ndarray], captions: Sequence[str] | None = None, description: str = "frame",
                 width: int | None = None):
    """An ipywidgets slider over pre-rendered ``(H, W, 3) uint8`` RGB images, with a caption per image.

    It needs a live kernel: the slider's callback runs in Python. A saved notebook opened without one shows the
    widget as text (``VBox(...)``), or, with saved widget state, frame 0 only; nbconvert HTML shows nothing that
    moves. For a player that scrubs without a kernel (untrusted notebooks, nbconvert HTML, offline) use
    :func:`hqtrack_core.player.frame_player`. Use this one where the kernel adds something (e.g. images computed
    on demand next to it). The images are encoded once; it never blocks papermill / nbval
    (``ipywidgets.interact`` can, nbclient issue 312).
    """
    import ipywidgets as widgets

    if len(images) == 0:
        raise ValueError("image_slider needs at least one image")
    if captions is not None and len(captions) != len(images):
        raise ValueError(f"{len(captions)} captions for {len(images)} images")
    encoded = [png_bytes(image) for image in images]
    slider = widgets.IntSlider(value=0, min=0, max=len(images) - 1, step=1, description=description)
    label = widgets.Label(captions[0] if captions is not None else "")
    picture = widgets.Image(value=encoded[0], format="png", width=width or images[0].shape[1])

    def on_change(change) -> None:
        picture.value = encoded[change["new"]]
        if captions is not None:
            label.value = captions[change["new"]]

    slider.observe(on_change, names="value")
    return widgets.VBox([slider, label, picture])
