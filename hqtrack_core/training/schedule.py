"""Optimiser and learning-rate schedule of the aot-benchmark recipe.

AdamW with one parameter group per tensor (so weight decay and learning-rate ratio can be set per name):
no weight decay on biases, on normalisation weights outside a frozen-BN encoder, and on the named
exemptions. The learning rate warms up linearly from ``lr_min`` to ``lr`` over ``warmup_ratio`` of the
steps, then decays polynomially (power 0.9) back to ``lr_min``; encoder groups get
``(lr - lr_min) * encoder_lr_ratio + lr_min``; groups matching ``freeze`` get lr 0 (the ID bank once
sequence training starts).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from .config import TrainConfig


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Base learning rate at ``step`` (warm-up then polynomial decay)."""
    warmup = cfg.warmup_ratio * cfg.steps
    if step < warmup:
        return cfg.lr_min + (cfg.lr - cfg.lr_min) * step / warmup
    progress = (step - warmup) / (cfg.steps - warmup + 1)
    return cfg.lr_min + (cfg.lr - cfg.lr_min) * (1.0 - progress) ** cfg.lr_power


def parameter_groups(model: nn.Module, cfg: TrainConfig) -> list[dict]:
    """One AdamW group per trainable tensor, named, with its weight decay."""
    groups, seen = [], set()
    for name, param in model.named_parameters():
        if not param.requires_grad or id(param) in seen:
            continue
        seen.add(id(param))
        wd = cfg.weight_decay
        if param.dim() == 1:  # biases and normalisation weights
            if name.endswith("bias") or not cfg.freeze_bn or "encoder." not in name:
                wd = 0.0
        elif any(key in name for key in cfg.no_weight_decay_keys):
            wd = 0.0
        groups.append({"params": [param], "lr": cfg.lr, "weight_decay": wd, "base_weight_decay": wd,
                       "name": name})
    if not groups:
        raise ValueError("the model has no trainable parameters")
    return groups


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    return torch.optim.AdamW(parameter_groups(model, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)


def apply_lr(optimizer: torch.optim.Optimizer, step: int, cfg: TrainConfig,
             freeze: Iterable[str] = ()) -> float:
    """Set every group's learning rate for ``step``; returns the base rate."""
    now = lr_at(step, cfg)
    freeze = tuple(freeze)
    for group in optimizer.param_groups:
        name = group.get("name", "")
        if cfg.encoder_lr_ratio != 1.0 and "encoder." in name:
            group["lr"] = (now - cfg.lr_min) * cfg.encoder_lr_ratio + cfg.lr_min
        else:
            group["lr"] = now
        group["weight_decay"] = group.get("base_weight_decay", group["weight_decay"])
        if any(key in name for key in freeze):
            group["lr"] = 0.0
            group["weight_decay"] = 0.0
    return now
