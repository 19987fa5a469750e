"""Separate tracking: one tracker per object, each given only its own object, merged into one label map.

The merge is the released code's merge of object groups (:func:`~hqtrack_core.inference.engine.soft_aggregate`:
background probability = the product of the trackers' background probabilities), then arg-max. This is the
"separate" side of the ablation study's joint-vs-separate row, and ``track_video(..., per_object=True)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..inference.engine import StepOutput, channel_argmax, soft_aggregate


def merge_objects(outputs: Sequence[StepOutput], ids: Sequence[int]) -> tuple[np.ndarray, torch.Tensor]:
    """One label map ``(H, W) int64`` and the merged logits ``(N + 1, H, W)`` from single-object tracker outputs
    (``outputs[i]`` tracks ``ids[i]``; each ``probs`` is ``(2, H, W)``: background, the object)."""
    merged = soft_aggregate([torch.log(o.probs.float().clamp_min(1e-8))[None] for o in outputs])[0]
    lut = np.array([0, *ids], dtype=np.int64)
    return lut[channel_argmax(merged).cpu().numpy()], merged


class PerObjectTracker:
    """``step(image, mask=None)`` over one tracker per object (a step API like
    :class:`~hqtrack_core.inference.engine.VMOSTracker`'s, so :func:`~hqtrack_core.api.track_video` drives it).

    Args:
        make_tracker: returns a fresh single-video tracker (``step(image, mask)`` with ``probs``); called once per
            object, when the object's mask first arrives.

    A mask's ids start new trackers (fed ``mask == id``) from that frame on; the trackers already running propagate
    the frame. An id already tracked is a ValueError (corrections are not supported in this mode).
    ``conflicts`` after each step: pixels that two or more trackers claim (their own foreground) before the merge.
    """

    def __init__(self, make_tracker: Callable[[], Any]) -> None:
        self.make_tracker = make_tracker
        self.trackers: list[tuple[int, Any]] = []
        self.conflicts = 0
        self.frame_index = -1

    @property
    def object_ids(self) -> list[int]:
        """The tracked ids, in arrival order."""
        return [obj for obj, _ in self.trackers]

    @property
    def memory(self) -> list:
        """Every tracker's memory states (``nbytes()`` of each sums to the memory held)."""
        return [state for _, tracker in self.trackers for state in tracker.memory]

    def reset(self) -> None:
        """Forget the video (drops every tracker)."""
        self.trackers, self.conflicts, self.frame_index = [], 0, -1

    def step(self, image: np.ndarray, mask: np.ndarray | None = None, objects: Sequence[int] | None = None
             ) -> StepOutput:
        """One frame; ``mask`` ``(H, W)`` ids starts the objects it holds (``objects``, if given, must list them)."""
        new = [int(i) for i in np.unique(mask) if i] if mask is not None else []
        if objects is not None and sorted(int(i) for i in objects) != new:
            raise ValueError(f"mask holds ids {new}, objects lists {list(objects)}")
        again = [i for i in new if i in self.object_ids]
        if again:
            raise ValueError(f"objects {again} are already tracked: per-object tracking takes no corrections")
        if not self.trackers and not new:
            raise ValueError("the first frame needs a mask (no objects in memory yet)")
        outputs = [tracker.step(image) for _, tracker in self.trackers]
        for obj in new:
            tracker = self.make_tracker()
            outputs.append(tracker.step(image, (mask == obj).astype(np.int64)))
            self.trackers.append((obj, tracker))
        own = torch.stack([o.probs[1].float() > o.probs[0].float() for o in outputs])
        self.conflicts = int((own.sum(0) >= 2).sum())
        labels, merged = merge_objects(outputs, self.object_ids)
        self.frame_index += 1
        return StepOutput(labels=labels, probs=torch.softmax(merged, dim=0), object_ids=self.object_ids,
                          frame_index=self.frame_index, logits=merged)
