"""One gated propagation module (GPM) of DeAOT, dual branch (visual + identification).

Tokens ``(B, L, d)``. With ``X`` the visual tokens and ``Y`` the ID-branch tokens (``None`` in layer 0):

1. ``Q = K = W_q LN(X)`` (``d_att``), ``V = SiLU(W_v LN(X))`` (``E = 2d``), visual gate ``U = W_u LN(X)``.
2. ID gate: layer 0 ``[SiLU(U), 1]``; later ``SiLU([U, W_idu LN(Y)])`` (``id_norm1``).
3. Memory values carry ``[V, ID_V]`` with ``ID_V = SiLU(W_idv [LN(Y), E_id])`` (layer 0: ``SiLU(W_idv E_id)``),
   where ``E_id`` is the ID embedding of the memory frame's mask (:meth:`fuse_id`).
4. Long-term (global) and short-term (local 15x15) gated attention with the same ``Q``; their outputs
   (``2d``: visual, ID) are added to ``X`` and ``Y``.
5. Gated self-attention on ``[LN(X), LN(Y)]`` (``norm2``, ``id_norm2``); drop-path on every residual.

``forward`` also returns the frame's :class:`LayerState` (its key, visual value and ``LN(Y)``) from which
a memory entry is made once the frame's mask is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from timm.layers import DropPath
from torch import nn

from .attention import GatedPropagation, LocalGatedPropagation, silu


@dataclass
class LayerState:
    """What one layer keeps of the current frame to write memory later (tokens ``(B, L, .)``)."""

    key: torch.Tensor  # (B, L, d_att)
    value: torch.Tensor  # (B, L, E) visual value, SiLU applied
    id_input: torch.Tensor | None  # (B, L, d) LN(Y) of the ID branch; None in layer 0


@dataclass
class LayerMemory:
    """Keys and values one layer attends to: long-term (all entries) and short-term (one frame)."""

    long_key: torch.Tensor  # (B, M, d_att)
    long_value: torch.Tensor  # (B, M, 2E) = [visual value, ID value]
    short_key: torch.Tensor  # (B, L, d_att)
    short_value: torch.Tensor  # (B, L, 2E)


class GatedPropagationModule(nn.Module):
    """See the module docstring. Parameter names equal aot-benchmark's ``GatedPropagationModule``."""

    def __init__(self, d_model: int = 256, d_att: int = 128, expand_ratio: float = 2.0, droppath: float = 0.1,
                 max_local_dis: int = 7, local_dilation: int = 1, layer_idx: int = 0) -> None:
        super().__init__()
        expand = int(d_model * expand_ratio)
        self.d_model, self.d_att, self.expand_d_model, self.layer_idx = d_model, d_att, expand, layer_idx
        self.norm1 = nn.LayerNorm(d_model)
        self.linear_QV = nn.Linear(d_model, d_att + expand)
        self.linear_U = nn.Linear(d_model, expand)
        if layer_idx == 0:
            self.linear_ID_V = nn.Linear(d_model, expand)
        else:
            self.id_norm1 = nn.LayerNorm(d_model)
            self.linear_ID_V = nn.Linear(d_model * 2, expand)
            self.linear_ID_U = nn.Linear(d_model, expand)
        self.long_term_attn = GatedPropagation(d_model, d_model * 2, use_linear=False, d_att=d_att,
                                               expand_ratio=expand_ratio)
        self.short_term_attn = LocalGatedPropagation(d_model, d_model * 2, d_att=d_att, max_dis=max_local_dis,
                                                     dilation=local_dilation, expand_ratio=expand_ratio)
        self.norm2 = nn.LayerNorm(d_model)
        self.id_norm2 = nn.LayerNorm(d_model)
        self.self_attn = GatedPropagation(d_model * 2, d_model * 2, use_linear=True, d_att=d_att)
        self.droppath = DropPath(droppath)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def fuse_id(self, id_input: torch.Tensor | None, id_emb: torch.Tensor) -> torch.Tensor:
        """ID value of a memory frame: ``(B, L, d)`` ID embedding (+ its ``LN(Y)``) -> ``(B, L, E)``."""
        if id_input is None:
            return silu(self.linear_ID_V(id_emb))
        return silu(self.linear_ID_V(torch.cat([id_input, id_emb], dim=-1)))

    def memory_value(self, state: LayerState, id_emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(key (B, L, d_att), value (B, L, 2E))`` of the frame ``state`` labelled by ``id_emb``."""
        return state.key, torch.cat([state.value, self.fuse_id(state.id_input, id_emb)], dim=-1)

    def forward(self, tgt: torch.Tensor, tgt_id: torch.Tensor | None, memory: LayerMemory | None,
                size_2d: tuple[int, int], id_emb: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, LayerState]:
        """``tgt (B, L, d)``, ``tgt_id (B, L, d) | None`` -> new ``(tgt, tgt_id, state)``.

        Either ``memory`` is given, or ``id_emb`` (a reference frame attending to itself).
        """
        x = self.norm1(tgt)
        q, v = torch.split(self.linear_QV(x), [self.d_att, self.expand_d_model], dim=-1)
        v = silu(v)
        u = self.linear_U(x)
        if tgt_id is None:
            gate = torch.cat([silu(u), torch.ones_like(u)], dim=-1)
            id_input = None
        else:
            id_input = self.id_norm1(tgt_id)
            gate = silu(torch.cat([u, self.linear_ID_U(id_input)], dim=-1))
        state = LayerState(key=q, value=v, id_input=id_input)
        if memory is None:
            if id_emb is None:
                raise ValueError("GPM needs a memory or the frame's own ID embedding")
            key, value = self.memory_value(state, id_emb)
            memory = LayerMemory(key, value, key, value)
        lt = self.long_term_attn(q, memory.long_key, memory.long_value, gate, size_2d)
        st = self.short_term_attn(q, memory.short_key, memory.short_value, gate, size_2d)
        out = lt + st
        d = self.d_model
        tgt = tgt + out[..., :d]
        tgt_id = out[..., d:] if tgt_id is None else tgt_id + out[..., d:]
        both = torch.cat([self.norm2(tgt), self.id_norm2(tgt_id)], dim=-1)
        out = self.self_attn(both, both, both, both, size_2d)
        tgt = tgt + self.droppath(out[..., :d])
        tgt_id = tgt_id + self.droppath(out[..., d:])
        return tgt, tgt_id, state
