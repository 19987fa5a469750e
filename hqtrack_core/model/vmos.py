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

from dataclasses import dataclass

import torch
from torch import nn

from .config import VMOSConfig, get_config
from .decoder import FPNSegmentationHead
from .encoders import build_encoder
from .gpm import LayerMemory, LayerState
from .identification import build_id_bank, id_tokens
from .propagation import LSTT


@dataclass
class Features:
    """Encoder output of a batch of frames."""

    shortcuts: list[torch.Tensor]  # [x4, x8, x16, projected x16 (B, d, h, w)]

    @property
    def tokens(self) -> torch.Tensor:
        """``(B, h*w, d)`` tokens of the projected stride-16 feature (the LSTT input)."""
        return self.shortcuts[-1].flatten(2).transpose(1, 2)

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

    def propagate(self, features: Features, memories: list[LayerMemory] | None = None,
                  id_emb: torch.Tensor | None = None) -> Propagation:
        """Run the LSTT on a frame. Give ``memories`` (one :class:`LayerMemory` per layer) to match
        against memory, or ``id_emb`` to encode a reference frame against itself."""
        h, w = features.size_2d
        out, states = self.LSTT(features.tokens, memories, (h, w), id_emb)
        b = out.shape[0]
        return Propagation(out.transpose(1, 2).reshape(b, -1, h, w), states, (h, w))

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


def build_vmos(name: str = "deaot_t", pretrained_encoder: bool = False, **overrides) -> VMOS:
    """Registry builder: ``build_vmos("deaot_l")``; keyword overrides replace config fields."""
    return VMOS(get_config(name, **overrides), pretrained_encoder=pretrained_encoder)
