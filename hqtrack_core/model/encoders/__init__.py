"""Image encoders of the VMOS and their registry.

Every encoder maps ``images (B, 3, H, W)`` (ImageNet-normalised RGB) to four feature maps
``[x4 (B, C0, H/4, W/4), x8 (B, C1, H/8, W/8), x16 (B, C2, H/16, W/16), x16b (B, C3, H/16, W/16)]`` with
``(C0, C1, C2, C3) = VMOSConfig.encoder_dims`` (sizes rounded up: a 16k+1 input gives k+1 tokens per side).
State-dict names equal aot-benchmark's (``encoder.features.N...`` / ``encoder.layerN...``) so official
checkpoints load 1:1.

Register more encoders with :func:`register_encoder` (helper "hqtrack-vmos" adds ``internimage_t``).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

EncoderBuilder = Callable[..., nn.Module]
ENCODERS: dict[str, EncoderBuilder] = {}


def register_encoder(name: str, builder: EncoderBuilder, overwrite: bool = False) -> EncoderBuilder:
    """Register ``builder(pretrained=False, frozen_bn=True, freeze_at=0, **kw) -> nn.Module``."""
    if name in ENCODERS and not overwrite:
        raise KeyError(f"encoder {name!r} is already registered")
    ENCODERS[name] = builder
    return builder


def build_encoder(name: str, pretrained: bool = False, frozen_bn: bool = True, freeze_at: int = 0, **kwargs) -> nn.Module:
    """Build the encoder ``name`` (``mobilenetv2``, ``resnet50``, plus any registered later)."""
    if name not in ENCODERS:
        # Lazily import optional encoders that register themselves on import.
        if name == "internimage_t":
            try:
                from . import internimage  # noqa: F401
            except ImportError as err:  # pragma: no cover - depends on the other helper's module
                raise KeyError(f"encoder {name!r} is not available: {err}") from err
    try:
        builder = ENCODERS[name]
    except KeyError:
        raise KeyError(f"unknown encoder {name!r}; known: {sorted(ENCODERS)}") from None
    return builder(pretrained=pretrained, frozen_bn=frozen_bn, freeze_at=freeze_at, **kwargs)


def freeze_params(module: nn.Module) -> None:
    for p in module.parameters():
        p.requires_grad_(False)


from .mobilenet import MobileNetV2Encoder, build_mobilenetv2  # noqa: E402
from .resnet import ResNet50Encoder, build_resnet50  # noqa: E402

register_encoder("mobilenetv2", build_mobilenetv2)
register_encoder("resnet50", build_resnet50)

__all__ = ["ENCODERS", "build_encoder", "register_encoder", "freeze_params", "MobileNetV2Encoder",
           "ResNet50Encoder"]
