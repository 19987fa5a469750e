"""Checkpoints: official aot-benchmark DeAOT files, and our own (weights + config side by side).

Official checkpoints (``DeAOTT_PRE_YTB_DAV.pth`` ...) are ``{'state_dict': ...}`` (or a bare state dict),
sometimes saved from ``DistributedDataParallel`` (``module.`` prefix). Our module names equal the official
ones, so no renaming is needed beyond stripping prefixes; :data:`NAME_MAP` is the hook if that changes.

Our format: a ``.safetensors`` file of the weights whose metadata holds ``{"vmos_config": <json>,
"preset": name}``; :func:`load_vmos` rebuilds the network from it. Weights are float16 or float32, or int8 with
per-channel scales (:mod:`.int8_storage`), restored to float16 on load.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..atomic import atomic_path
from .config import VMOSConfig
from .int8_storage import dequantize_state

# official name prefix -> our name prefix (identity for DeAOT; kept for forward compatibility)
NAME_MAP: dict[str, str] = {}
_WRAPPER_PREFIXES = ("module.", "model.", "_orig_mod.")


def official_state_dict(path_or_state: str | Path | Mapping) -> dict[str, torch.Tensor]:
    """Read an aot-benchmark checkpoint (path or loaded object) into a plain, prefix-free state dict."""
    if isinstance(path_or_state, (str, Path)):
        from ..validate import load_safetensors_file, load_torch_file

        path = Path(path_or_state)
        state = load_safetensors_file(path) if path.suffix == ".safetensors" else load_torch_file(path)
    else:
        state = path_or_state
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise ValueError(f"not a state dict: {type(state).__name__}")
    state = dequantize_state(state)  # our int8-stored checkpoints (int8_storage.py); others pass unchanged
    out = {}
    for key, value in state.items():
        for prefix in _WRAPPER_PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix):]
        for old, new in NAME_MAP.items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def training_checkpoint_weights(ckpt) -> tuple[str, int, dict[str, torch.Tensor]] | None:
    """``(model preset, step, EMA weights)`` of a training checkpoint (``hqtrack train``'s ``step_*.pt``, loaded),
    or None for any other object. The EMA weights are the ones ``hqtrack train --export`` exports."""
    if not (isinstance(ckpt, Mapping) and "train_config" in ckpt and isinstance(ckpt.get("ema"), Mapping)):
        return None
    return str(ckpt["train_config"].get("model")), int(ckpt.get("step", -1)), dict(ckpt["ema"]["model"])


def load_official_checkpoint(model: nn.Module, path_or_state_dict: str | Path | Mapping, strict: bool = True,
                             what: str | None = None) -> tuple[list[str], list[str]]:
    """Load official DeAOT weights into ``model``.

    With ``strict`` any missing / unexpected key or shape mismatch raises ``ValueError`` listing them all.
    Returns ``(missing, unexpected)`` (empty when strict). ``num_batches_tracked`` buffers are ignored.
    Weights holding NaN/inf are refused (ValueError naming the tensor; ``what`` names the file).
    """
    from ..validate import check_finite_weights

    state = official_state_dict(path_or_state_dict)
    named = what or (Path(path_or_state_dict).name if isinstance(path_or_state_dict, (str, Path)) else "checkpoint")
    check_finite_weights(state, named)
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    own = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                        for k in set(own) & set(state) if tuple(state[k].shape) != tuple(own[k].shape))
    if strict and (missing or unexpected or mismatched):
        def show(items):
            return ", ".join(items[:20]) + (f" ... (+{len(items) - 20})" if len(items) > 20 else "") if items else "none"

        raise ValueError("checkpoint does not match the model:\n"
                         f"  missing keys ({len(missing)}): {show(missing)}\n"
                         f"  unexpected keys ({len(unexpected)}): {show(unexpected)}\n"
                         f"  shape mismatches ({len(mismatched)}): {show(mismatched)}")
    bad = {k.split(":")[0] for k in mismatched}
    model.load_state_dict({k: v for k, v in state.items() if k in own and k not in bad}, strict=False)
    return missing, unexpected


def save_vmos(model: nn.Module, path: str | Path, preset: str | None = None, card=None) -> Path:
    """Save weights + config (+ a :class:`~hqtrack_core.model.card.ModelCard`) as one ``.safetensors`` file
    (atomic write)."""
    from safetensors.torch import save_file

    from .card import METADATA_KEY

    cfg: VMOSConfig = model.cfg
    path = Path(path)
    meta = {"vmos_config": json.dumps(cfg.to_dict()), "format": "hqtrack-vmos-1"}
    if preset:
        meta["preset"] = preset
    if card is not None:
        meta[METADATA_KEY] = card.to_json()
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return path


def read_vmos_config(path: str | Path) -> VMOSConfig:
    from safetensors import safe_open

    from ..validate import check_weights_file

    path = check_weights_file(path)
    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata() or {}
    if "vmos_config" not in meta:
        raise ValueError(f"{path} has no vmos_config metadata (not saved by save_vmos)")
    return VMOSConfig.from_dict(json.loads(meta["vmos_config"]))


def read_vmos_file(path: str | Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """The metadata and the stored tensors (as stored: no dequantisation) of a ``.safetensors`` file written by
    :func:`save_vmos`, for tools that rewrite such files (weight averaging, int8 storage). A missing or damaged
    file, or one without ``vmos_config`` metadata, raises an error naming it."""
    from safetensors import safe_open

    from ..validate import check_weights_file

    path = check_weights_file(path)
    with safe_open(str(path), framework="pt") as handle:
        meta = dict(handle.metadata() or {})
        state = {key: handle.get_tensor(key) for key in handle.keys()}
    if "vmos_config" not in meta:
        raise ValueError(f"{path} has no vmos_config metadata (not saved by save_vmos)")
    return meta, state


def load_vmos(path: str | Path, map_location: str | torch.device = "cpu"):
    """Rebuild a :class:`~hqtrack_core.model.vmos.VMOS` saved by :func:`save_vmos`."""
    from ..validate import load_safetensors_file
    from .vmos import vmos_from_config

    cfg = read_vmos_config(path)
    model = vmos_from_config(cfg)
    load_official_checkpoint(model, load_safetensors_file(path, device=str(map_location)), strict=True,
                             what=Path(path).name)
    return model
