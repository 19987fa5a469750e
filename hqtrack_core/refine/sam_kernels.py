"""Faster CPU kernels for ``segment-anything-hq``'s image encoder and mask decoder, equal to the package's within float
rounding.

All are applied *in place* to a model built by the package (:func:`apply_fast_kernels`), keep every parameter
and state-dict name, and are checked against the package's own modules in ``tests/test_refiner_sam.py``:

* :func:`fuse_layernorms`: SAM's ``LayerNorm2d`` (six element-wise passes) becomes one ``F.layer_norm`` call.
* :func:`fold_conv_bn`: TinyViT's conv + BatchNorm pairs (vit_tiny's encoder) run as one channels-last
  convolution each.
* :func:`fold_hq_head`: HQ-SAM's mask for the HQ token is ``w_b . (conv2(z) + hq_features)`` with ``w_b`` the
  token's hyper-network output (32 numbers per box) and ``conv2`` a 64->32 channel 3x3 convolution over a
  256x256 map. Because ``conv2`` is linear and only its dot product with ``w_b`` is ever used, the two fold into
  one 64->1 convolution per box with kernel ``sum_c w_b[c] * conv2.weight[c]`` and bias ``w_b . conv2.bias``:
  the decoder's most expensive layer (1.2 GFLOP per box) shrinks 32-fold, and the ``(B, 32, 256, 256)`` HQ
  embedding is never built. The preceding conv / LayerNorm / GELU run in channels-last layout, so the fused
  LayerNorm needs no transposed copy.

Everything else (prompt encoder, two-way transformer, upscaling, hyper-network MLPs, IoU head) is the package's
own code, called as is. For box and point prompts (no mask input) the image side enters the transformer once
with batch 1 instead of repeated per prompt: its first layer's image projections then run once per frame.
"""

from __future__ import annotations

import warnings
from types import MethodType

import torch
import torch.nn.functional as F


def _sam_modules():
    with warnings.catch_warnings():  # the package re-registers TinyViT names in timm on import
        warnings.simplefilter("ignore")
        from segment_anything_hq.modeling import MaskDecoderHQ
        from segment_anything_hq.modeling.common import LayerNorm2d
        from segment_anything_hq.modeling.tiny_vit_sam import Conv2d_BN
    return MaskDecoderHQ, LayerNorm2d, Conv2d_BN


class ChannelLayerNorm(torch.nn.Module):
    """SAM's ``LayerNorm2d`` (normalise the channels of ``(B, C, H, W)``) as one fused ``F.layer_norm`` call.

    Same parameters and state-dict names (``weight``, ``bias``), same result within float rounding (~1e-6).
    On a channels-last input the permutes are free views.
    """

    def __init__(self, weight: torch.nn.Parameter, bias: torch.nn.Parameter, eps: float) -> None:
        super().__init__()
        self.weight, self.bias, self.eps = weight, bias, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


def _swap_modules(module: torch.nn.Module, kind: type, make) -> int:
    """Replace every submodule of type ``kind`` inside ``module`` by ``make(submodule)``; returns the count."""
    count = 0
    for name, child in module.named_children():
        if isinstance(child, kind):
            setattr(module, name, make(child))
            count += 1
        else:
            count += _swap_modules(child, kind, make)
    return count


def fuse_layernorms(module: torch.nn.Module) -> int:
    """Replace every SAM ``LayerNorm2d`` inside ``module`` by :class:`ChannelLayerNorm`; returns the count."""
    _, layer_norm_2d, _ = _sam_modules()
    return _swap_modules(module, layer_norm_2d, lambda m: ChannelLayerNorm(m.weight, m.bias, m.eps))


class FoldedConvBN(torch.nn.Module):
    """TinyViT's ``Conv2d_BN`` (a bias-free convolution, then BatchNorm) run as one convolution in eval mode.

    Keeps the two children ``c`` and ``bn`` (so the state-dict names do not change and loading weights later is
    seen); the folded kernel ``c.weight * gamma / sqrt(var + eps)`` and bias ``beta - mean * gamma / sqrt(var +
    eps)`` are recomputed on each call (a few thousand numbers). Runs channels-last, the layout oneDNN's CPU
    convolutions prefer; in training mode it is the plain conv + BatchNorm.
    """

    def __init__(self, block: torch.nn.Module) -> None:
        super().__init__()
        self.c, self.bn = block.c, block.bn
        self.train(block.training)  # a new module starts in training mode: keep the block's

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.bn(self.c(x))
        conv, bn = self.c, self.bn
        scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
        weight = (conv.weight * scale[:, None, None, None]).contiguous(memory_format=torch.channels_last)
        bias = bn.bias - bn.running_mean * scale
        x = x.contiguous(memory_format=torch.channels_last)
        return F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)


def fold_conv_bn(module: torch.nn.Module) -> int:
    """Replace every TinyViT ``Conv2d_BN`` inside ``module`` by :class:`FoldedConvBN`; returns the count."""
    _, _, conv2d_bn = _sam_modules()
    return _swap_modules(module, conv2d_bn, FoldedConvBN)


def apply_fast_kernels(model: torch.nn.Module) -> dict[str, int]:
    """All of this module's kernels on a ``Sam`` model, in place; returns what was swapped (counts)."""
    return {
        "layernorm2d": fuse_layernorms(model),
        "conv2d_bn": fold_conv_bn(model.image_encoder),
        "hq_head": int(fold_hq_head(model)),
    }


def folded_predict_masks(
    decoder: torch.nn.Module,
    image_embeddings: torch.Tensor,
    image_pe: torch.Tensor,
    sparse_prompt_embeddings: torch.Tensor,
    dense_prompt_embeddings: torch.Tensor,
    hq_features: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``MaskDecoderHQ.predict_masks`` with the HQ head folded (see the module docstring); same inputs, outputs.

    Args:
        image_embeddings: ``(1, 256, h, w)`` from the image encoder (``h = w = 64``).
        image_pe: ``(1, 256, h, w)`` dense positional encoding.
        sparse_prompt_embeddings: ``(B, T, 256)``, one row per prompt (box / points).
        dense_prompt_embeddings: ``(B, 256, h, w)``.
        hq_features: ``(1, 32, 4h, 4w)`` fused early/final ViT features of the image.

    Returns:
        ``masks`` ``(B, 5, 4h, 4w)``: SAM's 4 mask tokens then the HQ token, and ``iou_pred`` ``(B, 4)``.
    """
    d = decoder
    n = sparse_prompt_embeddings.shape[0]
    output_tokens = torch.cat([d.iou_token.weight, d.mask_tokens.weight, d.hf_token.weight], dim=0)
    tokens = torch.cat((output_tokens.unsqueeze(0).expand(n, -1, -1), sparse_prompt_embeddings), dim=1)
    if image_embeddings.shape[0] == 1 and (n == 1 or dense_prompt_embeddings.stride(0) == 0):
        # Box / point prompts without a mask input: the dense embedding is one row broadcast to all prompts, so
        # the image side is the same for every prompt until the first image-to-token attention. Passing it with
        # batch 1 lets the package's transformer project it once (its matmuls broadcast over the batch).
        src = image_embeddings + dense_prompt_embeddings[:1]
        pos_src = image_pe
    else:
        src = torch.repeat_interleave(image_embeddings, n, dim=0) + dense_prompt_embeddings
        pos_src = torch.repeat_interleave(image_pe, n, dim=0)
    _, c, h, w = src.shape
    hs, src = d.transformer(src, pos_src, tokens)  # hs (B, 6 + T, 256), src (B, h*w, 256)
    src = src.expand(n, -1, -1)  # (a depth-0 transformer would return the batch-1 image unchanged)
    upscaled = d.output_upscaling(src.transpose(1, 2).reshape(n, c, h, w))  # (B, 32, 4h, 4w)
    _, c8, hh, ww = upscaled.shape
    n_sam = d.num_mask_tokens - 1
    hyper_sam = torch.stack([d.output_hypernetworks_mlps[i](hs[:, 1 + i]) for i in range(n_sam)], dim=1)  # (B,4,32)
    hyper_hq = d.hf_mlp(hs[:, 1 + n_sam])  # (B, 32)
    masks_sam = (hyper_sam @ upscaled.reshape(n, c8, hh * ww)).view(n, n_sam, hh, ww)

    conv_in, norm, act, conv_out = d.embedding_maskfeature
    z = act(norm(conv_in(upscaled.contiguous(memory_format=torch.channels_last))))  # (B, 64, 4h, 4w)
    kernels = torch.einsum("bc,cdij->bdij", hyper_hq, conv_out.weight)  # (B, 64, 3, 3)
    biases = hyper_hq @ conv_out.bias  # (B,)
    masks_hq = torch.cat(
        [F.conv2d(z[i : i + 1], kernels[i : i + 1], biases[i : i + 1], padding=conv_out.padding) for i in range(n)]
    )  # (B, 1, 4h, 4w)
    masks_hq = masks_hq + (hyper_hq @ hq_features.reshape(c8, hh * ww)).view(n, 1, hh, ww)
    masks = torch.cat([masks_sam, masks_hq.to(masks_sam.dtype)], dim=1)
    return masks, d.iou_prediction_head(hs[:, 0])


def fold_hq_head(model: torch.nn.Module) -> bool:
    """Make ``model``'s HQ mask decoder use :func:`folded_predict_masks`; False (unchanged) for a plain SAM decoder.

    Raises:
        ValueError: the decoder's HQ head is not the layout this fold is proven for (conv 3x3 / norm / GELU /
            conv 3x3 with padding 1, one image per call).
    """
    mask_decoder_hq, _, _ = _sam_modules()
    decoder = getattr(model, "mask_decoder", model)
    if not isinstance(decoder, mask_decoder_hq):
        return False
    head = list(decoder.embedding_maskfeature)
    if (
        len(head) != 4
        or not all(isinstance(head[i], torch.nn.Conv2d) for i in (0, 3))
        or not all(m.kernel_size == (3, 3) and m.padding == (1, 1) and m.groups == 1 for m in (head[0], head[3]))
    ):
        raise ValueError("fold_hq_head: unexpected embedding_maskfeature layout; use the package's decoder")
    decoder.predict_masks = MethodType(folded_predict_masks, decoder)  # instance attribute shadows the method
    return True
