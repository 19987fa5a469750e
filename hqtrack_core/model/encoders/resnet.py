"""ResNet-50 encoder of R50-DeAOT (output stride 16, no ``layer4``), built from torchvision's ResNet.

As the official (aot-benchmark ``networks/encoders/resnet.py``, output stride 16): stem, ``layer1`` (stride
4, 256 ch), ``layer2`` (stride 8, 512), ``layer3`` (stride 16, 1024); ``layer4`` is dropped and the stride-16
feature is returned twice (taps 3 and 4). Frozen BatchNorm. Names: ``conv1``, ``bn1``, ``layer1..3``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet50
from torchvision.ops import FrozenBatchNorm2d

from ...weights import load_torch_file
from .freeze import freeze_params


class ResNet50Encoder(nn.Module):
    """``images (B, 3, H, W) -> [x4 (256 ch), x8 (512), x16 (1024), x16 (same tensor)]``."""

    def __init__(self, frozen_bn: bool = True, freeze_at: int = 0) -> None:
        super().__init__()
        norm = FrozenBatchNorm2d if frozen_bn else nn.BatchNorm2d
        net = resnet50(weights=None, norm_layer=norm)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3 = net.layer1, net.layer2, net.layer3
        self.freeze(freeze_at)

    def freeze(self, freeze_at: int) -> None:
        if freeze_at >= 1:
            freeze_params(self.conv1)
            freeze_params(self.bn1)
        for idx, stage in enumerate((self.layer1, self.layer2, self.layer3), start=2):
            if freeze_at >= idx:
                freeze_params(stage)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x4 = self.layer1(x)
        x8 = self.layer2(x4)
        x16 = self.layer3(x8)
        return [x4, x8, x16, x16]

    def load_imagenet(self, path: str | Path) -> None:
        """Load torchvision ImageNet ResNet-50 weights from a local file (``layer4``/``fc`` ignored)."""
        state = load_torch_file(path, "ImageNet ResNet-50 weights", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith(("layer4.", "fc.")) and not k.endswith("num_batches_tracked")}
        missing, unexpected = self.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(f"ResNet-50 weights do not match: missing {missing}, unexpected {unexpected}")


def build_resnet50(pretrained: bool = False, frozen_bn: bool = True, freeze_at: int = 0,
                   weights_path: str | Path | None = None) -> ResNet50Encoder:
    enc = ResNet50Encoder(frozen_bn=frozen_bn, freeze_at=freeze_at)
    if pretrained:
        if weights_path is None:
            raise FileNotFoundError("ResNet-50 ImageNet weights are not shipped offline: pass weights_path= "
                                    "(torchvision resnet50-0676ba61.pth)")
        enc.load_imagenet(weights_path)
    return enc
