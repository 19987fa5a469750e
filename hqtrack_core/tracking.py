"""Run a tracker (or the full VMOS + refiner pipeline) over a whole video.

One loop, used by ``hqtrack track``, the notebooks and the evaluation scripts, so that the prompt handling is
the same everywhere: a prompt mask given for a frame adds (new ids) or resets (known ids) objects there; every
other frame is propagated.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrackedFrame:
    """One frame of a tracked video: ``labels`` ``(H, W)`` object ids, the input ``image`` ``(H, W, 3)``."""

    index: int
    stem: str
    image: np.ndarray
    labels: np.ndarray
    seconds: float  # wall time of the step


def track_video(
    stepper,
    frames: Iterable[tuple[str, np.ndarray]],
    prompts: Mapping[str, np.ndarray],
    max_frames: int | None = None,
    progress: bool = False,
) -> Iterator[TrackedFrame]:
    """Yield a :class:`TrackedFrame` per input frame.

    Args:
        stepper: anything with ``step(image, mask=None) -> output with .labels`` — a
            :class:`~hqtrack_core.inference.engine.VMOSTracker` or a :class:`~hqtrack_core.pipeline.HQTrackPipeline`.
        frames: ``(stem, image)`` pairs in video order (e.g. a ``FrameSource`` or ``Video.frames()``).
        prompts: prompt label maps by frame stem; the first frame must have one.
        max_frames: stop after this many frames.
        progress: show a tqdm bar.
    """
    if not prompts:
        raise ValueError("no prompt mask: give at least the first frame's mask")
    iterator, bar = iter(frames), None
    if progress:
        from tqdm.auto import tqdm

        total = len(frames) if hasattr(frames, "__len__") else None
        if total is not None and max_frames is not None:
            total = min(total, max_frames)
        bar = tqdm(iterator, total=total, desc="tracking", unit="frame")
        iterator = iter(bar)
    try:
        yield from _track(stepper, iterator, prompts, max_frames)
    finally:
        if bar is not None:
            bar.close()  # (at once, even on an error or Ctrl-C: a message after it starts on its own line)


def _track(stepper, iterator, prompts, max_frames) -> Iterator[TrackedFrame]:
    for index, (stem, image) in enumerate(iterator):
        if max_frames is not None and index >= max_frames:
            break
        mask = prompts.get(stem)
        if index == 0 and mask is None:
            raise ValueError(f"the first frame {stem!r} has no prompt mask (prompts given for {sorted(prompts)[:5]})")
        start = time.perf_counter()
        output = stepper.step(image, mask=mask) if mask is not None else stepper.step(image)
        yield TrackedFrame(index, stem, image, np.asarray(output.labels), time.perf_counter() - start)
