"""Mask refiners of HQTrack: HQ-SAM (and the SAM baseline) prompted by each VMOS mask's box, a weight-free
GrabCut refiner, HQTrack's IoU selector, and prompts (box/points) to a first-frame mask.

Every refiner has ``refine(image, labels, object_ids) -> RefineResult``; :func:`build_refiner` builds one by name.
"""

from .base import Proposals, RefineResult, Refiner
from .boxes import masks_to_boxes, parse_box
from .build import REFINER_KINDS, build_refiner
from .classical import GrabCutRefiner, grabcut_box, grabcut_mask
from .prompts import labels_from_boxes, mask_from_box, mask_from_points
from .sam import MODEL_TYPES, SamRefiner, build_sam, load_sam_checkpoint
from .selector import DEFAULT_THRESHOLD, OVERLAP_RULES, Selection, mask_iou, select_masks

__all__ = [
    "DEFAULT_THRESHOLD",
    "MODEL_TYPES",
    "OVERLAP_RULES",
    "REFINER_KINDS",
    "GrabCutRefiner",
    "Proposals",
    "RefineResult",
    "Refiner",
    "SamRefiner",
    "Selection",
    "build_refiner",
    "build_sam",
    "grabcut_box",
    "grabcut_mask",
    "labels_from_boxes",
    "load_sam_checkpoint",
    "mask_from_box",
    "mask_from_points",
    "mask_iou",
    "masks_to_boxes",
    "parse_box",
    "select_masks",
]
