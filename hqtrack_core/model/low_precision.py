"""A VMOS copy made for bf16 / fp16 inference (the tracker's ``precision="bf16"`` path; fp32 never comes here).

What plain ``torch.autocast`` over the fp32 :func:`~hqtrack_core.model.vmos.inference_copy` costs, and what this
copy does instead (found with ``torch.profiler``; ``python -m hqtrack_core.bench bf16`` measures the speed):

- autocast casts every convolution / linear weight to bf16 on every call: here the weights are stored in bf16
  once;
- convolutions outside the encoder and decoder (the multi-scale propagation's 1/8 and 1/4 blocks) had
  contiguous weights while their inputs are channels-last, so oneDNN reordered the weights on every call: here
  every 4-D weight is channels-last;
- autocast runs GroupNorm / LayerNorm in fp32, i.e. casts the bf16 activation up and the result back down
  around every norm: here they run on the bf16 activation directly (PyTorch's CPU kernels accumulate the
  statistics in fp32 for bf16 inputs, so the statistics are as accurate; only the output is rounded to bf16,
  as the next convolution / linear would round it anyway).

The attention logits and softmax stay in fp32 (see :func:`hqtrack_core.model.attention._attend`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .vmos import VMOS, inference_copy


class LowPrecisionGroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` that computes in its weights' dtype, also under autocast (no fp32 round trip)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return F.group_norm(x.to(self.weight.dtype), self.num_groups, self.weight, self.bias, self.eps)


class LowPrecisionLayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` that computes in its weights' dtype, also under autocast (no fp32 round trip)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return F.layer_norm(x.to(self.weight.dtype), self.normalized_shape, self.weight, self.bias, self.eps)


_NORMS = {nn.GroupNorm: LowPrecisionGroupNorm, nn.LayerNorm: LowPrecisionLayerNorm}


def low_precision_copy(model: VMOS, dtype: torch.dtype, device: torch.device | str | None = None) -> VMOS:
    """:func:`inference_copy` of ``model`` with weights in ``dtype`` (bf16 / fp16), every 4-D weight channels-last
    and the affine Group/LayerNorms computing in ``dtype``; run it under ``torch.autocast(dtype=dtype)``."""
    if dtype not in (torch.bfloat16, torch.float16):
        raise ValueError(f"low_precision_copy is for bf16 / fp16, got {dtype}")
    fast = inference_copy(model)
    for module in fast.modules():
        swap = _NORMS.get(type(module))
        if swap is not None and module.weight is not None:
            module.__class__ = swap
    return fast.to(device=device, dtype=dtype, memory_format=torch.channels_last)
