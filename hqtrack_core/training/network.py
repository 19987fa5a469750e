"""The network being trained: built from the config's preset, started from ``--init`` weights, encoder BN frozen."""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from ..model.checkpoint import read_vmos_config
from ..model.config import get_config
from ..model.build import vmos_from_preset
from ..validate import check_finite_weights
from ..weights import dequantize_state, load_safetensors_file
from .checkpoints import load_checkpoint
from .config import TrainConfig


def build_training_model(cfg: TrainConfig) -> nn.Module:
    """The VMOS network of preset ``cfg.model`` (ImageNet encoder weights if ``pretrained_backbone``)."""
    return vmos_from_preset(cfg.model, pretrained_encoder=cfg.pretrained_backbone)


def freeze_encoder_bn(model: nn.Module) -> None:
    """The encoder's batch-norm layers in eval mode (running statistics frozen; ``freeze_bn`` configs)."""
    for name, module in model.named_modules():
        if name.startswith("encoder") and isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def load_init_weights(model: nn.Module, path: str | os.PathLike, model_name: str) -> None:
    """Start ``model`` (preset ``model_name``) from ``path``'s weights (a run's ``.pt``: its EMA; or a
    ``.safetensors``). A file of another model, or holding NaN/inf, is refused naming both models / the tensor."""
    path = Path(path)
    if path.suffix == ".safetensors":
        try:
            held = read_vmos_config(path)
        except ValueError:
            held = None  # a plain state dict (no vmos_config): judged by its keys and shapes below
        if held is not None and held != get_config(model_name):
            raise ValueError(f"--init {path.name} holds another model than {model_name} (its encoder "
                             f"{held.encoder}, {'multi-scale' if held.multiscale else 'single-scale'}): pass "
                             f"the file's own --model, or an init file of {model_name}")
        state = dequantize_state(load_safetensors_file(path, "init checkpoint"))
    else:
        ckpt = load_checkpoint(path)
        saved = ckpt.get("train_config", {}).get("model") if isinstance(ckpt, dict) else None
        if saved is not None and saved != model_name:
            raise ValueError(f"--init {path.name} is a run of model {saved}, this run trains {model_name}: "
                             f"pass --model {saved}, or an init file of {model_name}")
        state = ckpt.get("ema", {}).get("model") or ckpt.get("model") or ckpt
    check_finite_weights(state, f"--init {path}", "start from an earlier checkpoint of that run")
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shapes differ: same names, another size of model
        raise ValueError(f"--init {path.name} does not fit model {model_name} "
                         f"({str(err).splitlines()[1].strip()[:160] if len(str(err).splitlines()) > 1 else err}): "
                         "pass an init file of this model") from None
    if unexpected or [k for k in missing if "num_batches_tracked" not in k]:
        raise ValueError(f"--init {path.name} does not fit model {model_name}: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
