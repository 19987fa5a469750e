"""Per-frame segmentation loss of DeAOT/HQTrack training.

``0.5 * bootstrapped cross-entropy + 0.5 * soft Jaccard``, computed per clip over the identities actually
present (background + ``n_objects`` channels; unused ID slots are excluded). The cross-entropy keeps only
the hardest ``k`` percent of pixels, with ``k`` ramped from 100% down to ``top_k_percent`` over the first
``hard_mining_steps`` steps (bootstrapping). Label 255 is ignored by both terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

IGNORE_INDEX = 255


def top_k_fraction(step: int, top_k_percent: float, hard_mining_steps: float) -> float:
    """Fraction of pixels the bootstrapped CE keeps at ``step``: 1.0 at step 0, ``top_k_percent`` from
    ``hard_mining_steps`` on (linear in between)."""
    if hard_mining_steps <= 0:
        return top_k_percent
    ratio = min(1.0, step / float(hard_mining_steps))
    return ratio * top_k_percent + (1.0 - ratio)


def bootstrapped_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, fraction: float) -> torch.Tensor:
    """Mean CE over the hardest ``fraction`` of the pixels of one clip.

    logits: (1, C, H, W); labels: (H, W) long in [0, C) or 255. Returns a scalar.
    """
    pixel_losses = F.cross_entropy(logits, labels.unsqueeze(0), ignore_index=IGNORE_INDEX, reduction="none")
    pixel_losses = pixel_losses.flatten()
    k = max(1, int(fraction * pixel_losses.numel()))
    if k >= pixel_losses.numel():
        return pixel_losses.mean()
    return torch.topk(pixel_losses, k=k, sorted=False).values.mean()


def soft_jaccard(logits: torch.Tensor, labels: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``1 - soft IoU`` averaged over the classes present in ``labels`` (Tversky with alpha = beta = 1).

    logits: (1, C, H, W); labels: (H, W). Returns a scalar (0 when no class is present).
    """
    probs = logits.softmax(dim=1)[0].flatten(1)  # (C, P)
    flat = labels.flatten()
    valid = flat != IGNORE_INDEX
    probs, flat = probs[:, valid], flat[valid]
    terms = []
    for c in range(probs.shape[0]):
        gt = (flat == c).to(probs.dtype)
        if gt.sum() == 0:
            continue
        p = probs[c]
        inter = (p * gt).sum()
        terms.append(1.0 - inter / (inter + (p * (1 - gt)).sum() + ((1 - p) * gt).sum() + eps))
    if not terms:
        return probs.sum() * 0.0
    return torch.stack(terms).mean()


@dataclass(frozen=True)
class SegmentationLoss:
    """``ce_weight * bootstrapped CE + jaccard_weight * soft Jaccard`` with the top-k ramp."""

    top_k_percent: float = 0.15
    hard_mining_steps: float = 50_000
    ce_weight: float = 0.5
    jaccard_weight: float = 0.5

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, n_objects: list[int], step: int
                 ) -> torch.Tensor:
        """Loss per clip.

        logits: (B, K+1, h, w) ID logits (any size; resized bilinearly to the labels);
        labels: (B, H, W) or (B, 1, H, W) long; n_objects: objects per clip. Returns (B,).
        """
        if labels.dim() == 4:
            labels = labels[:, 0]
        if logits.shape[0] != labels.shape[0] or len(n_objects) != labels.shape[0]:
            raise ValueError(
                f"batch mismatch: logits {tuple(logits.shape)}, labels {tuple(labels.shape)}, "
                f"n_objects {len(n_objects)}"
            )
        if logits.shape[-2:] != labels.shape[-2:]:
            logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=True)
        fraction = top_k_fraction(step, self.top_k_percent, self.hard_mining_steps)
        out = []
        for b, n in enumerate(n_objects):
            lg = logits[b: b + 1, : n + 1].float()
            lb = labels[b].long()
            out.append(self.ce_weight * bootstrapped_cross_entropy(lg, lb, fraction)
                       + self.jaccard_weight * soft_jaccard(lg, lb))
        return torch.stack(out)


def aux_weight_at(step: int, aux_weight: float, aux_steps: float) -> float:
    """Weight of the reference-frame loss: ``aux_weight`` at step 0 decaying linearly to 0 at ``aux_steps``."""
    if aux_steps <= 0:
        return 0.0
    return aux_weight * max(aux_steps - step, 0.0) / aux_steps
