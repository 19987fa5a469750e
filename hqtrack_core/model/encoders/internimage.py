"""InternImage backbone (Wang et al., CVPR 2023) with HQTrack's change: the last stage stays at 1/16.

InternImage stacks DCNv3 blocks (pre-norm, layer scale ``gamma1``/``gamma2``, GELU MLP) in four stages at
strides 4, 8, 16, 32. HQTrack (``networks/encoders/intern_image.py`` of the official repository) keeps the
fourth stage at 1/16 with the channels of stage 3: stage 4 reads stage 3's output *before* its downsample
layer (that downsample layer still exists in the state dict, its output is unused, we skip computing it).
For InternImage-T the encoder dims become ``[64, 128, 256, 256]``.

State-dict names are the official ones (``patch_embed.*``, ``levels.{i}.blocks.{j}.{dcn.*, mlp.fc1/fc2,
norm1.0, norm2.0, gamma1, gamma2}``, ``levels.{i}.norm.0``, ``levels.{i}.downsample.{conv, norm.1}``), so the
backbone part of an official HQTrack checkpoint loads unchanged.

Input ``(B, 3, H, W)`` (ImageNet-normalised RGB); output: list of 4 channels-first maps
``[(B, 64, H/4, W/4), (B, 128, H/8, W/8), (B, 256, H/16, W/16), (B, 256, H/16, W/16)]`` (sizes rounded up,
every conv has stride 2, kernel 3, padding 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from timm.layers import DropPath, Mlp
from torch import nn

from ...weights import load_torch_file
from .dcnv3 import DCNv3, ToChannelsFirst, ToChannelsLast

LN_EPS = 1e-6


def _layer_norm(channels: int, channels_first_in: bool = False, channels_first_out: bool = False) -> nn.Sequential:
    """LayerNorm over channels wrapped as the official ``build_norm_layer`` (keeps its module indices)."""
    layers: list[nn.Module] = []
    if channels_first_in:
        layers.append(ToChannelsLast())
    layers.append(nn.LayerNorm(channels, eps=LN_EPS))
    if channels_first_out:
        layers.append(ToChannelsFirst())
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class InternImageConfig:
    """Hyper-parameters of InternImage. Defaults: InternImage-T as HQTrack builds it (``INTERN_T``)."""

    channels: int = 64
    depths: tuple[int, ...] = (4, 4, 18, 4)
    groups: tuple[int, ...] = (4, 8, 16, 32)
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.2  # HQTrack's INTERN_T (the InternImage-T classification config uses 0.1)
    layer_scale: float | None = 1.0
    offset_scale: float = 1.0
    last_stage_at_16: bool = True  # HQTrack's change; False gives the original 1/32 fourth stage

    def __post_init__(self) -> None:
        if len(self.depths) != 4 or len(self.groups) != 4:
            raise ValueError(f"InternImage needs 4 stages, got depths {self.depths} and groups {self.groups}")

    @property
    def dims(self) -> list[int]:
        """Channels of the four returned feature maps."""
        dims = [self.channels * 2**i for i in range(4)]
        if self.last_stage_at_16:
            dims[3] = dims[2]
        return dims


class StemLayer(nn.Module):
    """Two stride-2 3x3 convs (+LN, GELU between): ``(B, 3, H, W) -> (B, H/4, W/4, C)`` channels-last."""

    def __init__(self, in_chans: int = 3, out_chans: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, out_chans // 2, kernel_size=3, stride=2, padding=1)
        self.norm1 = _layer_norm(out_chans // 2, channels_first_in=True, channels_first_out=True)
        self.act = nn.GELU()
        self.conv2 = nn.Conv2d(out_chans // 2, out_chans, kernel_size=3, stride=2, padding=1)
        self.norm2 = _layer_norm(out_chans, channels_first_in=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm2(self.conv2(self.act(self.norm1(self.conv1(x)))))


class DownsampleLayer(nn.Module):
    """Stride-2 3x3 conv doubling the channels + LN: ``(B, H, W, C) -> (B, H/2, W/2, 2C)`` channels-last."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 2 * channels, kernel_size=3, stride=2, padding=1, bias=False)
        self.norm = _layer_norm(2 * channels, channels_first_in=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x.permute(0, 3, 1, 2)))


class InternImageLayer(nn.Module):
    """One block: ``x + gamma1 * DCNv3(LN x)``, then ``x + gamma2 * MLP(LN x)`` (channels-last)."""

    def __init__(
        self,
        channels: int,
        group: int,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
        layer_scale: float | None = 1.0,
        offset_scale: float = 1.0,
    ) -> None:
        super().__init__()
        self.norm1 = _layer_norm(channels)
        self.dcn = DCNv3(channels, kernel_size=3, stride=1, pad=1, dilation=1, group=group, offset_scale=offset_scale)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = _layer_norm(channels)
        self.mlp = Mlp(channels, hidden_features=int(channels * mlp_ratio), act_layer=nn.GELU)
        self.layer_scale = layer_scale is not None
        if self.layer_scale:
            self.gamma1 = nn.Parameter(layer_scale * torch.ones(channels))
            self.gamma2 = nn.Parameter(layer_scale * torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.layer_scale:
            x = x + self.drop_path(self.gamma1 * self.dcn(self.norm1(x)))
            return x + self.drop_path(self.gamma2 * self.mlp(self.norm2(x)))
        x = x + self.drop_path(self.dcn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class InternImageStage(nn.Module):
    """``depth`` blocks, a final LN, and an optional downsample (official ``InternImageBlock``).

    ``forward`` returns ``(downsampled or None, normalised stage output)``, both channels-last.
    """

    def __init__(
        self,
        channels: int,
        depth: int,
        group: int,
        downsample: bool,
        mlp_ratio: float,
        drop_paths: list[float],
        layer_scale: float | None,
        offset_scale: float,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            InternImageLayer(channels, group, mlp_ratio, drop_paths[i], layer_scale, offset_scale) for i in range(depth)
        )
        self.norm = _layer_norm(channels)
        self.downsample = DownsampleLayer(channels) if downsample else None

    def forward(self, x: torch.Tensor, run_downsample: bool = True) -> tuple[torch.Tensor | None, torch.Tensor]:
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        down = self.downsample(x) if (self.downsample is not None and run_downsample) else None
        return down, x


class InternImage(nn.Module):
    """InternImage backbone returning 4 channels-first feature maps (see the module docstring)."""

    def __init__(self, config: InternImageConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or InternImageConfig()
        self.dims = config.dims
        self.patch_embed = StemLayer(3, config.channels)
        total = sum(config.depths)
        rates = [float(r) for r in torch.linspace(0, config.drop_path_rate, total)] if total > 1 else [0.0] * total
        self.levels = nn.ModuleList()
        for i, depth in enumerate(config.depths):
            channels = config.channels * 2 ** (i - 1 if (i == 3 and config.last_stage_at_16) else i)
            start = sum(config.depths[:i])
            self.levels.append(
                InternImageStage(
                    channels=channels,
                    depth=depth,
                    group=config.groups[i],
                    downsample=i < 3,
                    mlp_ratio=config.mlp_ratio,
                    drop_paths=rates[start : start + depth],
                    layer_scale=config.layer_scale,
                    offset_scale=config.offset_scale,
                )
            )

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"InternImage expects (B, 3, H, W) images, got {tuple(image.shape)}")
        x = self.patch_embed(image)
        outputs = []
        stage3 = None
        for i, level in enumerate(self.levels):
            if i == 3 and self.config.last_stage_at_16:
                x = stage3
            # Stage 3's downsample output is only needed when stage 4 runs at 1/32.
            run_down = not (i == 2 and self.config.last_stage_at_16)
            down, out = level(x, run_downsample=run_down)
            outputs.append(out.permute(0, 3, 1, 2).contiguous())
            stage3 = out
            x = down
        return outputs


def internimage_t(**overrides) -> InternImage:
    """InternImage-T with HQTrack's 1/16 fourth stage (dims [64, 128, 256, 256], 19.99M parameters)."""
    return InternImage(InternImageConfig(**overrides))


def build_internimage_t(
    pretrained: bool | str | Path = False, frozen_bn: bool = True, freeze_at: int = 0, **overrides
) -> InternImage:
    """Registry builder for ``internimage_t``.

    ``pretrained``: a path to InternImage-T ImageNet weights (official ``internimage_t_1k_224.pth``; keys
    with or without ``backbone.``/``encoder.`` prefixes; the 1/32 stage-4 weights of the classification model
    do not fit the 1/16 stage and are skipped) or False. No weights ship offline, so ``True`` is an error.
    ``frozen_bn`` is accepted for the registry signature (InternImage has no BatchNorm).
    ``freeze_at``: 0 trains everything, 1 freezes the stem, ``k >= 2`` also freezes stages ``0 .. k-2``.
    """
    del frozen_bn
    model = internimage_t(**overrides)
    if pretrained is True:
        raise FileNotFoundError(
            "no InternImage-T ImageNet weights ship with hqtrack; pass pretrained=<path to internimage_t_1k_224.pth>"
        )
    if pretrained:
        load_backbone_weights(model, Path(pretrained))
    if freeze_at >= 1:
        frozen = [model.patch_embed] + [model.levels[i] for i in range(min(freeze_at - 1, len(model.levels)))]
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)
    return model


def load_backbone_weights(model: InternImage, path: Path) -> list[str]:
    """Load ImageNet InternImage weights whose shapes fit; return the names that were skipped."""
    if not path.is_file():
        raise FileNotFoundError(f"InternImage weights not found: {path}")
    ckpt = load_torch_file(path, "InternImage weights", weights_only=True)
    state = ckpt.get("state_dict", ckpt.get("model", ckpt)) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict")
    own = model.state_dict()
    fitting, skipped = {}, []
    for key, value in state.items():
        for prefix in ("module.", "backbone.", "encoder."):
            if key.startswith(prefix):
                key = key[len(prefix) :]
        if key in own and own[key].shape == value.shape:
            fitting[key] = value
        else:
            skipped.append(key)
    if not fitting:
        raise ValueError(f"{path}: no tensor matches the InternImage-T state dict (is it an InternImage-T checkpoint?)")
    model.load_state_dict(fitting, strict=False)
    return skipped

