"""Our HQTrack VMOS driven frame by frame at the engine level, as the HQTrack VMOS benchmark and the profile time it.

Both sides of the benchmark get the same name-rule weights (:mod:`hqtrack_core.model.init_rules`), the same
synthetic video with 2 objects and the same label maps written to memory (the parity recipe), released memory
settings (gap 50, short-term skip 4). Used by :mod:`.hqtrack_vmos` (latency vs the official code) and
:mod:`.profile` (per-op table, FLOPs).
"""

from __future__ import annotations

import numpy as np
import torch

from ..api import build_vmos
from ..inference.engine import GroupEngine
from ..inference.memory import memory_policy
from ..model.init_rules import apply_name_rule
from ..model.low_precision import low_precision_copy
from ..precision import resolve_precision

HEIGHT, WIDTH, N_OBJECTS = 480, 854, 2
LONG_TERM_GAP, SHORT_TERM_SKIP = 50, 4


def synthetic_video(frames: int, height: int = HEIGHT, width: int = WIDTH) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised images ``(T, 3, H, W)`` and labels ``(T, H, W)`` of 2 moving ellipses on a textured scene."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([np.sin(xx / (11 + 4 * c)) * np.cos(yy / (13 + 3 * c)) for c in range(3)]).astype(np.float32)
    base += 0.3 * rng.standard_normal(base.shape).astype(np.float32)
    images = np.empty((frames, 3, height, width), np.float32)
    labels = np.zeros((frames, height, width), np.int64)
    for t in range(frames):
        img = base.copy()
        for k in range(N_OBJECTS):
            cy = height * (0.35 + 0.3 * k) + 6 * t
            cx = width * (0.3 + 0.4 * k) - 9 * t * (1 - 2 * k)
            inside = ((yy - cy) / (height * 0.18)) ** 2 + ((xx - cx) / (width * 0.12)) ** 2 <= 1
            img[:, inside] = np.array([1.2, -0.8, 0.4], np.float32)[:, None] * (1 - 2 * k)
            labels[t][inside] = k + 1
        images[t] = img
    return torch.from_numpy(images), torch.from_numpy(labels)


def build_ours(precision: str = "fp32"):
    """Our HQTrack VMOS with name-rule weights and the network the tracker runs at ``precision``.

    Returns ``(choice, net)``: fp32 runs the model itself (the exact path); bf16 runs
    :func:`~hqtrack_core.model.low_precision.low_precision_copy` (what ``VMOSTracker(precision="bf16")`` runs).
    """
    choice = resolve_precision(precision)
    model, _ = build_vmos(model="hqtrack_vmos", checkpoint="none")
    model.eval()
    apply_name_rule(model)
    net = low_precision_copy(model, choice.dtype, torch.device("cpu")) if choice.reduced else model
    return choice, net


class OursFrames:
    """Drive our engine frame by frame the way the bench times it (encode + propagate + decode + memory write).

    ``images (T, 3, H, W)`` normalised, ``labels (T, H, W)``; frame 0 is the reference. ``frame(t)`` returns the
    fp32 logits ``(1, N_OBJECTS + 1, H, W)``. Memory: the ``released`` policy (at most 6 long-term entries with the
    reference, short-term skip 4) with a long-term entry every ``long_term_gap`` frames (released: 50).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, precision: str = "fp32",
                 long_term_gap: int = LONG_TERM_GAP) -> None:
        self.choice, self.net = build_ours(precision)
        self.images, self.labels = images, labels
        self.size = tuple(images.shape[-2:])
        self.engine = GroupEngine(self.net, memory_policy("released", long_term_gap=long_term_gap,
                                                          short_term_skip=SHORT_TERM_SKIP))
        with torch.inference_mode(), self.choice.autocast():
            self.engine.add_reference(self.net.encode(self._image(0)), labels[0:1], 0)

    def _image(self, t: int) -> torch.Tensor:
        return self.images[t : t + 1].contiguous(memory_format=torch.channels_last)

    @torch.inference_mode()
    def frame(self, t: int) -> torch.Tensor:
        with self.choice.autocast():
            features = self.net.encode(self._image(t))
            prop = self.engine.propagate(features)
            logit = self.engine.decode(prop, features, self.size, N_OBJECTS)
            self.engine.remember(prop, self.labels[t : t + 1], t)
        return logit.float()

    @property
    def entries(self) -> int:
        """Long-term entries the next frame attends to (references + long-term)."""
        return self.engine.memory.num_long_term_entries

    @property
    def bound(self) -> int | None:
        """The bound on :attr:`entries` (``max_long_term`` of the policy)."""
        return self.engine.policy.max_long_term
