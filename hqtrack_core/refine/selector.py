"""The IoU selector of HQTrack's refiner, and the merge of refined object masks into one label map.

For every object the refiner proposes a mask from the tight box of the VMOS mask. HQTrack keeps the proposal
only when it agrees with VMOS: ``IoU(proposal, VMOS) >= threshold`` (0.1 in the paper's sweep and the released
VOTS script); otherwise the VMOS mask stays. Objects whose VMOS mask is empty are not refined (they stay empty).

Overlaps between the kept masks of different objects are resolved by ``overlap``:

- ``"lowest_id"`` (released code): a pixel claimed by several objects goes to the lowest object id
  (the released tracker takes ``argmax`` over the stacked 0/1 masks ordered by id). One deliberate difference:
  the released code writes the argmax *position* in ``np.unique(vmos_labels)`` as the label, which is the id only
  when the frame's ids are exactly 0, 1, ..., N; when an object is absent from a frame (ids 0, 1, 3, 4, say) a
  pixel contested by objects 3 and 4 would get label 2, an object that is not there. Here it gets 3.
- ``"vmos"`` (documented alternative): the pixel keeps its VMOS label when that object is among the claimants,
  else the lowest id wins.

Non-zero labels not listed in ``object_ids`` are left untouched (their pixels keep their label).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

OverlapRule = Literal["lowest_id", "vmos"]
OVERLAP_RULES: tuple[str, ...] = ("lowest_id", "vmos")
DEFAULT_THRESHOLD = 0.1


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks; 1.0 when both are empty (DAVIS convention)."""
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    union = np.count_nonzero(a | b)
    if union == 0:
        return 1.0
    return np.count_nonzero(a & b) / union


@dataclass(frozen=True)
class Selection:
    """Outcome of the selector for ``N`` objects.

    Attributes:
        labels: ``(H, W)`` merged label map (dtype of the input labels).
        iou: ``(N,)`` IoU(proposal, VMOS mask); NaN for objects not refined.
        accepted: ``(N,)`` True where the proposal replaced the VMOS mask.
    """

    labels: np.ndarray
    iou: np.ndarray
    accepted: np.ndarray


def check_selector_options(threshold: float, overlap: str) -> None:
    if not (0.0 <= float(threshold) <= 1.0):
        raise ValueError(f"IoU threshold must be in [0, 1], got {threshold}")
    if overlap not in OVERLAP_RULES:
        raise ValueError(f"overlap must be one of {OVERLAP_RULES}, got {overlap!r}")


def select_masks(
    labels: np.ndarray,
    object_ids: Sequence[int],
    proposals: np.ndarray,
    refined: np.ndarray,
    threshold: float = DEFAULT_THRESHOLD,
    overlap: OverlapRule = "lowest_id",
) -> Selection:
    """Apply the IoU selector and merge the objects into one label map.

    Args:
        labels: ``(H, W)`` integer VMOS label map (0 = background).
        object_ids: ``N`` distinct positive ids, the objects to refine.
        proposals: ``(N, H, W)`` boolean refined masks (ignored where ``refined`` is False).
        refined: ``(N,)`` boolean, whether the refiner produced a proposal for the object.
        threshold: minimum IoU(proposal, VMOS) for the proposal to be kept.
        overlap: ``"lowest_id"`` (released code) or ``"vmos"``.
    """
    check_selector_options(threshold, overlap)
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an (H, W) integer array, got {labels.dtype} {labels.shape}")
    ids = [int(i) for i in object_ids]
    n = len(ids)
    proposals = np.asarray(proposals, dtype=bool)
    refined = np.asarray(refined, dtype=bool)
    if proposals.shape != (n, *labels.shape):
        raise ValueError(f"proposals must be {(n, *labels.shape)}, got {proposals.shape}")
    if refined.shape != (n,):
        raise ValueError(f"refined must be ({n},), got {refined.shape}")

    iou = np.full(n, np.nan, dtype=np.float64)
    accepted = np.zeros(n, dtype=bool)
    finals = np.zeros((n, *labels.shape), dtype=bool)
    for k, object_id in enumerate(ids):
        vmos = labels == object_id
        finals[k] = vmos
        if not refined[k] or not vmos.any():
            continue
        iou[k] = mask_iou(proposals[k], vmos)
        if iou[k] >= threshold:
            accepted[k] = True
            finals[k] = proposals[k]

    out = np.zeros_like(labels)
    # Lowest id wins: write in descending id order so lower ids overwrite higher ones.
    for k in sorted(range(n), key=lambda j: ids[j], reverse=True):
        out[finals[k]] = ids[k]
    if overlap == "vmos" and n > 1:
        contested = finals.sum(axis=0) > 1
        for k, object_id in enumerate(ids):
            keep = contested & finals[k] & (labels == object_id)
            out[keep] = object_id
    untouched = (labels != 0) & ~np.isin(labels, ids)
    out[untouched] = labels[untouched]
    return Selection(labels=out, iou=iou, accepted=accepted)
