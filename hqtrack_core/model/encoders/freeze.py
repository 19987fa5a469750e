"""Freezing encoder parameters (the stem and first stages stay at their ImageNet values in training)."""

from __future__ import annotations

from torch import nn


def freeze_params(module: nn.Module) -> None:
    """Turn off gradients of every parameter of ``module``."""
    for p in module.parameters():
        p.requires_grad_(False)
