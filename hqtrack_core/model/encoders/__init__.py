"""Image encoders of the VMOS and their registry.

Every encoder maps ``images (B, 3, H, W)`` (ImageNet-normalised RGB) to four feature maps
``[x4 (B, C0, H/4, W/4), x8 (B, C1, H/8, W/8), x16 (B, C2, H/16, W/16), x16b (B, C3, H/16, W/16)]`` with
``(C0, C1, C2, C3) = VMOSConfig.encoder_dims`` (sizes rounded up: a 16k+1 input gives k+1 tokens per side).
State-dict names equal aot-benchmark's (``encoder.features.N...`` / ``encoder.layerN...``) so official
checkpoints load 1:1.

:data:`ENCODERS` lists every encoder of the package (MobileNetV2, ResNet-50, InternImage-T); register more with
:func:`register_encoder`.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .internimage import build_internimage_t
from .mobilenet import MobileNetV2Encoder, build_mobilenetv2
from .resnet import ResNet50Encoder, build_resnet50

EncoderBuilder = Callable[..., nn.Module]
ENCODERS: dict[str, EncoderBuilder] = {
    "mobilenetv2": build_mobilenetv2,
    "resnet50": build_resnet50,
    "internimage_t": build_internimage_t,
}


def register_encoder(name: str, builder: EncoderBuilder, overwrite: bool = False) -> EncoderBuilder:
    """Register ``builder(pretrained=False, frozen_bn=True, freeze_at=0, **kw) -> nn.Module``."""
    if name in ENCODERS and not overwrite:
        raise KeyError(f"encoder {name!r} is already registered")
    ENCODERS[name] = builder
    return builder


def build_encoder(name: str, pretrained: bool = False, frozen_bn: bool = True, freeze_at: int = 0, **kwargs) -> nn.Module:
    """Build the encoder ``name`` (one of :data:`ENCODERS`)."""
    try:
        builder = ENCODERS[name]
    except KeyError:
        raise KeyError(f"unknown encoder {name!r}; known: {sorted(ENCODERS)}") from None
    return builder(pretrained=pretrained, frozen_bn=frozen_bn, freeze_at=freeze_at, **kwargs)


__all__ = ["ENCODERS", "build_encoder", "register_encoder", "MobileNetV2Encoder", "ResNet50Encoder"]
