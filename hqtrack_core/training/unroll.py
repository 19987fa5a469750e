"""Unroll a training clip through a VMOS network: the training forward of aot-benchmark's engine.

Frame 0 is the reference: its ground-truth identities are attached and its own prediction gives the
auxiliary loss. Frames 1..T-1 are propagated one by one from memory (the inference engine's
:class:`~hqtrack_core.inference.memory.MemoryState`); after each prediction the frame is
written to memory (short-term always, long-term every ``long_term_gap`` frames, never evicted) with the identity
embedding of either the ground truth (early training) or the model's own argmax prediction
("sequence training", detached, once ``use_prev_pred`` is on) -- the official recipe.

The network is used only through the batched, differentiable tensor methods of
:class:`hqtrack_core.model.vmos.VMOS`: ``encode``, ``id_embedding``, ``propagate`` (with a memory, or a
reference frame's own ID tokens), ``decode`` and ``memory_entry``. The unroll equals aot-benchmark's
``AOTEngine.forward`` training path (tested against it: per-frame losses within 1e-6).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..inference.memory import MemoryEntry, MemoryPolicy, MemoryState
from .losses import SegmentationLoss


@dataclass
class UnrollOutput:
    """Per-clip loss and per-frame records of one unrolled batch.

    loss: (B,) total per clip; frame_losses: T tensors (B,) (frame 0 = reference/aux);
    predictions: T label maps (B, H, W) long (argmax, detached).
    """

    loss: torch.Tensor
    frame_losses: list[torch.Tensor]
    predictions: list[torch.Tensor]


def one_hot(labels: torch.Tensor, num_ids: int) -> torch.Tensor:
    """(N, H, W) long -> (N, num_ids, H, W) float."""
    ids = torch.arange(num_ids, device=labels.device).view(1, -1, 1, 1)
    return (labels.unsqueeze(1) == ids).float()


def _detach(x):
    """Detach a tensor or every tensor field of a dataclass (multi-scale ID embeddings)."""
    if isinstance(x, torch.Tensor):
        return x.detach()
    if dataclasses.is_dataclass(x):
        return dataclasses.replace(x, **{f.name: _detach(getattr(x, f.name)) for f in dataclasses.fields(x)})
    return x


def random_id_permutation(num_ids: int, batch: int, generator: torch.Generator | None = None,
                          device: torch.device | None = None) -> torch.Tensor:
    """(B, K+1, K+1) permutation matrices keeping the background slot 0 fixed (ID shuffling)."""
    mats = []
    eye = torch.eye(num_ids, device=device)
    for _ in range(batch):
        fg = torch.randperm(num_ids - 1, generator=generator) + 1
        mats.append(torch.cat([eye[:1], eye[fg.to(eye.device)]], dim=0))
    return torch.stack(mats)


class ClipUnroller(nn.Module):
    """Wraps the VMOS network so that one ``forward`` = one training clip batch (DDP wraps this module)."""

    def __init__(self, model: nn.Module, loss: SegmentationLoss, long_term_gap: int = 9999,
                 align_corners: bool = True) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss
        # the official training memory: the reference, a long-term entry every ``long_term_gap`` frames (unbounded),
        # the previous frame as short-term memory
        self.memory_policy = MemoryPolicy(long_term_gap=long_term_gap, max_long_term=None, short_term_skip=1)
        self.align_corners = align_corners

    @property
    def max_objects(self) -> int:
        return int(getattr(self.model, "max_obj_num", 10))

    def forward(self, frames: torch.Tensor, labels: torch.Tensor, n_objects: list[int], step: int,
                aux_weight: float, use_prev_pred: bool, id_shuffle: torch.Tensor | None = None) -> UnrollOutput:
        """frames: (B, T, 3, H, W) normalised; labels: (B, T, H, W) long; n_objects: B ints;
        id_shuffle: (B, K+1, K+1) permutation or None."""
        B, T = frames.shape[:2]
        H, W = frames.shape[-2:]
        K1 = self.max_objects + 1
        if labels.shape != (B, T, H, W):
            raise ValueError(f"labels {tuple(labels.shape)} do not match frames {tuple(frames.shape)}")
        if max(n_objects) >= K1:
            raise ValueError(f"at most {K1 - 1} objects per clip, got {max(n_objects)}")
        m = self.model
        # Frame-major batch (T*B) like the official engine; all frames are encoded at once.
        flat = frames.transpose(0, 1).reshape(T * B, *frames.shape[2:])
        feats = m.encode(flat)
        per_frame = [feats.select(slice(t * B, (t + 1) * B)) for t in range(T)]
        gt = labels.transpose(0, 1)  # (T, B, H, W)
        gt_one_hot = [one_hot(gt[t], K1) for t in range(T)]
        keep = torch.arange(K1, device=frames.device).view(1, -1, 1, 1) <= torch.tensor(
            n_objects, device=frames.device).view(-1, 1, 1, 1)

        def identity(oh: torch.Tensor, detach: bool) -> torch.Tensor:
            if id_shuffle is not None:
                oh = torch.einsum("bohw,bot->bthw", oh, id_shuffle)
            emb = m.id_embedding(oh)
            return _detach(emb) if detach else emb

        def logits_of(prop, features) -> torch.Tensor:
            logits = m.decode(prop, features)
            if id_shuffle is not None:
                logits = torch.einsum("bohw,bto->bthw", logits, id_shuffle)
            return logits.masked_fill(~keep, -1e4 if logits.dtype == torch.float16 else -1e10)

        def predict(logits: torch.Tensor) -> torch.Tensor:
            up = F.interpolate(logits.detach(), size=(H, W), mode="bilinear", align_corners=self.align_corners)
            return up.argmax(dim=1)

        # Reference frame: attach ground-truth identities; its own prediction gives the auxiliary loss.
        ref_id = identity(gt_one_hot[0], detach=use_prev_pred)
        ref_prop = m.propagate(per_frame[0], id_emb=ref_id)
        memory = MemoryState(self.memory_policy)
        memory.add_reference(MemoryEntry(0, *m.memory_entry(ref_prop, ref_id), "reference"))
        with torch.set_grad_enabled(torch.is_grad_enabled() and aux_weight > 0):
            ref_logits = logits_of(ref_prop, per_frame[0])
            aux_loss = self.loss_fn(ref_logits, gt[0], n_objects, step)
        frame_losses = [aux_loss]
        predictions = [predict(ref_logits)]
        prop = None
        for t in range(1, T):
            if prop is not None:  # write frame t-1 to memory
                if use_prev_pred:
                    id_emb = identity(one_hot(predictions[-1], K1), detach=True)
                else:
                    id_emb = identity(gt_one_hot[t - 1], detach=False)
                memory.add_frame(MemoryEntry(t - 1, *m.memory_entry(prop, id_emb), "short_term"))
            prop = m.propagate(per_frame[t], memory.layer_memories())
            logits = logits_of(prop, per_frame[t])
            frame_losses.append(self.loss_fn(logits, gt[t], n_objects, step))
            predictions.append(predict(logits))
        pred_loss = torch.stack(frame_losses[1:]).mean(dim=0)
        loss = aux_weight * frame_losses[0] + pred_loss if aux_weight > 0 else pred_loss
        return UnrollOutput(loss=loss, frame_losses=[fl.detach() for fl in frame_losses], predictions=predictions)
