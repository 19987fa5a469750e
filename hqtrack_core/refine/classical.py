"""A refiner that needs no downloaded weights: OpenCV GrabCut seeded by the VMOS mask.

For each object a trimap is built around its VMOS mask, with a band of half-width ``r`` pixels,
``r = clip(band * sqrt(area), min_band, max_band)`` (VOS boundary errors are a few pixels wide; a wide band
on a thin object hands GrabCut most of it):

- sure foreground: the mask eroded by ``r``;
- probable foreground: the rest of the mask;
- probable background: the mask dilated by ``r``, minus the mask;
- sure background: everything further away.

GrabCut (colour GMMs + graph cut) then relabels the two uncertain bands. When the sure-foreground core is less than
``min_core`` of the mask (thin objects: bicycles, limbs), GrabCut has no reliable colour model of the object and the
mask is returned unchanged. The band and ``min_core`` defaults were chosen on the DAVIS-2016 dev frames
(``python -m hqtrack_core.refine.measure``); they are not tuned on any test set. It runs on a crop around the object,
so the cost scales with object size, not frame size. Box prompts use GrabCut's rectangle initialisation.
The result goes through the same IoU selector as HQ-SAM.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .base import Proposals, Refiner, check_boxes, check_image
from .selector import DEFAULT_THRESHOLD, OverlapRule


def disk_kernel(radius: int) -> np.ndarray:
    """Elliptic ``(2r+1, 2r+1)`` structuring element for OpenCV morphology."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def grabcut_mask(
    image: np.ndarray,
    mask: np.ndarray,
    band: float = 0.05,
    min_band: int = 3,
    max_band: int = 8,
    iterations: int = 3,
    min_core: float = 0.5,
) -> np.ndarray:
    """GrabCut refinement of one binary mask (see module docstring). Returns an ``(H, W)`` bool mask."""
    mask = np.asarray(mask, dtype=bool)
    area = int(mask.sum())
    if area == 0:
        return mask.copy()
    radius = int(min(max(round(band * math.sqrt(area)), min_band), max_band))
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    pad = 2 * radius + 2
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, height)
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, width)
    crop_mask = mask[y0:y1, x0:x1].astype(np.uint8)
    kernel = disk_kernel(radius)
    eroded = cv2.erode(crop_mask, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
    dilated = cv2.dilate(crop_mask, kernel).astype(bool)
    if eroded.sum() < min_core * area:
        return mask.copy()  # thin object: too little sure foreground to learn its colours from
    trimap = np.full(crop_mask.shape, cv2.GC_BGD, dtype=np.uint8)
    trimap[dilated] = cv2.GC_PR_BGD
    trimap[crop_mask.astype(bool)] = cv2.GC_PR_FGD
    trimap[eroded] = cv2.GC_FGD
    has_bg = np.any((trimap == cv2.GC_BGD) | (trimap == cv2.GC_PR_BGD))
    if not has_bg:
        return mask.copy()  # the object fills its surroundings: nothing to learn a background from
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(crop, trimap, None, bgd, fgd, int(iterations), cv2.GC_INIT_WITH_MASK)
    out = np.zeros_like(mask)
    out[y0:y1, x0:x1] = (trimap == cv2.GC_FGD) | (trimap == cv2.GC_PR_FGD)
    return out


def grabcut_box(image: np.ndarray, box: np.ndarray, iterations: int = 5, context: float = 0.25) -> np.ndarray:
    """GrabCut from a rectangle ``(x0, y0, x1, y1)`` (GrabCut's own initialisation). ``(H, W)`` bool.

    The background model is learnt from a ring of ``context`` x the box size around it (at least 10 px),
    not the whole frame: faster, and the nearby background is the one that matters.
    """
    height, width = image.shape[:2]
    x0, y0 = int(math.floor(max(box[0], 0))), int(math.floor(max(box[1], 0)))
    x1, y1 = int(math.ceil(min(box[2], width - 1))), int(math.ceil(min(box[3], height - 1)))
    out = np.zeros((height, width), dtype=bool)
    w, h = x1 - x0 + 1, y1 - y0 + 1
    if w < 3 or h < 3:
        out[y0 : y1 + 1, x0 : x1 + 1] = True
        return out
    pad_x, pad_y = max(10, int(context * w)), max(10, int(context * h))
    cx0, cy0 = max(x0 - pad_x, 0), max(y0 - pad_y, 0)
    cx1, cy1 = min(x1 + pad_x + 1, width), min(y1 + pad_y + 1, height)
    crop = np.ascontiguousarray(image[cy0:cy1, cx0:cx1])
    rx, ry = x0 - cx0, y0 - cy0
    if rx == 0 and ry == 0 and w >= crop.shape[1] and h >= crop.shape[0]:
        # GrabCut's rectangle mode needs some background outside the rectangle: shrink by one pixel.
        rx, ry, w, h = 1, 1, crop.shape[1] - 2, crop.shape[0] - 2
    trimap = np.zeros(crop.shape[:2], np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(crop, trimap, (rx, ry, w, h), bgd, fgd, int(iterations), cv2.GC_INIT_WITH_RECT)
    out[cy0:cy1, cx0:cx1] = (trimap == cv2.GC_FGD) | (trimap == cv2.GC_PR_FGD)
    return out


class GrabCutRefiner(Refiner):
    """Weight-free refiner: GrabCut seeded by each VMOS mask, then HQTrack's IoU selector.

    Args:
        band: half-width of the uncertain band as a fraction of ``sqrt(object area)``.
        min_band, max_band: bounds of the half-width in pixels.
        min_core: leave a mask unchanged when its sure-foreground core is below this fraction of it.
        iterations: GrabCut iterations.
        threshold, overlap: the IoU selector.
    """

    name = "classical"

    def __init__(
        self,
        band: float = 0.05,
        min_band: int = 3,
        max_band: int = 8,
        iterations: int = 3,
        min_core: float = 0.5,
        threshold: float = DEFAULT_THRESHOLD,
        overlap: OverlapRule = "lowest_id",
    ) -> None:
        super().__init__(threshold, overlap)
        if band < 0 or min_band < 1 or max_band < min_band or iterations < 1 or not 0 <= min_core <= 1:
            raise ValueError(f"need band >= 0, 1 <= min_band <= max_band, iterations >= 1, 0 <= min_core <= 1; got "
                             f"band={band}, min_band={min_band}, max_band={max_band}, iterations={iterations}, "
                             f"min_core={min_core}")
        self.band = float(band)
        self.min_band = int(min_band)
        self.max_band = int(max_band)
        self.iterations = int(iterations)
        self.min_core = float(min_core)

    def propose(self, image: np.ndarray, masks: np.ndarray) -> Proposals:
        image = check_image(image)
        out = np.stack(
            [grabcut_mask(image, m, self.band, self.min_band, self.max_band, self.iterations, self.min_core)
             for m in masks]
        )
        return Proposals(masks=out, scores=np.full(len(out), np.nan))

    def segment_boxes(self, image: np.ndarray, boxes: np.ndarray) -> Proposals:
        image = check_image(image)
        boxes = check_boxes(boxes, image.shape)
        out = np.stack([grabcut_box(image, b, self.iterations + 1) for b in boxes])
        return Proposals(masks=out, scores=np.full(len(out), np.nan))
