"""``build_refiner(kind, ...)``: the registry the ``hqtrack track --refiner`` option is wired to."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import torch

from ..precision import PrecisionChoice, resolve_precision
from .base import Refiner
from .classical import GrabCutRefiner
from .sam import SamRefiner

REFINER_KINDS: tuple[str, ...] = ("none", "hqsam", "sam", "classical")


def _hqsam(checkpoint, model_type, device, **opts) -> Refiner:
    return SamRefiner.from_checkpoint(checkpoint, model_type, decoder="hq", device=device, **opts)


def _sam(checkpoint, model_type, device, **opts) -> Refiner:
    return SamRefiner.from_checkpoint(checkpoint, model_type, decoder="sam", device=device, **opts)


def _classical(checkpoint, model_type, device, precision="fp32", **opts) -> Refiner:
    # GrabCut has no network: ``precision`` does not apply to it.
    if checkpoint is not None:
        raise ValueError("the classical refiner takes no checkpoint")
    return GrabCutRefiner(**opts)


_BUILDERS: dict[str, Callable[..., Refiner]] = {"hqsam": _hqsam, "sam": _sam, "classical": _classical}


def build_refiner(
    kind: str = "none",
    checkpoint: str | Path | None = None,
    model_type: str = "vit_tiny",
    device: str | torch.device = "cpu",
    precision: str | PrecisionChoice = "fp32",
    **opts,
) -> Refiner | None:
    """Build a refiner by name.

    Args:
        kind: ``"none"`` (returns None: raw VMOS masks), ``"hqsam"`` (HQ-SAM decoder), ``"sam"`` (original
            SAM decoder, the baseline; accepts an HQ-SAM checkpoint, whose SAM part is SAM), ``"classical"``
            (GrabCut, no weights).
        checkpoint: (HQ-)SAM weights; ``None`` = random initialisation (only for tests / mechanics; warns).
        model_type: ``vit_tiny`` | ``vit_b`` | ``vit_l`` | ``vit_h``.
        precision: HQ-SAM / SAM: ``fp32`` | ``bf16`` | ``fp16`` | ``auto`` (see :class:`SamRefiner`); the classical
            refiner ignores it.
        **opts: refiner options (``threshold``, ``overlap``, ``multimask``, ``hq_token_only``, ``box_margin``,
            ``strict`` checkpoint loading; ``band``, ``min_band``, ``max_band``, ``iterations`` for classical).
    """
    if kind not in REFINER_KINDS:
        raise KeyError(f"unknown refiner {kind!r}; choose one of {REFINER_KINDS}")
    if kind == "none":
        if checkpoint is not None:
            raise ValueError("a refiner checkpoint was given, but the refiner is 'none' (choose hqsam or sam)")
        return None
    if kind in ("hqsam", "sam") and checkpoint is None:
        warnings.warn(f"refiner {kind!r} without a checkpoint: random weights, its masks are meaningless "
                      "(tests and mechanics only)", stacklevel=2)
    precision = resolve_precision(precision, device)  # a bad name fails before any weights load
    return _BUILDERS[kind](checkpoint, model_type, device, precision=precision, **opts)
