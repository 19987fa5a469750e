"""Identification (ID) embedding of DeAOT: a learned "patch-wise ID bank".

Each of the ``max_obj_num + 1`` identities (background + 10 object slots) owns a learned 17x17 patch of a
256-channel embedding; a one-hot label map at input resolution is turned into tokens at 1/16 by one strided
convolution ``Conv2d(11, 256, k=17, s=16, p=8)`` (``k=16, p=0`` when ``align_corners=False``), followed by a
LayerNorm over channels (``id_norm``). The weight is orthogonally initialised with gain ``17^-2``.
"""

from __future__ import annotations

import torch
from torch import nn


def build_id_bank(num_ids: int, dim: int, align_corners: bool = True) -> nn.Conv2d:
    """The ID bank convolution (``num_ids`` channels in, ``dim`` out, stride 16), orthogonally initialised."""
    if align_corners:
        bank = nn.Conv2d(num_ids, dim, kernel_size=17, stride=16, padding=8)
        gain = 17 ** -2
    else:
        bank = nn.Conv2d(num_ids, dim, kernel_size=16, stride=16, padding=0)
        gain = 16 ** -2
    nn.init.orthogonal_(bank.weight.view(dim, -1), gain=gain)
    return bank


def one_hot_labels(labels: torch.Tensor, num_ids: int) -> torch.Tensor:
    """``labels (B, H, W)`` or ``(B, 1, H, W)`` of slot indices 0..num_ids-1 -> ``(B, num_ids, H, W)`` float."""
    if labels.dim() == 4:
        labels = labels[:, 0]
    ids = torch.arange(num_ids, device=labels.device).view(1, -1, 1, 1)
    return (labels.unsqueeze(1) == ids).float()


def id_tokens(bank: nn.Conv2d, norm: nn.LayerNorm, one_hot: torch.Tensor) -> torch.Tensor:
    """``one_hot (B, num_ids, H, W)`` (or soft probabilities) -> ID tokens ``(B, h*w, dim)``."""
    emb = bank(one_hot)  # (B, dim, h, w)
    return norm(emb.flatten(2).transpose(1, 2))
