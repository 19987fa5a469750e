"""HQTrack's multi-scale propagation ("MSDeAOT_V2"): three 1/16 GPMs, a cascaded 1/8 GPM, a 1/4 head.

DeAOT propagates object identities only at 1/16 of the image. HQTrack (Zhu et al., 2023) adds a second,
finer propagation at 1/8 and decodes from 1/4, as the released code does (``networks/layers/transformer.py``
``MSDualBranchGPM_V2``, ``networks/models/msdeaot_v2.py``, ``networks/engines/msdeaot_engine_v2.py``):

1. **1/16**: ``LSTT.layers.{0,1,2}``, three dual-branch GPMs (d = 256) on the projected stride-16 feature,
   matching long- and short-term memory exactly as DeAOT.
2. **into 1/8**: the three visual outputs are concatenated (768 ch) -> ``s8_cons_in`` (1x1 conv + GN, 128)
   -> ReLU -> bilinear x2 (align_corners) -> ``+ s8_proj(x8)`` (1x1 projection of the 1/8 backbone feature)
   -> ``s8_cons_out`` (two residual GN blocks) -> ReLU. The ID branch the same with ``s8_cons_in_id`` /
   ``s8_cons_out_id`` (and the same projected ``x8``).
3. **1/8**: ``LSTT.layer_s8``, one GPM with d = 128 (d_att = 64), visual and ID inputs from step 2, its own
   long/short-term memory and its own ID bank ``patch_wise_id_bank_s8`` (stride 16, LayerNorm ``id_norm_s8``,
   nearest-upsampled to the 1/8 grid).
4. **into 1/4**: ``s4_cons_in`` (1x1 conv + GN, 64) -> ReLU -> bilinear -> ``+ s4_proj(x4)`` -> ``s4_cons_out``
   -> ReLU, ID branch alike; concat (128) -> ``LSTT.decoder_norms_s4.0`` (GroupNorm, 2 groups).
5. **head** (``head="quarter"``, released): ``conv_output1`` (3x3 conv + GN) -> ReLU -> ``conv_output2``
   (1x1) -> ``max_obj + 1`` logits at 1/4. The official FPN ``decoder`` and ``LSTT.decoder_norms.0`` are
   built but never called; ``head="fpn"`` (the paper's description) runs that FPN decoder on the normalised
   last 1/16 output, adding the 1/4 embedding at its last stage (the official ``FPNSegmentationHead2``).

Memory has four layers: three at 1/16 and ``layer_s8`` at 1/8 (``4x`` the tokens of a 1/16 layer).
Parity with the official code: ``tests/test_hqtrack_parity.py`` (max |logit diff| <= 1e-4 per frame).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .config import VMOSConfig, get_config
from .decoder import ConvGN
from .gpm import GatedPropagationModule, LayerMemory, LayerState
from .identification import one_hot_labels
from .propagation import GroupNorm1D
from .vmos import VMOS, Features, Propagation

HEADS = ("quarter", "fpn")


class ResBlock(nn.Module):
    """``x + GN(conv3x3(ReLU(GN(conv3x3(ReLU x)))))`` (official ``ResBlock``, same in/out channels)."""

    def __init__(self, dim: int, gn_groups: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(dim, dim, kernel_size=3, padding=1)
        self.gn1 = nn.GroupNorm(gn_groups, dim)
        self.gn2 = nn.GroupNorm(gn_groups, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.gn1(self.conv1(F.relu(x)))
        r = self.gn2(self.conv2(F.relu(r)))
        return x + r


class ResGN(nn.Module):
    """Two :class:`ResBlock` (official ``ResGN``; names ``res1``, ``res2``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.res1 = ResBlock(dim)
        self.res2 = ResBlock(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res2(self.res1(x))


def _tokens(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, h, w) -> (B, h*w, C)``."""
    return x.flatten(2).transpose(1, 2)


def _grid(tokens: torch.Tensor, size_2d: tuple[int, int]) -> torch.Tensor:
    """``(B, h*w, C) -> (B, C, h, w)``."""
    b, _, c = tokens.shape
    return tokens.transpose(1, 2).reshape(b, c, *size_2d)


def cross_scale_fuse(x: torch.Tensor, skip: torch.Tensor, cons_in: nn.Module, cons_out: nn.Module) -> torch.Tensor:
    """Bring a coarse embedding to a finer grid: ``ReLU(cons_out(skip + up(ReLU(cons_in(x)))))``.

    ``x (B, C_in, h, w)``, ``skip (B, C, H', W')`` (the projected backbone feature of the finer scale) ->
    ``(B, C, H', W')``; bilinear upsampling with align_corners, as released. The visual and the ID branch use
    their own ``cons_in``/``cons_out`` and the same ``skip``.
    """
    x = F.relu(cons_in(x))
    x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=True)
    return F.relu(cons_out(skip + x))


@dataclass
class MultiScaleIDs:
    """ID embeddings of one mask: 1/16 tokens ``(B, L16, d)`` and 1/8 tokens ``(B, L8, d8)``."""

    s16: torch.Tensor
    s8: torch.Tensor

    def select(self, index: torch.Tensor | slice) -> "MultiScaleIDs":
        return MultiScaleIDs(self.s16[index], self.s8[index])


@dataclass
class MultiScalePropagation(Propagation):
    """:class:`Propagation` of the multi-scale LSTT.

    ``embedding`` is the normalised 1/4 embedding ``(B, 128, h4, w4)`` (the released head's input);
    ``embedding_16`` the normalised last 1/16 output ``(B, 2d, h, w)`` (the FPN head's input);
    ``states`` has four entries (layers 0-2 at 1/16, ``layer_s8`` at 1/8); ``sizes`` their token grids.
    """

    embedding_16: torch.Tensor | None = None
    sizes: tuple[tuple[int, int], ...] = ()


class MultiScaleLSTT(nn.Module):
    """The released ``MSDualBranchGPM_V2`` (official parameter names; see the module docstring)."""

    def __init__(self, cfg: VMOSConfig) -> None:
        super().__init__()
        d, d8 = cfg.embed_dim, cfg.s8_embed_dim
        if cfg.s8_num_layers != 1:
            raise ValueError(f"the released multi-scale propagation has one 1/8 layer, got {cfg.s8_num_layers}")
        self.num_layers = cfg.num_layers
        layers = []
        for idx in range(cfg.num_layers):
            rate = cfg.drop_path * idx / max(cfg.num_layers - 1, 1) if cfg.drop_path_scaling else cfg.drop_path
            if cfg.drop_path_scaling and cfg.num_layers == 1:
                rate = 0.0
            layers.append(GatedPropagationModule(d, cfg.att_dim, cfg.expand_ratio, rate, cfg.max_local_distance,
                                                 cfg.local_dilation, layer_idx=idx))
        self.layers = nn.ModuleList(layers)
        # The 1/8 GPM: never layer 0 (it has an ID-branch input), no drop-path (official layer_idx=3, rate 0).
        self.layer_s8 = GatedPropagationModule(d8, d8 // 2, cfg.expand_ratio, 0.0, cfg.max_local_distance,
                                               cfg.local_dilation, layer_idx=cfg.num_layers)
        c4, c8 = cfg.encoder_dims[0], cfg.encoder_dims[1]
        d4 = d8 // 2
        self.s8_cons_in = ConvGN(d * cfg.num_layers, d8, 1)
        self.s8_cons_in_id = ConvGN(d * cfg.num_layers, d8, 1)
        self.s8_cons_out = ResGN(d8)
        self.s8_cons_out_id = ResGN(d8)
        self.s8_proj = nn.Conv2d(c8, d8, 1)
        self.s4_cons_in = ConvGN(d8, d4, 1)
        self.s4_cons_in_id = ConvGN(d8, d4, 1)
        self.s4_cons_out = ResGN(d4)
        self.s4_cons_out_id = ResGN(d4)
        self.s4_proj = nn.Conv2d(c4, d4, 1)
        self.decoder_norms = nn.ModuleList([GroupNorm1D(d * 2, groups=2)])  # used by head="fpn" only
        self.decoder_norms_s4 = nn.ModuleList([GroupNorm1D(d8, groups=2)])
        # Fusion convs keep PyTorch's default initialisation, as the released code.

    def forward(self, tgt: torch.Tensor, x8: torch.Tensor, x4: torch.Tensor,
                memories: list[LayerMemory] | None, size_2d: tuple[int, int],
                id_emb: MultiScaleIDs | None = None, need_16: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None, list[LayerState]]:
        """Propagate one frame.

        Args:
            tgt: ``(B, L16, d)`` tokens of the projected stride-16 feature (grid ``size_2d``).
            x8, x4: backbone features ``(B, C1, h8, w8)`` and ``(B, C0, h4, w4)``.
            memories: ``num_layers + 1`` :class:`LayerMemory` (the last one at 1/8), or None with ``id_emb``
                for a reference frame attending to itself.
            need_16: also return the normalised last 1/16 output ``(B, L16, 2d)`` (FPN head).

        Returns:
            ``(out4 (B, L4, d8), out16 or None, states)``: ``out4`` = GN([visual, ID]) at 1/4 (``d8 / 2`` channels
            each), ``num_layers + 1`` states.
        """
        expected = self.num_layers + 1
        if memories is not None and len(memories) != expected:
            raise ValueError(f"multi-scale LSTT needs {expected} layer memories (last at 1/8), got {len(memories)}")
        if memories is None and id_emb is None:
            raise ValueError("give memories, or the frame's own ID embeddings for a reference frame")
        tgt_id = None
        states, visual, ids = [], [], []
        for idx, layer in enumerate(self.layers):
            tgt, tgt_id, state = layer(tgt, tgt_id, None if memories is None else memories[idx], size_2d,
                                       None if id_emb is None else id_emb.s16)
            states.append(state)
            visual.append(_grid(tgt, size_2d))
            ids.append(_grid(tgt_id, size_2d))
        out16 = self.decoder_norms[-1](torch.cat([tgt, tgt_id], dim=-1)) if need_16 else None

        # 1/16 -> 1/8 (both branches share the projected backbone skip).
        skip8 = self.s8_proj(x8)
        size8 = tuple(skip8.shape[-2:])
        v8 = cross_scale_fuse(torch.cat(visual, dim=1), skip8, self.s8_cons_in, self.s8_cons_out)
        i8 = cross_scale_fuse(torch.cat(ids, dim=1), skip8, self.s8_cons_in_id, self.s8_cons_out_id)
        v8, i8, state8 = self.layer_s8(_tokens(v8), _tokens(i8), None if memories is None else memories[-1],
                                       size8, None if id_emb is None else id_emb.s8)
        states.append(state8)

        # 1/8 -> 1/4, then GroupNorm of [visual, ID].
        skip4 = self.s4_proj(x4)
        v4 = cross_scale_fuse(_grid(v8, size8), skip4, self.s4_cons_in, self.s4_cons_out)
        i4 = cross_scale_fuse(_grid(i8, size8), skip4, self.s4_cons_in_id, self.s4_cons_out_id)
        out4 = self.decoder_norms_s4[-1](torch.cat([_tokens(v4), _tokens(i4)], dim=-1))
        return out4, out16, states


class MultiScaleVMOS(VMOS):
    """HQTrack's VMOS: a :class:`VMOS` whose LSTT is :class:`MultiScaleLSTT` (official attribute names).

    Same tensor methods as :class:`VMOS` (``encode``, ``id_embedding``, ``propagate``, ``memory_entry``,
    ``decode``); ``id_embedding`` returns :class:`MultiScaleIDs`, ``propagate`` a
    :class:`MultiScalePropagation`, ``memory_entry`` four layers (the last at 1/8).
    """

    def __init__(self, cfg: VMOSConfig | str = "hqtrack_vmos", pretrained_encoder: bool = False) -> None:
        cfg = get_config(cfg) if isinstance(cfg, str) else cfg
        if not cfg.multiscale:
            raise ValueError("MultiScaleVMOS needs a config with multiscale=True (e.g. 'hqtrack_vmos')")
        if cfg.decoder not in HEADS:
            raise KeyError(f"unknown multi-scale head {cfg.decoder!r}; known: {list(HEADS)}")
        # The DeAOT parts (encoder, projector, FPN decoder, 1/16 ID bank) are built by VMOS.
        super().__init__(replace(cfg, multiscale=False, decoder="fpn"), pretrained_encoder=pretrained_encoder)
        self.cfg = cfg
        self.head = cfg.decoder
        self.LSTT = MultiScaleLSTT(cfg)
        # The 1/8 ID bank is stride 16 too; the released code leaves it at PyTorch's default initialisation
        # (only the 1/16 bank is orthogonal).
        if cfg.align_corners:
            self.patch_wise_id_bank_s8 = nn.Conv2d(cfg.max_obj_num + 1, cfg.s8_embed_dim, 17, stride=16, padding=8)
        else:
            self.patch_wise_id_bank_s8 = nn.Conv2d(cfg.max_obj_num + 1, cfg.s8_embed_dim, 16, stride=16)
        self.id_norm_s8 = nn.LayerNorm(cfg.s8_embed_dim)
        self.conv_output1 = ConvGN(cfg.s8_embed_dim, cfg.s8_embed_dim, 3)
        self.conv_output2 = nn.Conv2d(cfg.s8_embed_dim, cfg.max_obj_num + 1, 1)

    def id_embedding(self, one_hot: torch.Tensor, size_8: tuple[int, int] | None = None) -> MultiScaleIDs:
        """``one_hot (B, max_obj + 1, H, W)`` (or probabilities) -> :class:`MultiScaleIDs`.

        The 1/8 tokens come from a stride-16 bank, nearest-upsampled to ``size_8`` (default
        ``ceil(H / 8) x ceil(W / 8)``, the 1/8 grid of every encoder here, as the released engine computes it).
        """
        return self._ids(one_hot, one_hot.shape[1], size_8)

    def id_embedding_from_labels(self, labels: torch.Tensor, size_8: tuple[int, int] | None = None
                                 ) -> MultiScaleIDs:
        """``labels (B, H, W)`` slot indices -> :class:`MultiScaleIDs`; only the used identities are convolved
        (the other one-hot channels are zero: same result, less work)."""
        n = int(labels.max()) + 1 if labels.numel() else 1
        if n > self.max_obj_num + 1:
            raise ValueError(f"label {n - 1} exceeds max_obj_num={self.max_obj_num}")
        if self.training:
            n = self.max_obj_num + 1
        return self._ids(one_hot_labels(labels, n), n, size_8)

    def _ids(self, one_hot: torch.Tensor, n: int, size_8: tuple[int, int] | None) -> MultiScaleIDs:
        if one_hot.dim() != 4 or n > self.max_obj_num + 1:
            raise ValueError(f"one-hot masks must be (B, <= {self.max_obj_num + 1}, H, W), got {tuple(one_hot.shape)}")

        def bank(conv: nn.Conv2d) -> torch.Tensor:
            if n == conv.in_channels:
                return conv(one_hot)
            return F.conv2d(one_hot, conv.weight[:, :n], conv.bias, conv.stride, conv.padding)

        s16 = self.id_norm(_tokens(bank(self.patch_wise_id_bank)))
        h, w = one_hot.shape[-2:]
        size_8 = size_8 or (-(-h // 8), -(-w // 8))
        emb8 = bank(self.patch_wise_id_bank_s8)  # (B, d8, h16, w16): the 1/8 bank has stride 16 too
        emb8 = self.id_norm_s8(emb8.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        emb8 = F.interpolate(emb8, size=size_8, mode="nearest")
        return MultiScaleIDs(s16=s16, s8=_tokens(emb8))

    def propagate(self, features: Features, memories: list[LayerMemory] | None = None,
                  id_emb: MultiScaleIDs | None = None) -> MultiScalePropagation:
        x4, x8 = features.shortcuts[0], features.shortcuts[1]
        size16 = features.size_2d
        if id_emb is not None and id_emb.s8.shape[1] != x8.shape[-2] * x8.shape[-1]:
            raise ValueError(f"1/8 ID tokens ({id_emb.s8.shape[1]}) do not match the 1/8 grid {tuple(x8.shape[-2:])}")
        out4, out16, states = self.LSTT(features.tokens, x8, x4, memories, size16, id_emb,
                                        need_16=self.head == "fpn")
        size8, size4 = tuple(x8.shape[-2:]), tuple(x4.shape[-2:])
        return MultiScalePropagation(
            embedding=_grid(out4, size4),
            states=states,
            size_2d=size16,
            embedding_16=None if out16 is None else _grid(out16, size16),
            sizes=tuple([size16] * self.LSTT.num_layers + [size8]),
        )

    def memory_entry(self, propagation: Propagation, id_emb: MultiScaleIDs
                     ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Keys and values per layer: ``num_layers`` at 1/16 (``id_emb.s16``), then ``layer_s8`` (``id_emb.s8``)."""
        keys, values = [], []
        layers = list(self.LSTT.layers) + [self.LSTT.layer_s8]
        embs = [id_emb.s16] * self.LSTT.num_layers + [id_emb.s8]
        for layer, state, emb in zip(layers, propagation.states, embs):
            k, v = layer.memory_value(state, emb)
            keys.append(k)
            values.append(v)
        return keys, values

    def decode(self, propagation: Propagation, features: Features) -> torch.Tensor:
        """Logits ``(B, max_obj + 1, H/4, W/4)``: the 1/4 head (released) or the FPN decoder (paper)."""
        if self.head == "quarter":
            return self.conv_output2(F.relu(self.conv_output1(propagation.embedding)))
        if propagation.embedding_16 is None:
            raise ValueError("the FPN head needs the 1/16 embedding: propagate with a model built with head 'fpn'")
        return self.fpn_decode(propagation.embedding_16, propagation.embedding, features.shortcuts)

    def fpn_decode(self, x16: torch.Tensor, x4: torch.Tensor, shortcuts: list[torch.Tensor]) -> torch.Tensor:
        """FPN decoder on the 1/16 output, the 1/4 embedding added at its last stage (``FPNSegmentationHead2``)."""
        dec = self.decoder

        def up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
            return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=dec.align_corners)

        x = F.relu(dec.conv_in(x16))
        x = F.relu(dec.conv_16x(dec.adapter_16x(shortcuts[-2]) + x))
        x = F.relu(dec.conv_8x(dec.adapter_8x(shortcuts[-3]) + up(x, shortcuts[-3])))
        x = F.relu(dec.conv_4x(dec.adapter_4x(shortcuts[-4]) + up(x, shortcuts[-4]) + x4))
        return dec.conv_out(x)
