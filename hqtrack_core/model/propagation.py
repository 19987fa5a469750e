"""The LSTT stack of DeAOT ("DualBranchGPM"): GPM layers and the final GroupNorm of ``[X, Y]``.

``forward(tgt (B, L, d), memories, size_2d, id_emb) -> (output (B, L, 2d), states)``: ``output`` is
``GN_2groups([X, Y])`` of the last layer (the only thing DeAOT's decoder reads); ``states`` one
:class:`~hqtrack_core.model.gpm.LayerState` per layer for writing memory.
"""

from __future__ import annotations

import torch
from torch import nn

from .gpm import GatedPropagationModule, LayerMemory, LayerState


class GroupNorm1D(nn.Module):
    """GroupNorm over the channels of tokens ``(B, L, C)`` (module ``gn`` as official)."""

    def __init__(self, dim: int, groups: int) -> None:
        super().__init__()
        self.gn = nn.GroupNorm(groups, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gn(x.transpose(1, 2)).transpose(1, 2)


class LSTT(nn.Module):
    """Stack of ``num_layers`` gated propagation modules (official names: ``layers.N``, ``decoder_norms.0``)."""

    def __init__(self, num_layers: int = 1, d_model: int = 256, d_att: int = 128, expand_ratio: float = 2.0,
                 droppath: float = 0.1, droppath_scaling: bool = False, max_local_dis: int = 7,
                 local_dilation: int = 1) -> None:
        super().__init__()
        self.num_layers = num_layers
        layers = []
        for idx in range(num_layers):
            rate = droppath * idx / max(num_layers - 1, 1) if droppath_scaling else droppath
            if droppath_scaling and num_layers == 1:
                rate = 0.0
            layers.append(GatedPropagationModule(d_model, d_att, expand_ratio, rate, max_local_dis,
                                                 local_dilation, layer_idx=idx))
        self.layers = nn.ModuleList(layers)
        self.decoder_norms = nn.ModuleList([GroupNorm1D(d_model * 2, groups=2)])

    def forward(self, tgt: torch.Tensor, memories: list[LayerMemory] | None, size_2d: tuple[int, int],
                id_emb: torch.Tensor | None = None) -> tuple[torch.Tensor, list[LayerState]]:
        if memories is not None and len(memories) != self.num_layers:
            raise ValueError(f"expected {self.num_layers} layer memories, got {len(memories)}")
        tgt_id = None
        states = []
        for idx, layer in enumerate(self.layers):
            tgt, tgt_id, state = layer(tgt, tgt_id, None if memories is None else memories[idx], size_2d, id_emb)
            states.append(state)
        return self.decoder_norms[-1](torch.cat([tgt, tgt_id], dim=-1)), states
