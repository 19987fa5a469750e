"""Deterministic weights from parameter names and shapes, for parity against other implementations.

Two implementations of the same network (ours and the official HQTrack code) consume random numbers in
different orders while they are built, so equal seeds do not give equal weights. This rule does not
depend on construction order: every state-dict entry gets its own generator, seeded by a stable hash of
its *name*, and the values depend only on that name and the entry's shape. Any code that can list
``(name, shape)`` pairs can recreate the exact same weights (see ``data/fixtures/hqtrack_vmos_parity``).

Rule (``version`` 1), for a floating-point parameter ``name`` of shape ``shape``:

* ``u ~ Uniform[-1, 1)`` drawn from ``numpy.random.default_rng(seed(name))`` in float64, then:
* tensors with 2+ dims (linear/conv weights): ``u * scale / sqrt(fan_in)``, ``fan_in = prod(shape[1:])``;
* 1-dim tensors named ``*.weight`` or ``*gamma*`` (norm scales, layer scales): ``1 + 0.1 * u``;
* other 1-dim tensors (biases): ``0.1 * u``;
* then cast to the parameter's dtype. Buffers (e.g. BatchNorm statistics) keep their values.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

RULE_VERSION = 1


def name_seed(name: str) -> int:
    """A stable 64-bit seed for a state-dict name (first 8 bytes of its SHA-256, big-endian)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


def rule_value(name: str, shape: Iterable[int], scale: float = 1.0) -> np.ndarray:
    """The float64 array the rule assigns to entry ``name`` of ``shape`` (see the module docstring)."""
    shape = tuple(int(s) for s in shape)
    u = np.random.default_rng(name_seed(name)).random(shape, dtype=np.float64) * 2.0 - 1.0
    if len(shape) >= 2:
        fan_in = math.prod(shape[1:])
        return u * (scale / math.sqrt(fan_in))
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "weight" or "gamma" in leaf:
        return 1.0 + 0.1 * u
    return 0.1 * u


@torch.no_grad()
def apply_name_rule(model: nn.Module, scale: float = 1.0, prefix: str = "") -> int:
    """Overwrite every floating-point parameter of ``model`` by the name rule; return how many were set.

    ``prefix`` is prepended to the names (use it when ``model`` is a sub-module of the network whose
    state-dict names define the weights, e.g. ``prefix="encoder."`` for a backbone alone).
    """
    count = 0
    for name, param in model.named_parameters():
        if not param.dtype.is_floating_point:
            continue
        value = rule_value(prefix + name, param.shape, scale)
        param.copy_(torch.from_numpy(value).to(dtype=param.dtype, device=param.device))
        count += 1
    return count


def name_rule_state_dict(shapes: dict[str, tuple[int, ...]], scale: float = 1.0) -> dict[str, torch.Tensor]:
    """A float32 state dict following the rule for ``{name: shape}`` (no model needed)."""
    return {
        name: torch.from_numpy(rule_value(name, shape, scale)).to(torch.float32) for name, shape in shapes.items()
    }
