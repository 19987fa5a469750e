"""Checkpoints: official aot-benchmark DeAOT files, and our own (weights + config side by side).

Official checkpoints (``DeAOTT_PRE_YTB_DAV.pth`` ...) are ``{'state_dict': ...}`` (or a bare state dict),
sometimes saved from ``DistributedDataParallel`` (``module.`` prefix). Our module names equal the official
ones, so no renaming is needed beyond stripping prefixes.

Our format: a ``.safetensors`` file of the weights whose metadata holds ``{"vmos_config": <json>,
"preset": name}``; :func:`load_vmos` rebuilds the network from it. Weights are float16 or float32, or int8 with
per-channel scales (:mod:`.int8_storage`), restored to float16 on load.

Files are opened by :mod:`hqtrack_core.weights` (the one reader); this module says what their tensors and
metadata mean for a VMOS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..validate import check_finite_weights
from ..weights import load_safetensors_file, plain_state_dict, read_safetensors, read_safetensors_metadata
from ..weights import read_state_dict, write_safetensors
from .build import vmos_from_config
from .card import METADATA_KEY
from .config import VMOSConfig, get_config

_WRAPPER_PREFIXES = ("module.", "model.", "_orig_mod.")


def official_state_dict(path_or_state: str | Path | Mapping) -> dict[str, torch.Tensor]:
    """Read an aot-benchmark checkpoint (path or loaded object) into a plain, prefix-free state dict."""
    if isinstance(path_or_state, (str, Path)):
        state = read_state_dict(path_or_state)
    else:
        state = plain_state_dict(path_or_state)
    out = {}
    for key, value in state.items():
        for prefix in _WRAPPER_PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix):]
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
    cfg: VMOSConfig = model.cfg
    path = Path(path)
    meta = {"vmos_config": json.dumps(cfg.to_dict()), "format": "hqtrack-vmos-1"}
    if preset:
        meta["preset"] = preset
    if card is not None:
        meta[METADATA_KEY] = card.to_json()
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return write_safetensors(path, state, meta)


def _vmos_config_json(meta: Mapping[str, str], path: str | Path) -> str:
    if "vmos_config" not in meta:
        raise ValueError(f"{path} has no vmos_config metadata (not saved by save_vmos)")
    return meta["vmos_config"]


def read_vmos_config(path: str | Path) -> VMOSConfig:
    """The :class:`VMOSConfig` stored by :func:`save_vmos` (ValueError naming the file when it has none)."""
    return VMOSConfig.from_dict(json.loads(_vmos_config_json(read_safetensors_metadata(path), path)))


def read_vmos_file(path: str | Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """The metadata and the stored tensors (as stored: no dequantisation) of a ``.safetensors`` file written by
    :func:`save_vmos`, for tools that rewrite such files (weight averaging, int8 storage). A missing or damaged
    file, or one without ``vmos_config`` metadata, raises an error naming it."""
    meta, state = read_safetensors(path)
    _vmos_config_json(meta, path)
    return meta, state


def load_vmos(path: str | Path, map_location: str | torch.device = "cpu"):
    """Rebuild a :class:`~hqtrack_core.model.vmos.VMOS` saved by :func:`save_vmos`."""
    cfg = read_vmos_config(path)
    model = vmos_from_config(cfg)
    load_official_checkpoint(model, load_safetensors_file(path, device=str(map_location)), strict=True,
                             what=Path(path).name)
    return model


def check_preset_matches(model: str | None, checkpoint: str | Path) -> None:
    """``--model X`` with one of our ``.safetensors`` files (which name their own preset): they must agree."""
    if model is None or Path(checkpoint).suffix != ".safetensors":
        return
    meta = read_safetensors_metadata(checkpoint)
    held = VMOSConfig.from_dict(json.loads(_vmos_config_json(meta, checkpoint)))
    if held != get_config(model):
        preset = meta.get("preset", "another preset")
        raise ValueError(f"--model {model} conflicts with {Path(checkpoint).name}, which holds {preset}: "
                         f"drop --model (the file names its own architecture) or pass a {model} checkpoint")
