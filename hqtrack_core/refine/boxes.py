"""Box prompts from masks: the tight box of each VMOS mask, as HQTrack's refiner prompts HQ-SAM.

Boxes are ``(x0, y0, x1, y1)`` in pixel coordinates of the image, ``x1``/``y1`` being the last column/row of
the mask (inclusive, as the released tracker computes them). An optional ``margin`` grows each side by that
fraction of the box width/height, clipped to ``[0, W] x [0, H]``.
"""

from __future__ import annotations

import numpy as np

from ..data.boxes import parse_box  # noqa: F401 (its home is the data layer: the CLI parser reads it without torch)


def masks_to_boxes(masks: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Tight boxes of binary masks.

    Args:
        masks: ``(N, H, W)`` boolean (or 0/1) masks, each non-empty.
        margin: fraction of the box width/height added on each side (0 = tight box).

    Returns:
        ``(N, 4)`` float64 boxes ``(x0, y0, x1, y1)``.
    """
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"masks must be (N, H, W), got shape {masks.shape}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    n, height, width = masks.shape
    boxes = np.zeros((n, 4), dtype=np.float64)
    for index, mask in enumerate(masks.astype(bool)):
        cols = np.flatnonzero(mask.any(axis=0))
        rows = np.flatnonzero(mask.any(axis=1))
        if cols.size == 0:
            raise ValueError(f"mask {index} is empty: it has no box")
        x0, x1, y0, y1 = cols[0], cols[-1], rows[0], rows[-1]
        w, h = x1 - x0, y1 - y0
        boxes[index] = (
            max(x0 - w * margin, 0.0),
            max(y0 - h * margin, 0.0),
            min(x1 + w * margin, float(width)),
            min(y1 + h * margin, float(height)),
        )
    return boxes

