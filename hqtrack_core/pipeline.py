"""The full HQTrack pipeline: VMOS (the tracker) followed by the mask refiner.

Per frame: VMOS propagates its memory to the new frame and predicts a label map; the refiner (HQ-SAM by
default in the paper) refines each object's mask, guarded by the IoU selector; the label map written back into
VMOS memory is either the raw VMOS prediction (``memory_write="raw"``: the released code) or the refined one
(``memory_write="refined"``: an option the paper's text leaves open).

The tracker is anything with the step API of :mod:`hqtrack_core.inference.engine`:
``propagate(image) -> StepOutput``, ``remember(labels)`` and ``step(image, mask, objects) -> StepOutput``,
where ``StepOutput`` has ``labels`` ``(H, W)`` ids, ``object_ids`` and ``frame_index``. The pipeline's own output,
:class:`PipelineOutput`, is a ``StepOutput`` with the raw VMOS labels and the refiner's result added: one step
output type for the tracker, the pipeline and :func:`hqtrack_core.api.track_video`.

Build one with :func:`hqtrack_core.api.build_tracker` (an :class:`~hqtrack_core.api.InferenceConfig` in, the
networks loaded once); the class is the building block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, Sequence

import numpy as np

from .inference.engine import StepOutput
from .refine.base import RefineResult, Refiner

MemoryWrite = Literal["raw", "refined"]
MEMORY_WRITES: tuple[str, ...] = ("raw", "refined")


class Tracker(Protocol):
    """What the pipeline needs from VMOS (see :mod:`hqtrack_core.inference.engine`)."""

    def propagate(self, image: Any) -> Any: ...

    def remember(self, labels: Any) -> Any: ...

    def step(self, image: Any, mask: Any = None, objects: Any = None) -> Any: ...

    def remove_object(self, obj_id: int) -> None: ...


@dataclass
class PipelineOutput(StepOutput):
    """One frame of the pipeline: the tracker's :class:`~hqtrack_core.inference.engine.StepOutput` (``probs``,
    ``logits``: VMOS's) with the refiner's result.

    Attributes:
        labels: ``(H, W)`` final label map (refined when a refiner ran, else VMOS's).
        raw_labels: ``(H, W)`` VMOS's prediction before refinement.
        object_ids: ids of the tracked objects (a tuple).
        frame_index: index of the frame in the video (from the tracker).
        refinement: the refiner's per-object IoU / accepted flags; None on mask frames or without a refiner.
    """

    raw_labels: np.ndarray | None = None
    refinement: RefineResult | None = None

    @classmethod
    def of(cls, out: StepOutput, labels: np.ndarray, refinement: RefineResult | None = None) -> "PipelineOutput":
        """The tracker's ``out`` with final ``labels`` (``out.labels`` becomes ``raw_labels``; a custom tracker's
        output without ``probs`` / ``logits`` gives None there)."""
        return cls(labels=labels, probs=getattr(out, "probs", None), object_ids=tuple(int(i) for i in out.object_ids),
                   frame_index=int(out.frame_index), logits=getattr(out, "logits", None),
                   raw_labels=np.asarray(out.labels),
                   refinement=refinement)


class HQTrackPipeline:
    """VMOS + refiner with ``step(image, mask=None, objects=None)``.

    Args:
        tracker: the VMOS engine (``hqtrack_core.inference.engine``).
        refiner: a :class:`~hqtrack_core.refine.Refiner`, or None for raw VMOS masks.
        memory_write: ``"raw"`` (released code: VMOS memory gets its own prediction) or ``"refined"``.
        description: one line saying what runs (``build_tracker`` fills it: weights, settings and their origin).
    """

    def __init__(self, tracker: Tracker, refiner: Refiner | None = None, memory_write: MemoryWrite = "raw",
                 description: str = "") -> None:
        if memory_write not in MEMORY_WRITES:
            raise ValueError(f"memory_write must be one of {MEMORY_WRITES}, got {memory_write!r}")
        if refiner is not None and not isinstance(refiner, Refiner):
            raise TypeError(f"refiner must be a hqtrack_core.refine.Refiner or None, got {type(refiner).__name__}")
        self.tracker = tracker
        self.refiner = refiner
        self.memory_write: MemoryWrite = memory_write
        self.description = description

    @property
    def precision(self) -> dict[str, str]:
        """The resolved precision of each part (``{"tracker": "bf16", "refiner": "bf16"}``); a part without a
        ``precision`` (the classical refiner, a custom tracker) is left out."""
        parts = {"tracker": self.tracker, "refiner": self.refiner}
        return {name: part.precision.name for name, part in parts.items()
                if getattr(part, "precision", None) is not None and hasattr(part.precision, "name")}

    def step(
        self, image: np.ndarray, mask: np.ndarray | None = None, objects: Sequence[int] | None = None
    ) -> PipelineOutput:
        """Process one frame.

        Without ``mask``: VMOS predicts, the refiner refines, the memory policy writes raw or refined labels.
        With ``mask`` (first frame, or objects added mid-video): the tracker takes the given mask as it is
        (it is the user's ground truth) and nothing is refined on that frame.
        """
        if mask is not None:
            out = self.tracker.step(image, mask, objects)
            return PipelineOutput.of(out, np.asarray(out.labels))
        out = self.tracker.propagate(image)
        raw = np.asarray(out.labels)
        ids = tuple(int(i) for i in out.object_ids)
        refinement = None
        labels = raw
        if self.refiner is not None and ids:
            refinement = self.refiner.refine(image, raw, ids)
            labels = refinement.labels
        self.tracker.remember(raw if self.memory_write == "raw" else labels)
        return PipelineOutput.of(out, labels, refinement)

    def remove_object(self, obj_id: int) -> None:
        """Stop tracking ``obj_id`` from the next frame on (the tracker's ``remove_object``; KeyError if unknown)."""
        self.tracker.remove_object(obj_id)
