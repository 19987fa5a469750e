"""The one video loop: run a tracker (or the VMOS + refiner pipeline) over a whole video.

Used by ``hqtrack track``, the notebooks, the ablation study, the benchmarks and the evaluation scripts, so that
the prompt handling is the same everywhere: a prompt mask given for a frame adds (new ids) or corrects (known ids)
objects there; every other frame is propagated.

Timing: every :class:`TrackedFrame` carries the wall time (``seconds``) and the process CPU time
(``cpu_seconds``) of its step alone; what the caller does with a frame between two steps (writing it, measuring
the tracker's memory) is not counted.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .per_object import PerObjectTracker


@dataclass(frozen=True)
class TrackedFrame:
    """One frame of a tracked video.

    Attributes:
        index: position in the video (0 = the first frame).
        stem: the frame's name.
        image: the input ``(H, W, 3)`` uint8 RGB.
        labels: ``(H, W)`` object ids.
        seconds: wall time of the step (the tracker's, or the pipeline's: VMOS + refiner).
        output: with ``track_video(..., outputs=True)``, the step's output
            (:class:`~hqtrack_core.inference.engine.StepOutput`, or its subclass
            :class:`~hqtrack_core.pipeline.PipelineOutput` with ``raw_labels`` and ``refinement``); else None (it
            holds the probabilities, ``(N + 1, H, W)`` floats: a list of frames would keep them all).
        cpu_seconds: process CPU time of the step.
    """

    index: int
    stem: str
    image: np.ndarray
    labels: np.ndarray
    seconds: float
    output: Any = None
    cpu_seconds: float = 0.0


def track_video(
    tracker,
    frames: Iterable[tuple[str, np.ndarray]],
    prompts: Mapping[str, np.ndarray],
    max_frames: int | None = None,
    progress: bool = False,
    per_object: bool = False,
    step_context: Callable[[], AbstractContextManager] | None = None,
    outputs: bool = False,
) -> Iterator[TrackedFrame]:
    """Yield a :class:`TrackedFrame` per input frame.

    Args:
        tracker: anything with ``step(image, mask=None) -> output with .labels`` — what
            :func:`~hqtrack_core.api.build_tracker` returns, a :class:`~hqtrack_core.inference.engine.VMOSTracker`
            or a :class:`~hqtrack_core.pipeline.HQTrackPipeline`. With ``per_object``: a function returning a
            fresh tracker, called once per object (see :class:`~hqtrack_core.api.per_object.PerObjectTracker`).
        frames: ``(stem, image)`` pairs in video order (e.g. a ``FrameSource`` or ``Video.frames()``).
        prompts: prompt label maps by frame stem; the first frame must have one.
        max_frames: stop after this many frames.
        progress: show a tqdm bar.
        per_object: one separate tracker per object, merged into one label map each frame.
        step_context: each step runs inside ``step_context()`` (e.g. ``precision.autocast``); timed inside it.
        outputs: each frame carries its step output (``TrackedFrame.output``).
    """
    if not prompts:
        raise ValueError("no prompt mask: give at least the first frame's mask")
    if per_object:
        if not callable(tracker) or hasattr(tracker, "step"):
            raise TypeError("track_video(per_object=True) takes a function returning a fresh tracker, "
                            f"got {type(tracker).__name__}")
        tracker = PerObjectTracker(tracker)
    iterator, bar = iter(frames), None
    if progress:
        total = len(frames) if hasattr(frames, "__len__") else None
        if total is not None and max_frames is not None:
            total = min(total, max_frames)
        bar = tqdm(iterator, total=total, desc="tracking", unit="frame")
        iterator = iter(bar)
    try:
        yield from _track(tracker, iterator, prompts, max_frames, step_context or contextlib.nullcontext, outputs)
    finally:
        if bar is not None:
            bar.close()  # (at once, even on an error or Ctrl-C: a message after it starts on its own line)


def _track(tracker, iterator, prompts, max_frames, step_context, outputs) -> Iterator[TrackedFrame]:
    for index, (stem, image) in enumerate(iterator):
        if max_frames is not None and index >= max_frames:
            break
        mask = prompts.get(stem)
        if index == 0 and mask is None:
            raise ValueError(f"the first frame {stem!r} has no prompt mask (prompts given for {sorted(prompts)[:5]})")
        with step_context():
            start, cpu = time.perf_counter(), time.process_time()
            output = tracker.step(image, mask=mask) if mask is not None else tracker.step(image)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        yield TrackedFrame(index, stem, image, np.asarray(output.labels), seconds, output if outputs else None, cpu)
