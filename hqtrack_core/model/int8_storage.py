"""Int8 storage of VMOS weights: a checkpoint at about half the size of float16, restored to float16 on load.

Used where a file budget rules out float16 (the InternImage-T ablation variant: 27.8 M parameters, 55.5 MB in
float16, against a 100 MB budget for all ablation checkpoints). Storage only: the network always runs on the
restored float16 (then fp32 / bf16) weights, and every score of such a checkpoint is a score of the restored
weights.

Scheme: every floating tensor with at least two dimensions and :data:`MIN_NUMEL` elements (conv and linear
weights) is stored as symmetric int8 with one float32 scale per output channel (dim 0), under the same key; its
scales are stored under ``key + SCALE_SUFFIX``. Biases, norms and small tensors stay as they were. Rounding error
per element is at most half a step, ``max|w[c]| / 254`` for output channel ``c``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

SCALE_SUFFIX = ":int8_scale"
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


def is_int8_state(state: Mapping[str, torch.Tensor]) -> bool:
    return any(key.endswith(SCALE_SUFFIX) for key in state)


def dequantize_state(state: Mapping[str, torch.Tensor], dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """Inverse of :func:`quantize_state`: int8 tensors with a scale become ``dtype``; a state without scales is
    returned unchanged. An int8 tensor without its scale, or a scale without its tensor, is a ValueError."""
    if not is_int8_state(state):
        return dict(state)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(SCALE_SUFFIX):
            if key[: -len(SCALE_SUFFIX)] not in state:
                raise ValueError(f"int8 checkpoint: scale {key} has no tensor")
            continue
        scale = state.get(key + SCALE_SUFFIX)
        if scale is None:
            if value.dtype == torch.int8:
                raise ValueError(f"int8 checkpoint: {key} is int8 but has no {SCALE_SUFFIX} entry")
            out[key] = value
            continue
        if value.dtype != torch.int8 or scale.shape != (value.shape[0],):
            raise ValueError(f"int8 checkpoint: {key} ({value.dtype}, {tuple(value.shape)}) does not fit its scale "
                             f"{tuple(scale.shape)}")
        out[key] = (value.float() * scale.float().view(-1, *([1] * (value.dim() - 1)))).to(dtype)
    return out


def write_int8_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Rewrite one of our ``.safetensors`` VMOS checkpoints with int8 storage (same metadata, card included;
    atomic; ``dst`` may equal ``src``)."""
    from safetensors.torch import save_file

    from ..atomic import atomic_path
    from .checkpoint import read_vmos_file  # (checkpoint imports this module)

    meta, state = read_vmos_file(src)
    dst = Path(dst)
    meta["weights_storage"] = METADATA_VALUE
    with atomic_path(dst) as tmp:
        save_file(quantize_state(state), str(tmp), metadata=meta)
    return dst


__all__ = ["quantize_state", "dequantize_state", "is_int8_state", "write_int8_checkpoint", "SCALE_SUFFIX",
           "MIN_NUMEL", "METADATA_VALUE"]
