"""Memory and per-frame computation of one object group (:class:`GroupEngine`), batched and differentiable."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..model.vmos import VMOS, Features, Propagation
from .memory import MemoryEntry, MemoryPolicy, MemoryState


class GroupEngine:
    """Memory + per-frame computation for one group of objects (batched over ``B``; differentiable).

    Labels are slot maps ``(B, H, W)`` (0 = background, 1..max_obj) or soft one-hot ``(B, max_obj+1, H, W)``
    at the network input size.
    """

    def __init__(self, model: VMOS, policy: MemoryPolicy) -> None:
        self.model = model
        self.policy = policy
        self.memory = MemoryState(policy)

    def _id_emb(self, labels: torch.Tensor) -> torch.Tensor:
        if labels.dim() == 4 and labels.shape[1] == self.model.max_obj_num + 1:
            return self.model.id_embedding(labels.float())
        if labels.dim() != 3:
            raise ValueError(f"labels must be (B, H, W) slots or (B, {self.model.max_obj_num + 1}, H, W) "
                             f"one-hot, got {tuple(labels.shape)}")
        return self.model.id_embedding_from_labels(labels.long())

    def add_reference(self, features: Features, labels: torch.Tensor, frame_index: int) -> Propagation:
        """Encode a frame with a known mask against itself and pin it in memory."""
        id_emb = self._id_emb(labels)
        prop = self.model.propagate(features, id_emb=id_emb)
        keys, values = self.model.memory_entry(prop, id_emb)
        self.memory.add_reference(MemoryEntry(frame_index, keys, values, "reference"))
        return prop

    def propagate(self, features: Features) -> Propagation:
        """Match a new frame against memory (no write)."""
        return self.model.propagate(features, self.memory.layer_memories())

    def decode(self, prop: Propagation, features: Features, output_size: tuple[int, int] | None = None,
               slots_used: int | None = None) -> torch.Tensor:
        """Logits ``(B, max_obj+1, H, W)``; slots above ``slots_used`` set to -1e10 (unused identities)."""
        logits = self.model.decode(prop, features)
        if slots_used is not None and slots_used < self.model.max_obj_num:
            keep = torch.arange(logits.shape[1], device=logits.device) <= slots_used
            logits = logits.masked_fill(~keep.view(1, -1, 1, 1), -1e10)
        if output_size is not None:
            logits = F.interpolate(logits, size=output_size, mode="bilinear",
                                   align_corners=self.model.cfg.align_corners)
        return logits

    def remember(self, prop: Propagation, labels: torch.Tensor, frame_index: int) -> bool:
        """Write the propagated frame with its mask; returns whether it became a long-term entry."""
        id_emb = self._id_emb(labels)
        keys, values = self.model.memory_entry(prop, id_emb)
        return self.memory.add_frame(MemoryEntry(frame_index, keys, values, "short_term"))
