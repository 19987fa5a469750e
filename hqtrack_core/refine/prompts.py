"""Prompt -> first mask: a box (or points) drawn on the first frame becomes the initial label map.

With HQ-SAM weights the refiner's model segments the box (``SamRefiner.segment_boxes``); without weights the
classical refiner does (GrabCut, rectangle initialisation). This is what ``hqtrack track --box x0,y0,x1,y1``
uses instead of ``--mask``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .base import Refiner, check_image
from .classical import GrabCutRefiner
from .sam import SamRefiner

Box = Sequence[float]


def labels_from_boxes(
    image: np.ndarray,
    boxes: Sequence[Box] | Mapping[int, Box],
    refiner: Refiner | None = None,
    dtype: type = np.uint8,
) -> np.ndarray:
    """Segment each box and merge into an ``(H, W)`` label map.

    Args:
        image: ``(H, W, 3)`` uint8 RGB first frame.
        boxes: ``(x0, y0, x1, y1)`` boxes; a sequence gives ids 1..N, a mapping gives ``{id: box}``.
        refiner: a refiner with ``segment_boxes`` (default: :class:`GrabCutRefiner`, no weights needed).

    Overlapping pixels go to the lowest id (as the refiner's selector does).
    """
    image = check_image(image)
    items = sorted(boxes.items()) if isinstance(boxes, Mapping) else list(enumerate(boxes, start=1))
    if not items:
        raise ValueError("no boxes given")
    ids = [int(i) for i, _ in items]
    if any(i <= 0 for i in ids) or len(set(ids)) != len(ids):
        raise ValueError(f"box ids must be distinct positive integers, got {ids}")
    if max(ids) > np.iinfo(dtype).max:
        raise ValueError(f"id {max(ids)} does not fit in {np.dtype(dtype).name}")
    refiner = refiner if refiner is not None else GrabCutRefiner()
    masks = refiner.segment_boxes(image, np.asarray([b for _, b in items], dtype=np.float64)).masks
    labels = np.zeros(image.shape[:2], dtype=dtype)
    for object_id, mask in sorted(zip(ids, masks), key=lambda t: t[0], reverse=True):
        labels[mask] = object_id
    return labels


def mask_from_box(image: np.ndarray, box: Box, refiner: Refiner | None = None) -> np.ndarray:
    """One box -> first-frame label map ``(H, W)`` uint8 with the object as id 1 (see :func:`labels_from_boxes`);
    ready for ``tracker.step(image, mask)``."""
    return labels_from_boxes(image, [box], refiner)


def mask_from_points(
    image: np.ndarray, points: Sequence[Sequence[float]], point_labels: Sequence[int], refiner: SamRefiner
) -> np.ndarray:
    """Points ``(P, 2)`` (x, y) with labels ``(P,)`` (1 = object, 0 = background) -> ``(H, W)`` bool mask.

    Needs a SAM refiner (point prompts have no classical counterpart here).
    """
    if not isinstance(refiner, SamRefiner):
        raise ValueError("point prompts need an HQ-SAM/SAM refiner (build_refiner('hqsam', checkpoint=...))")
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be (P, 2) (x, y), got shape {points.shape}")
    labels = np.asarray(point_labels).reshape(1, -1)
    if labels.shape[1] != len(points):
        raise ValueError(f"{labels.shape[1]} point labels for {len(points)} points")
    return refiner.segment_points(image, points[None], labels).masks[0]
