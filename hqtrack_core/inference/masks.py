"""A user's object-id mask, checked: what people hold (numpy, torch, bool, whole-number floats) -> int64 ids."""

from __future__ import annotations

import numpy as np
import torch


def check_mask(mask, image_size: tuple[int, int]) -> np.ndarray:
    """An ``(H, W)`` id map as people hold it (``image_size``: the video's ``(H, W)``) -> int64 ids. Accepted:
    numpy or torch (any device with data), bool (``gt > 0``: object 1), any integer dtype, floats holding whole
    numbers (``0.0/1.0``). Refused with the fix: fractional floats (probabilities), NaN, negative ids, other shapes /
    types, 'meta' tensors."""
    if isinstance(mask, torch.Tensor):
        if mask.device.type == "meta":
            raise ValueError("mask tensor is on device 'meta', which holds no data: pass real ids (a numpy "
                             "array, or a tensor on any device: it is copied to the tracker's)")
        mask = mask.detach().cpu().numpy()
    if not isinstance(mask, np.ndarray):
        fix = ("np.array(mask) (an indexed 'P' PNG gives its ids)" if type(mask).__module__.startswith("PIL.")
               else "np.asarray(mask)")
        raise ValueError(f"mask must be an HxW numpy array or torch tensor of object ids, got "
                         f"{type(mask).__name__}: use {fix}")
    if mask.ndim != 2:
        squeeze = " (use mask.squeeze())" if mask.ndim == 3 and 1 in (mask.shape[0], mask.shape[-1]) else ""
        raise ValueError(f"mask must be HxW, got shape {mask.shape}{squeeze}")
    if tuple(mask.shape) != image_size:
        raise ValueError(f"mask shape {mask.shape} does not match the image size {image_size}")
    if mask.dtype == bool:  # (gt > 0): one object, id 1
        mask = mask.astype(np.uint8)
    if np.issubdtype(mask.dtype, np.floating):
        if not np.isfinite(mask).all():
            raise ValueError("mask holds NaN/inf: pass object ids (0 = background)")
        if not np.array_equal(mask, np.round(mask)):
            raise ValueError(f"mask of dtype {mask.dtype} holds fractional values (e.g. "
                             f"{float(mask[mask != np.round(mask)][0]):g}): it must hold object ids; for "
                             "probabilities threshold them, e.g. (prob > 0.5)")
    elif not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"mask must hold integer object ids, got dtype {mask.dtype}")
    if mask.min(initial=0) < 0:
        raise ValueError("mask ids must be >= 0 (0 = background)")
    return mask.astype(np.int64)
