"""The common interface of all refiners: ``refine(image, labels, object_ids) -> RefineResult``.

A refiner only has to *propose* one mask per object from the image and that object's VMOS mask
(:meth:`Refiner.propose`) and to segment box prompts (:meth:`Refiner.segment_boxes`, used to turn a user's box
into a first-frame mask). :meth:`Refiner.refine` does the rest, identically for every refiner: validation,
skipping empty VMOS masks, the IoU selector and the overlap rule (see :mod:`hqtrack_core.refine.selector`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from .selector import DEFAULT_THRESHOLD, OverlapRule, check_selector_options, select_masks


@dataclass(frozen=True)
class Proposals:
    """Masks proposed by a refiner for ``N`` prompts.

    Attributes:
        masks: ``(N, H, W)`` bool.
        scores: ``(N,)`` float, the model's own quality estimate (SAM's predicted IoU; NaN if none).
    """

    masks: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class RefineResult:
    """Refinement of one frame with ``N`` objects.

    Attributes:
        labels: ``(H, W)`` refined label map (same dtype as the input labels).
        object_ids: the ``N`` object ids, in the order of the per-object arrays.
        iou: ``(N,)`` IoU(proposal, VMOS mask); NaN for objects not refined (empty VMOS mask).
        accepted: ``(N,)`` True where the proposal replaced the VMOS mask.
        refined: ``(N,)`` True where a proposal was computed (VMOS mask non-empty).
        proposals: ``(N, H, W)`` bool, the refiner's masks before selection (all False when not refined).
        scores: ``(N,)`` the refiner's quality estimate per proposal (NaN when not refined / not available).
        raw_labels: ``(H, W)`` the VMOS label map that was refined.
        threshold, overlap: the selector settings used.
    """

    labels: np.ndarray
    object_ids: tuple[int, ...]
    iou: np.ndarray
    accepted: np.ndarray
    refined: np.ndarray
    proposals: np.ndarray
    scores: np.ndarray
    raw_labels: np.ndarray
    threshold: float
    overlap: str

    def reselect(self, threshold: float, overlap: OverlapRule | None = None) -> "RefineResult":
        """The same proposals under another selector threshold (no model call: cheap, for sweeps and sliders)."""
        overlap = overlap or self.overlap  # type: ignore[assignment]
        sel = select_masks(self.raw_labels, self.object_ids, self.proposals, self.refined, threshold, overlap)
        return replace(self, labels=sel.labels, iou=sel.iou, accepted=sel.accepted, threshold=float(threshold),
                       overlap=overlap)


def check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be an (H, W, 3) uint8 RGB array, got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


def check_labels(labels: np.ndarray, image: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an (H, W) integer array, got {labels.dtype} {labels.shape}")
    if labels.shape != image.shape[:2]:
        raise ValueError(f"labels {labels.shape} and image {image.shape[:2]} differ in size")
    if labels.size and labels.min() < 0:
        raise ValueError("labels must be >= 0 (0 = background)")
    return labels


def check_object_ids(object_ids: Sequence[int] | None, labels: np.ndarray) -> tuple[int, ...]:
    if object_ids is None:
        return tuple(int(i) for i in np.unique(labels) if i != 0)
    ids = tuple(int(i) for i in object_ids)
    if any(i <= 0 for i in ids):
        raise ValueError(f"object ids must be positive (0 is background), got {ids}")
    if len(set(ids)) != len(ids):
        raise ValueError(f"object ids must be distinct, got {ids}")
    return ids


def check_boxes(boxes: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim == 1:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) as (x0, y0, x1, y1), got shape {boxes.shape}")
    if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
        raise ValueError(f"boxes need x1 >= x0 and y1 >= y0, got {boxes.tolist()}")
    height, width = image_shape[:2]
    if np.any(boxes[:, 2] < 0) or np.any(boxes[:, 3] < 0) or np.any(boxes[:, 0] > width) or np.any(
        boxes[:, 1] > height
    ):
        raise ValueError(f"boxes {boxes.tolist()} lie outside the {width}x{height} image")
    return boxes


class Refiner(ABC):
    """Base class: subclasses implement :meth:`propose` and :meth:`segment_boxes`."""

    name: str = "refiner"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, overlap: OverlapRule = "lowest_id") -> None:
        check_selector_options(threshold, overlap)
        self.threshold = float(threshold)
        self.overlap: OverlapRule = overlap

    @abstractmethod
    def propose(self, image: np.ndarray, masks: np.ndarray) -> Proposals:
        """One proposal per VMOS mask.

        Args:
            image: ``(H, W, 3)`` uint8 RGB.
            masks: ``(N, H, W)`` bool VMOS masks, each non-empty, ``N >= 1``.
        """

    @abstractmethod
    def segment_boxes(self, image: np.ndarray, boxes: np.ndarray) -> Proposals:
        """Masks for box prompts ``(N, 4)`` ``(x0, y0, x1, y1)`` on ``image`` (``(H, W, 3)`` uint8 RGB)."""

    def refine(
        self, image: np.ndarray, labels: np.ndarray, object_ids: Sequence[int] | None = None
    ) -> RefineResult:
        """Refine every listed object of a VMOS label map (default: all non-zero ids present)."""
        image = check_image(image)
        labels = check_labels(labels, image)
        ids = check_object_ids(object_ids, labels)
        n = len(ids)
        vmos = np.stack([labels == i for i in ids]) if n else np.zeros((0, *labels.shape), dtype=bool)
        refined = vmos.reshape(n, -1).any(axis=1)
        proposals = np.zeros_like(vmos)
        scores = np.full(n, np.nan, dtype=np.float64)
        if refined.any():
            out = self.propose(image, vmos[refined])
            if out.masks.shape != (int(refined.sum()), *labels.shape):
                raise RuntimeError(f"{type(self).__name__}.propose returned masks of shape {out.masks.shape}")
            proposals[refined] = out.masks
            scores[refined] = out.scores
        sel = select_masks(labels, ids, proposals, refined, self.threshold, self.overlap)
        return RefineResult(
            labels=sel.labels,
            object_ids=ids,
            iou=sel.iou,
            accepted=sel.accepted,
            refined=refined,
            proposals=proposals,
            scores=scores,
            raw_labels=labels,
            threshold=self.threshold,
            overlap=self.overlap,
        )
