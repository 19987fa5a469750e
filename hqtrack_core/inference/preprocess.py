"""Frames into the network: the test-time input size (:class:`ResizePolicy`); the ImageNet normalisation is
:func:`hqtrack_core.data.transforms.normalize_image`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ResizePolicy:
    """Test-time input size (aot-benchmark ``MultiRestrictSize``; HQTrack enlarges small inputs too).

    The short edge is scaled up to ``min_short_edge`` / down to ``max_short_edge`` (when set), then the
    long edge down to ``max_long_edge``; each side is snapped to ``16k + 1``. Logits are resized back.
    """

    min_short_edge: int | None = None
    max_short_edge: int | None = None
    max_long_edge: int | None = 1040
    stride: int = 16

    def size_for(self, height: int, width: int) -> tuple[int, int]:
        h, w = float(height), float(width)
        short = min(h, w)
        if self.min_short_edge is not None and short < self.min_short_edge:
            h, w = h * self.min_short_edge / short, w * self.min_short_edge / short
        short = min(h, w)
        if self.max_short_edge is not None and short > self.max_short_edge:
            h, w = h * self.max_short_edge / short, w * self.max_short_edge / short
        long = max(h, w)
        if self.max_long_edge is not None and long > self.max_long_edge:
            h, w = h * self.max_long_edge / long, w * self.max_long_edge / long
        h, w = int(h), int(w)
        s = self.stride
        if (h - 1) % s:
            h = int(np.around((h - 1) / s) * s + 1)
        if (w - 1) % s:
            w = int(np.around((w - 1) / s) * s + 1)
        return h, w


OFFICIAL_RESIZE = ResizePolicy(min_short_edge=None, max_short_edge=None, max_long_edge=1040)
HQTRACK_RESIZE = ResizePolicy(min_short_edge=480, max_short_edge=None, max_long_edge=1040)
