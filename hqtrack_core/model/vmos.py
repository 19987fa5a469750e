"""The VMOS network of DeAOT: encoder, ID bank, LSTT propagation, FPN decoder.

Module attributes equal aot-benchmark's ``DeAOT`` (``encoder``, ``encoder_projector``, ``LSTT``, ``decoder``,
``patch_wise_id_bank``, ``id_norm``) so an official state dict loads 1:1 (see ``checkpoint.py``).

The network is used through four batched, differentiable tensor methods (the inference engine and the
trainer both call them):

- :meth:`VMOS.encode`: ``images (B, 3, H, W)`` -> :class:`Features`
- :meth:`VMOS.id_embedding`: ``one_hot (B, max_obj + 1, H, W)`` -> ID tokens ``(B, h*w, d)``
- :meth:`VMOS.propagate`: features + memory (or the frame's own ID tokens for a reference frame) ->
  :class:`Propagation` (embedding ``(B, 2d, h, w)`` + per-layer states to write memory)
- :meth:`VMOS.decode`: embedding + features -> logits ``(B, max_obj + 1, H', W')`` at stride 4
- :meth:`VMOS.memory_entry`: per-layer states + ID tokens of the frame's mask -> (keys, values) per layer
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from .config import VMOSConfig, get_config
from .decoder import FPNSegmentationHead
from .encoders import build_encoder
from .gpm import LayerMemory, LayerState
from .identification import build_id_bank, id_tokens, one_hot_labels
from .propagation import LSTT


@dataclass
class Features:
    """Encoder output of a batch of frames."""

    shortcuts: list[torch.Tensor]  # [x4, x8, x16, projected x16 (B, d, h, w)]

    @property
    def tokens(self) -> torch.Tensor:
        """``(B, h*w, d)`` tokens of the projected stride-16 feature (the LSTT input); free for a channels-last
        feature map, one copy otherwise."""
        x = self.shortcuts[-1]
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, x.shape[1])

    @property
    def size_2d(self) -> tuple[int, int]:
        return tuple(self.shortcuts[-1].shape[-2:])

    def select(self, index: torch.Tensor | slice) -> "Features":
        return Features([x[index] for x in self.shortcuts])


@dataclass
class Propagation:
    """LSTT output of a frame: the decoder input and what each layer needs to write memory."""

    embedding: torch.Tensor  # (B, 2d, h, w)
    states: list[LayerState]
    size_2d: tuple[int, int]


class VMOS(nn.Module):
    """DeAOT video object segmentation network (one group of ``max_obj_num`` objects per batch item)."""

    def __init__(self, cfg: VMOSConfig | str = "deaot_t", pretrained_encoder: bool = False) -> None:
        super().__init__()
        cfg = get_config(cfg) if isinstance(cfg, str) else cfg
        if cfg.multiscale:
            raise ValueError("multiscale configs are built by hqtrack_core.model.multiscale, not VMOS")
        self.cfg = cfg
        self.max_obj_num = cfg.max_obj_num
        self.encoder = build_encoder(cfg.encoder, pretrained=pretrained_encoder, frozen_bn=cfg.freeze_bn,
                                     freeze_at=cfg.encoder_freeze_at)
        self.encoder_projector = nn.Conv2d(cfg.encoder_dims[-1], cfg.embed_dim, kernel_size=1)
        self.LSTT = LSTT(cfg.num_layers, cfg.embed_dim, cfg.att_dim, cfg.expand_ratio, cfg.drop_path,
                         cfg.drop_path_scaling, cfg.max_local_distance, cfg.local_dilation)
        if cfg.decoder != "fpn":
            raise KeyError(f"unknown decoder {cfg.decoder!r}; known: ['fpn']")
        self.decoder = FPNSegmentationHead(cfg.embed_dim * 2, cfg.max_obj_num + 1, hidden_dim=cfg.embed_dim,
                                           shortcut_dims=cfg.encoder_dims, align_corners=cfg.align_corners)
        self.patch_wise_id_bank = build_id_bank(cfg.max_obj_num + 1, cfg.embed_dim, cfg.align_corners)
        self.id_norm = nn.LayerNorm(cfg.embed_dim)
        nn.init.xavier_uniform_(self.encoder_projector.weight)

    # ----------------------------------------------------------------------------------------------
    def encode(self, images: torch.Tensor) -> Features:
        """``images (B, 3, H, W)`` normalised -> :class:`Features` (strides 4, 8, 16, 16)."""
        xs = list(self.encoder(images))
        xs[-1] = self.encoder_projector(xs[-1])
        return Features(xs)

    def id_embedding(self, one_hot: torch.Tensor) -> torch.Tensor:
        """``one_hot (B, max_obj + 1, H, W)`` (or probabilities) -> ID tokens ``(B, h*w, d)``."""
        return id_tokens(self.patch_wise_id_bank, self.id_norm, one_hot)

    def id_embedding_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """``labels (B, H, W)`` slot indices -> ID tokens ``(B, h*w, d)``; only the ``max(labels) + 1``
        used identities are convolved (the others are all-zero channels: same result, less work)."""
        n = int(labels.max()) + 1 if labels.numel() else 1
        if n > self.max_obj_num + 1:
            raise ValueError(f"label {n - 1} exceeds max_obj_num={self.max_obj_num}")
        one_hot = one_hot_labels(labels, n)
        if self.training or n == self.max_obj_num + 1:
            return self.id_embedding(one_hot_labels(labels, self.max_obj_num + 1))
        bank = self.patch_wise_id_bank
        emb = F.conv2d(one_hot, bank.weight[:, :n], bank.bias, bank.stride, bank.padding)
        return self.id_norm(emb.flatten(2).transpose(1, 2))

    def propagate(self, features: Features, memories: list[LayerMemory] | None = None,
                  id_emb: torch.Tensor | None = None) -> Propagation:
        """Run the LSTT on a frame. Give ``memories`` (one :class:`LayerMemory` per layer) to match
        against memory, or ``id_emb`` to encode a reference frame against itself."""
        h, w = features.size_2d
        out, states = self.LSTT(features.tokens, memories, (h, w), id_emb)
        b = out.shape[0]
        # (B, L, 2d) tokens viewed as a channels-last (B, 2d, h, w) map: no copy
        return Propagation(out.reshape(b, h, w, -1).permute(0, 3, 1, 2), states, (h, w))

    def memory_entry(self, propagation: Propagation, id_emb: torch.Tensor
                     ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Keys ``(B, L, d_att)`` and values ``(B, L, 2E)`` per layer for the frame labelled ``id_emb``."""
        keys, values = [], []
        for layer, state in zip(self.LSTT.layers, propagation.states):
            k, v = layer.memory_value(state, id_emb)
            keys.append(k)
            values.append(v)
        return keys, values

    def decode(self, propagation: Propagation, features: Features) -> torch.Tensor:
        """Logits ``(B, max_obj + 1, H/4, W/4)`` (stride-4 grid of the encoder)."""
        return self.decoder(propagation.embedding, features.shortcuts)


def _fold_pair(conv: nn.Conv2d, bn: nn.Module) -> None:
    """Fold an eval-mode (frozen) BatchNorm into the preceding convolution, in place."""
    scale = bn.weight * (bn.running_var + bn.eps).rsqrt()
    conv.weight.data = conv.weight.data * scale.view(-1, 1, 1, 1)
    bias = conv.bias.data if conv.bias is not None else torch.zeros_like(scale)
    conv.bias = nn.Parameter(bn.bias + (bias - bn.running_mean) * scale)


def fold_frozen_batchnorm(module: nn.Module) -> int:
    """Fold every ``Conv2d -> FrozenBatchNorm2d`` pair of ``module`` (Sequential neighbours and ``convN``/``bnN``
    attribute pairs, as in torchvision's MobileNetV2 / ResNet); the BN becomes ``Identity``. Returns pairs."""
    count = 0
    for mod in list(module.modules()):
        if isinstance(mod, nn.Sequential):
            names = list(mod._modules)
            for a, b in zip(names, names[1:]):
                if isinstance(mod._modules[a], nn.Conv2d) and isinstance(mod._modules[b], FrozenBatchNorm2d):
                    _fold_pair(mod._modules[a], mod._modules[b])
                    mod._modules[b] = nn.Identity()
                    count += 1
        for i in range(1, 4):
            conv, bn = getattr(mod, f"conv{i}", None), getattr(mod, f"bn{i}", None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, FrozenBatchNorm2d):
                _fold_pair(conv, bn)
                setattr(mod, f"bn{i}", nn.Identity())
                count += 1
    return count


def inference_copy(model: VMOS) -> VMOS:
    """A deep copy of ``model`` made for fast inference: eval mode, no grads, frozen BatchNorms folded
    into their convolutions, convolutional parts in channels-last memory format. Outputs equal the
    original's up to float rounding (the parity tests run on this copy)."""
    fast = copy.deepcopy(model).eval()
    for p in fast.parameters():
        p.requires_grad_(False)
    if model.cfg.freeze_bn:
        fold_frozen_batchnorm(fast.encoder)
    fast.encoder.to(memory_format=torch.channels_last)
    fast.decoder.to(memory_format=torch.channels_last)
    return fast
