"""Exponential moving average of the weights, used for evaluation (as aot-benchmark).

decay = ``1 - 1 / (steps * ema_ratio)``, warmed up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates.
Tracked: trainable parameters (and BN running statistics when BN is not frozen), keyed by state-dict name
so the average can be saved, restored and loaded into a model on its own.
"""

from __future__ import annotations

import torch
from torch import nn


class ModelEMA:
    def __init__(self, model: nn.Module, decay: float, include_bn_stats: bool = False) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = decay
        self.num_updates = 0
        self.names = [n for n, p in model.named_parameters() if p.requires_grad]
        if include_bn_stats:
            self.names += [n for n, _ in model.named_buffers() if n.endswith(("running_mean", "running_var"))]
        tensors = _named_tensors(model)
        self.shadow: dict[str, torch.Tensor] = {n: tensors[n].detach().clone() for n in self.names}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.num_updates += 1
        decay = min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        tensors = _named_tensors(model)
        for name in self.names:
            self.shadow[name].sub_((1.0 - decay) * (self.shadow[name] - tensors[name].detach()))

    def state_dict_for(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The model's full state dict with the averaged tensors substituted (for saving/evaluation)."""
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        for name, value in self.shadow.items():
            state[name] = value.clone()
        return state

    def state_dict(self) -> dict:
        return {"decay": self.decay, "num_updates": self.num_updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        missing = set(self.names) - set(state["shadow"])
        if missing:
            raise KeyError(f"EMA state lacks tensors: {sorted(missing)[:5]}...")
        self.decay = float(state["decay"])
        self.num_updates = int(state["num_updates"])
        for name in self.names:
            self.shadow[name].copy_(state["shadow"][name])


def _named_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    out = dict(model.named_parameters())
    out.update(dict(model.named_buffers()))
    return out
