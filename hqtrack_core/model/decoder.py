"""FPN segmentation head of DeAOT: LSTT output at 1/16 plus encoder shortcuts at 1/16, 1/8, 1/4.

``forward(x (B, 2d, H/16, W/16), shortcuts [x4, x8, x16, ...]) -> logits (B, max_obj + 1, H/4, W/4)``:
``conv_in`` (1x1 + GN) -> ``+ adapter_16x(x16)`` -> 3x3 conv+GN -> up x2 -> ``+ adapter_8x(x8)`` -> ... ->
``conv_out`` (1x1). ReLU after every block, bilinear upsampling (align_corners as the model).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvGN(nn.Module):
    def __init__(self, indim: int, outdim: int, kernel_size: int, gn_groups: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(indim, outdim, kernel_size, padding=kernel_size // 2)
        self.gn = nn.GroupNorm(gn_groups, outdim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gn(self.conv(x))


class FPNSegmentationHead(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 256,
                 shortcut_dims: tuple[int, ...] = (24, 32, 96, 1280), align_corners: bool = True) -> None:
        super().__init__()
        self.align_corners = align_corners
        self.conv_in = ConvGN(in_dim, hidden_dim, 1)
        self.conv_16x = ConvGN(hidden_dim, hidden_dim, 3)
        self.conv_8x = ConvGN(hidden_dim, hidden_dim // 2, 3)
        self.conv_4x = ConvGN(hidden_dim // 2, hidden_dim // 2, 3)
        self.adapter_16x = nn.Conv2d(shortcut_dims[-2], hidden_dim, 1)
        self.adapter_8x = nn.Conv2d(shortcut_dims[-3], hidden_dim, 1)
        self.adapter_4x = nn.Conv2d(shortcut_dims[-4], hidden_dim // 2, 1)
        self.conv_out = nn.Conv2d(hidden_dim // 2, out_dim, 1)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def _up(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=self.align_corners)

    def forward(self, x: torch.Tensor, shortcuts: list[torch.Tensor]) -> torch.Tensor:
        x = F.relu(self.conv_in(x))
        x = F.relu(self.conv_16x(self.adapter_16x(shortcuts[-2]) + x))
        x = F.relu(self.conv_8x(self.adapter_8x(shortcuts[-3]) + self._up(x, shortcuts[-3])))
        x = F.relu(self.conv_4x(self.adapter_4x(shortcuts[-4]) + self._up(x, shortcuts[-4])))
        return self.conv_out(x)
