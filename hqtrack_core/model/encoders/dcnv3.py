"""DCNv3: deformable convolution v3 of InternImage, in plain PyTorch (no compiled extension).

InternImage (Wang et al., CVPR 2023) replaces attention by a deformable convolution whose K x K sampling
points move by learned offsets and are weighted by a softmax "mask" over the points, per channel group.
The official package needs a CUDA extension even to import; this module needs none: the sampling is one
``F.grid_sample`` call (bilinear, zero padding) per forward, equal to the official pure-PyTorch core within
float rounding (``tests/test_dcn_internimage_parity.py``).

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
    n, _, _, channels = x.shape
    _, h_out, w_out, _ = offset.shape
    group_channels = channels // group

    x = F.pad(x, (0, 0, pad, pad, pad, pad))  # (N, Hp, Wp, C)
    hp, wp = x.shape[1], x.shape[2]
    expected_h = (hp - (dilation * (k - 1) + 1)) // stride + 1
    expected_w = (wp - (dilation * (k - 1) + 1)) // stride + 1
    if (h_out, w_out) != (expected_h, expected_w):
        raise ValueError(f"offset grid {h_out}x{w_out} does not match the output size {expected_h}x{expected_w}")

    device, dtype = x.device, torch.float32
    half = (dilation * (k - 1)) // 2
    # Reference points (pixel-centre coordinates of the padded input) for every output position.
    ref_y = half + 0.5 + torch.arange(h_out, device=device, dtype=dtype) * stride
    ref_x = half + 0.5 + torch.arange(w_out, device=device, dtype=dtype) * stride
    # Kernel grid, x-major point order (p = ix * K + iy), scaled by offset_scale as the official code does.
    taps = torch.arange(k, device=device, dtype=dtype) * dilation - half
    grid_x = taps.repeat_interleave(k)  # (P,)
    grid_y = taps.repeat(k)  # (P,)
    base_x = ref_x.view(1, 1, w_out, 1) + (grid_x * offset_scale).view(1, 1, 1, points)  # (1, 1, W_out, P)
    base_y = ref_y.view(1, h_out, 1, 1) + (grid_y * offset_scale).view(1, 1, 1, points)  # (1, H_out, 1, P)

    off = offset.view(n, h_out, w_out, group, points, 2).to(dtype)
    loc_x = base_x.unsqueeze(3) + off[..., 0] * offset_scale  # (N, H_out, W_out, G, P)
    loc_y = base_y.unsqueeze(3) + off[..., 1] * offset_scale
    # Normalise to grid_sample's [-1, 1] (align_corners=False: -1 and 1 are the outer pixel edges).
    grid = torch.stack((loc_x / wp * 2 - 1, loc_y / hp * 2 - 1), dim=-1)  # (N, H_out, W_out, G, P, 2)
    grid = grid.permute(0, 3, 1, 2, 4, 5).reshape(n * group, h_out * w_out, points, 2)

    value = x.reshape(n, hp * wp, group, group_channels).permute(0, 2, 3, 1).reshape(n * group, group_channels, hp, wp)
    sampled = F.grid_sample(value, grid.to(value.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)
    # sampled: (N*G, Cg, H_out*W_out, P); weights: (N*G, 1, H_out*W_out, P)
    weights = mask.reshape(n, h_out * w_out, group, points).permute(0, 2, 1, 3).reshape(n * group, 1, -1, points)
    out = (sampled * weights.to(sampled.dtype)).sum(-1)  # (N*G, Cg, H_out*W_out)
    return out.view(n, channels, h_out * w_out).transpose(1, 2).reshape(n, h_out, w_out, channels)


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
