"""DCNv3: deformable convolution v3 of InternImage, in plain PyTorch (no compiled extension).

InternImage (Wang et al., CVPR 2023) replaces attention by a deformable convolution whose K x K sampling
points move by learned offsets and are weighted by a softmax "mask" over the points, per channel group.
The official package needs a CUDA extension even to import; this module needs none. The official pure-PyTorch
core samples with ``F.grid_sample`` (bilinear, zero padding), materialising all K*K samples per channel, then
weights and sums them. Here the bilinear sampling and the mask-weighted sum are one weighted gather
(``F.embedding_bag`` over the channels-last value rows, 4 corners x K*K points per output and group): no
K*K-times larger intermediate, no layout change, and the gather runs in bf16 under autocast (``grid_sample``
did not gain from bf16). Coordinates and bilinear weights are always computed in fp32. Equal to the official
core within float rounding (``tests/test_dcn_internimage_parity.py``).

Layout is channels-last, like the official code: ``x`` is ``(N, H, W, C)``.

Sampling point ``p = ix * K + iy`` (x-major, as the official grid) of group ``g`` at output ``(i, j)`` reads
the (zero-padded) input at pixel coordinates (x first)::

    x = (K_d // 2) + j * stride + (ix * dilation - K_d // 2) * offset_scale + offset[..., g, p, 0] * offset_scale
    y = (K_d // 2) + i * stride + (iy * dilation - K_d // 2) * offset_scale + offset[..., g, p, 1] * offset_scale

with ``K_d = dilation * (K - 1)``; coordinates are pixel centres of the padded input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ToChannelsLast(nn.Module):
    """``(N, C, H, W) -> (N, H, W, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1)


class ToChannelsFirst(nn.Module):
    """``(N, H, W, C) -> (N, C, H, W)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2)


def _check_core_args(x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor, group: int, points: int) -> None:
    if x.dim() != 4 or offset.dim() != 4 or mask.dim() != 4:
        raise ValueError(
            f"dcnv3_core expects channels-last 4-D tensors, got x {tuple(x.shape)}, offset {tuple(offset.shape)}, "
            f"mask {tuple(mask.shape)}"
        )
    if x.shape[-1] % group:
        raise ValueError(f"channels ({x.shape[-1]}) must be divisible by group ({group})")
    if offset.shape[-1] != group * points * 2:
        raise ValueError(f"offset needs {group * points * 2} channels (group*K*K*2), got {offset.shape[-1]}")
    if mask.shape[-1] != group * points:
        raise ValueError(f"mask needs {group * points} channels (group*K*K), got {mask.shape[-1]}")
    if offset.shape[:3] != mask.shape[:3]:
        raise ValueError(f"offset {tuple(offset.shape)} and mask {tuple(mask.shape)} differ in (N, H_out, W_out)")


def _bilinear_gather(
    x: torch.Tensor, offset: torch.Tensor, mask: torch.Tensor, k: int, stride: int, pad: int, dilation: int,
    group: int, offset_scale: float,
) -> torch.Tensor:
    """The sampling of :func:`dcnv3_core` as one weighted gather (``F.embedding_bag``) over the value rows.

    ``x`` is the ``(N, H, W, C)`` input, ``Hp = H + 2 * pad`` its padded height. Each output ``(n, i, j, g)`` is the sum over its K*K points and
    their 4 bilinear corners of ``weight * value[n, y, x, g, :]``, ``weight = mask * bilinear factor``. A zero
    border (``pad`` + 1 before, ``pad`` + 2 after) stands for the padding and for the zero padding of ``grid_sample``: coordinates are clamped to
    ``[-1, Wp]`` x ``[-1, Hp]``, where every corner a clamped point reads is zero.
    """
    n, h, w, channels = x.shape
    hp, wp = h + 2 * pad, w + 2 * pad
    _, h_out, w_out, _ = offset.shape
    points = k * k
    dev, f32 = x.device, torch.float32
    idx_t = torch.int64 if n * (hp + 3) * (wp + 3) * group >= 2**31 else torch.int32
    border = (0, 0, pad + 1, pad + 2, pad + 1, pad + 2)
    table = F.pad(x, border).reshape(-1, channels // group)  # rows (n, y, x, g) of the bordered input
    rows, cols = hp + 3, wp + 3
    half = (dilation * (k - 1)) // 2
    taps = torch.arange(k, device=dev, dtype=f32) * dilation - half
    # Sampling coordinates in padded-input pixels (pixel centres at integers), x-major point order.
    taps = taps * offset_scale
    base_x = torch.arange(w_out, device=dev, dtype=f32).view(w_out, 1) * stride + half + taps.repeat_interleave(k)
    base_y = torch.arange(h_out, device=dev, dtype=f32).view(h_out, 1) * stride + half + taps.repeat(k)
    off = offset.view(n, h_out, w_out, group, points, 2).to(f32)
    loc_x = torch.add(base_x.view(1, 1, w_out, 1, points), off[..., 0], alpha=offset_scale)  # (N, Ho, Wo, G, P)
    loc_y = torch.add(base_y.view(1, h_out, 1, 1, points), off[..., 1], alpha=offset_scale)
    loc_x = loc_x.clamp_(-1, wp).add_(1)  # bordered-table coordinates
    loc_y = loc_y.clamp_(-1, hp).add_(1)
    x0, y0 = loc_x.floor(), loc_y.floor()
    fx, fy = loc_x.sub_(x0), loc_y.sub_(y0)
    index = y0.mul_(cols).add_(x0).to(idx_t).mul_(group)  # (N, Ho, Wo, G, P): row of the top-left corner
    index += (torch.arange(n, device=dev, dtype=idx_t).view(n, 1, 1, 1, 1) * (rows * cols * group)
              + torch.arange(group, device=dev, dtype=idx_t).view(1, 1, 1, group, 1))
    corners = torch.tensor([0, 1, cols, cols + 1], device=dev, dtype=idx_t) * group
    index = (index.unsqueeze(-1) + corners).view(-1, points * 4)
    m = mask.view(n, h_out, w_out, group, points, 1).to(f32)
    wy = torch.stack((1 - fy, fy), -1).mul_(m)  # (N, Ho, Wo, G, P, 2)
    wx = torch.stack((1 - fx, fx), -1)
    weights = (wy.unsqueeze(-1) * wx.unsqueeze(-2)).view(-1, points * 4)  # corners (y, x) in order 00 01 10 11
    out = F.embedding_bag(index, table, per_sample_weights=weights.to(table.dtype), mode="sum")
    return out.view(n, h_out, w_out, channels)


def dcnv3_core(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor,
    kernel_size: int = 3,
    stride: int = 1,
    pad: int = 1,
    dilation: int = 1,
    group: int = 4,
    offset_scale: float = 1.0,
) -> torch.Tensor:
    """Deformable sampling and mask-weighted sum of DCNv3 (square kernel/stride/pad/dilation).

    Args:
        x: ``(N, H, W, G*Cg)`` input (already ``input_proj``-ected).
        offset: ``(N, H_out, W_out, G*K*K*2)`` offsets in pixels, ``(x, y)`` per point.
        mask: ``(N, H_out, W_out, G*K*K)`` point weights (softmax-normalised per group by the caller).

    Returns:
        ``(N, H_out, W_out, G*Cg)``.
    """
    k = kernel_size
    points = k * k
    _check_core_args(x, offset, mask, group, points)
    _, h_out, w_out, _ = offset.shape
    hp, wp = x.shape[1] + 2 * pad, x.shape[2] + 2 * pad  # padded input size
    expected_h = (hp - (dilation * (k - 1) + 1)) // stride + 1
    expected_w = (wp - (dilation * (k - 1) + 1)) // stride + 1
    if (h_out, w_out) != (expected_h, expected_w):
        raise ValueError(f"offset grid {h_out}x{w_out} does not match the output size {expected_h}x{expected_w}")

    return _bilinear_gather(x, offset, mask, kernel_size, stride, pad, dilation, group, offset_scale)


class DCNv3(nn.Module):
    """DCNv3 operator of InternImage (channels-last in and out), official submodule names.

    ``dw_conv`` (depthwise KxK conv -> LayerNorm -> GELU) turns the input into the features that predict
    ``offset`` and ``mask`` (softmax over the K*K points of each group); ``input_proj`` projects the values,
    :func:`dcnv3_core` samples them, ``output_proj`` mixes the result.

    Shapes: ``(N, H, W, C) -> (N, H, W, C)`` (stride 1, padding ``(K-1)//2`` as InternImage uses it).
    """

    def __init__(
        self,
        channels: int = 64,
        kernel_size: int = 3,
        stride: int = 1,
        pad: int = 1,
        dilation: int = 1,
        group: int = 4,
        offset_scale: float = 1.0,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        if channels % group:
            raise ValueError(f"channels ({channels}) must be divisible by group ({group})")
        self.channels = channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.pad = pad
        self.dilation = dilation
        self.group = group
        self.offset_scale = offset_scale
        points = kernel_size * kernel_size
        self.dw_conv = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size, padding=(kernel_size - 1) // 2, groups=channels),
            nn.Sequential(ToChannelsLast(), nn.LayerNorm(channels, eps=norm_eps)),
            nn.GELU(),
        )
        self.offset = nn.Linear(channels, group * points * 2)
        self.mask = nn.Linear(channels, group * points)
        self.input_proj = nn.Linear(channels, channels)
        self.output_proj = nn.Linear(channels, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Official initialisation: zero offsets and uniform masks at start; Xavier projections."""
        for layer in (self.offset, self.mask):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        for layer in (self.input_proj, self.output_proj):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, _ = x.shape
        values = self.input_proj(x)
        features = self.dw_conv(x.permute(0, 3, 1, 2))  # (N, H, W, C)
        offset = self.offset(features)
        mask = self.mask(features).view(n, h, w, self.group, -1).softmax(-1).view(n, h, w, -1)
        out = dcnv3_core(
            values,
            offset,
            mask,
            kernel_size=self.kernel_size,
            stride=self.stride,
            pad=self.pad,
            dilation=self.dilation,
            group=self.group,
            offset_scale=self.offset_scale,
        )
        return self.output_proj(out)
