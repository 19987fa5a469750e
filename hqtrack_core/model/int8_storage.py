"""Int8 storage of VMOS weights: a checkpoint at about half the size of float16, restored to float16 on load.

Used where a file budget rules out float16 (the InternImage-T ablation variant: 27.8 M parameters, 55.5 MB in
float16, against a 100 MB budget for all ablation checkpoints). Storage only: the network always runs on the
restored float16 (then fp32 / bf16) weights, and every score of such a checkpoint is a score of the restored
weights.

Scheme: every floating tensor with at least two dimensions and :data:`MIN_NUMEL` elements (conv and linear
weights) is stored as symmetric int8 with one float32 scale per output channel (dim 0), under the same key; its
scales are stored under ``key + SCALE_SUFFIX``. Biases, norms and small tensors stay as they were. Rounding error
per element is at most half a step, ``max|w[c]| / 254`` for output channel ``c``.

Reading (restoring) is done where every weight file is read, :mod:`hqtrack_core.weights`
(:func:`~hqtrack_core.weights.dequantize_state`); this module writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from ..weights import SCALE_SUFFIX, write_safetensors
from .checkpoint import read_vmos_file

MIN_NUMEL = 4096
METADATA_VALUE = "int8-per-output-channel"  # safetensors metadata "weights_storage"


def quantize_state(state: Mapping[str, torch.Tensor], min_numel: int = MIN_NUMEL) -> dict[str, torch.Tensor]:
    """``{key: tensor}`` -> the same keys (int8 where quantised) plus ``key + SCALE_SUFFIX`` scales ``(C_out,)``."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(SCALE_SUFFIX):
            raise ValueError(f"state already holds int8 scales ({key})")
        if not value.is_floating_point() or value.dim() < 2 or value.numel() < min_numel:
            out[key] = value
            continue
        w = value.detach().float()
        scale = w.reshape(w.shape[0], -1).abs().amax(dim=1).clamp_min(1e-12) / 127.0
        q = torch.round(w / scale.view(-1, *([1] * (w.dim() - 1)))).clamp_(-127, 127).to(torch.int8)
        out[key] = q.contiguous()
        out[key + SCALE_SUFFIX] = scale.contiguous()
    return out


def write_int8_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Rewrite one of our ``.safetensors`` VMOS checkpoints with int8 storage (same metadata, card included;
    atomic; ``dst`` may equal ``src``)."""
    meta, state = read_vmos_file(src)
    meta["weights_storage"] = METADATA_VALUE
    return write_safetensors(Path(dst), quantize_state(state), meta)


__all__ = ["quantize_state", "write_int8_checkpoint", "MIN_NUMEL", "METADATA_VALUE"]
