"""One video's objects as the VOT toolkit numbers them, on top of :class:`~hqtrack_core.pipeline.HQTrackPipeline`.

The toolkit sends objects in arrival order (all of the first frame's, then any that start later) and expects one
mask per object so far on every frame, in that order. Object ``k`` (0-based arrival order) is pipeline id ``k + 1``.
An object whose starting mask is empty (or entirely covered by a later object's) is never tracked: its masks stay
empty. Overlapping starting masks: the later object is in front (as in our toy videos and DAVIS label maps).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_OBJECTS = 255  # ids are stored in uint8 label maps


class VotsSession:
    """``step(image, new_masks) -> masks``: the toolkit's view of one video.

    Args:
        pipeline: anything with ``step(image, mask=None, objects=None) -> output with .labels`` (an
            :class:`~hqtrack_core.pipeline.HQTrackPipeline`), fresh for this video.
    """

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.count = 0  # objects announced so far
        self.started = False  # the pipeline has objects (its first step had a mask)

    def step(self, image: np.ndarray, new_masks: Sequence[np.ndarray] = ()) -> list[np.ndarray]:
        """One frame: ``image`` ``(H, W, 3) uint8`` RGB; ``new_masks`` one ``(H, W)`` bool mask per object starting on
        this frame (arrival order). Returns one ``(H, W)`` bool mask per object announced so far."""
        height, width = image.shape[:2]
        if self.count + len(new_masks) > MAX_OBJECTS:
            raise ValueError(f"{self.count + len(new_masks)} objects: hqtrack tracks at most {MAX_OBJECTS} per video")
        prompt = np.zeros((height, width), np.uint8)
        for offset, mask in enumerate(new_masks):
            mask = np.asarray(mask, bool)
            if mask.shape != (height, width):
                raise ValueError(f"object {self.count + offset + 1}: mask {mask.shape} does not match the frame "
                                 f"{(height, width)}")
            prompt[mask] = self.count + offset + 1  # a later object is in front
        given = [i for i in range(self.count + 1, self.count + len(new_masks) + 1) if np.any(prompt == i)]
        self.count += len(new_masks)
        # One frame per TraX request, its reply due before the next one arrives: the toolkit drives this step.
        if given:
            labels = np.asarray(self.pipeline.step(image, mask=prompt, objects=given).labels)
            self.started = True
        elif self.started:
            labels = np.asarray(self.pipeline.step(image).labels)
        else:  # nothing to track yet
            labels = np.zeros((height, width), np.uint8)
        return [labels == i for i in range(1, self.count + 1)]
