"""Mask perturbations that imitate how a VOS model errs, to measure refiners against ground truth.

Every function maps an ``(H, W)`` bool mask to a perturbed ``(H, W)`` bool mask; sizes are in pixels of the mask.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from ..data.frames import resize_to
from .classical import disk_kernel


def erode(mask: np.ndarray, radius: int = 7) -> np.ndarray:
    """Under-segmentation: the mask shrunk by ``radius`` px (thin parts vanish)."""
    return cv2.erode(mask.astype(np.uint8), disk_kernel(radius)).astype(bool)


def dilate(mask: np.ndarray, radius: int = 7) -> np.ndarray:
    """Over-segmentation: the mask grown by ``radius`` px into the background."""
    return cv2.dilate(mask.astype(np.uint8), disk_kernel(radius)).astype(bool)


def shift(mask: np.ndarray, dx: int = 8, dy: int = -5) -> np.ndarray:
    """Lag: the mask translated by ``(dx, dy)`` px (a fast object, memory one frame behind)."""
    out = np.zeros_like(mask, dtype=bool)
    h, w = mask.shape
    if abs(dy) >= h or abs(dx) >= w:  # moved out of the frame entirely
        return out
    src = mask[max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
    out[max(dy, 0) : max(dy, 0) + src.shape[0], max(dx, 0) : max(dx, 0) + src.shape[1]] = src
    return out


def blur(mask: np.ndarray, sigma: float = 6.0) -> np.ndarray:
    """Rounded boundary: Gaussian-blurred mask thresholded at 0.5 (corners rounded, thin parts lost)."""
    soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)
    return soft >= 0.5


def coarse(mask: np.ndarray, factor: int = 16) -> np.ndarray:
    """Low-resolution decoder: area-downsampled by ``factor``, bilinear upsampled, thresholded at 0.5."""
    h, w = mask.shape
    small = resize_to(mask.astype(np.float32), (max(h // factor, 1), max(w // factor, 1)), "area")
    return resize_to(small, (h, w), "linear") >= 0.5


PERTURBATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda m: np.asarray(m, dtype=bool).copy(),
    "erode7": erode,
    "dilate7": dilate,
    "shift8x5": shift,
    "blur6": blur,
    "coarse16": coarse,
}
