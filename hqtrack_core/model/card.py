"""The model card: what a checkpoint was trained on and how it prefers to be run, stored inside the checkpoint.

``hqtrack track`` and :meth:`hqtrack_core.api.InferenceConfig.from_card` take their defaults from it (inference
short edge, precision, refiner, memory policy, test-time flip) when the user does not say otherwise, so a model
trained at a 240-pixel short edge is not run at 480p by accident. The card lives in the ``.safetensors`` metadata (key
``model_card``, JSON) written by :func:`hqtrack_core.model.checkpoint.save_vmos`, and is repeated, readable, in the
``.json`` beside it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..precision import PRECISIONS
from ..validate import MIN_SHORT_EDGE
from ..weights import read_safetensors, read_safetensors_metadata, write_safetensors

METADATA_KEY = "model_card"


@dataclass(frozen=True)
class ModelCard:
    """Facts and preferred settings of one checkpoint.

    Attributes:
        name: the model's name (e.g. ``hqtrack_teach``).
        train_short_edge: short edge (pixels) of the training frames before cropping; None if unknown.
        preferred_short_edge: the inference short edge the model is meant to run at (``--short-edge`` default);
            None = the input size.
        preferred_precision: ``fp32|bf16|auto`` (``--precision`` default).
        preferred_refiner: ``none|classical|hqsam|sam`` (``--refiner`` default; a weight-needing refiner is
            never a default, since its weights are not in this checkpoint).
        preferred_memory: a memory policy preset of :data:`hqtrack_core.inference.memory.MEMORY_PRESETS`
            (``--memory`` default; ``released`` for cards written before this field existed). The card checks
            only that it is a name: the model layer does not know the inference presets, so an unknown name
            is refused where the card is resolved into run settings (before any weight is loaded).
        preferred_flip: run the test-time flip (``--flip`` / ``--no-flip`` default; False for cards written
            before this field existed).
        data: the training data, in words.
        steps: the training steps, in words (per stage).
        licence: the licence of the weights.
        notes: anything else a user should know (validation figures, caveats).
    """

    name: str
    train_short_edge: int | None = None
    preferred_short_edge: int | None = None
    preferred_precision: str = "auto"
    preferred_refiner: str = "none"
    preferred_memory: str = "released"
    preferred_flip: bool = False
    data: str = ""
    steps: str = ""
    licence: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        if self.preferred_precision not in PRECISIONS:
            raise ValueError(f"model card: preferred_precision must be one of {PRECISIONS}, "
                             f"got {self.preferred_precision!r}")
        if self.preferred_refiner not in ("none", "classical"):
            raise ValueError("model card: preferred_refiner must be 'none' or 'classical' (refiners that need "
                             f"weights cannot be a checkpoint's default), got {self.preferred_refiner!r}")
        if not isinstance(self.preferred_memory, str) or not self.preferred_memory:
            raise ValueError(f"model card: preferred_memory must be a memory policy name (e.g. 'released'), "
                             f"got {self.preferred_memory!r}")
        if not isinstance(self.preferred_flip, bool):
            raise ValueError(f"model card: preferred_flip must be true or false, got {self.preferred_flip!r}")
        for field in ("train_short_edge", "preferred_short_edge"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, int) or value < MIN_SHORT_EDGE):
                raise ValueError(f"model card: {field} must be an integer >= {MIN_SHORT_EDGE} or None, "
                                 f"got {value!r}")

    def replace(self, **changes: Any) -> "ModelCard":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelCard":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"model card: unknown fields {unknown}")
        return cls(**values)


def read_model_card(path: str | Path) -> ModelCard | None:
    """The card stored in a ``.safetensors`` checkpoint, or None when it has none (older files, official ones).
    A missing, empty or truncated file raises FileNotFoundError / ValueError naming it."""
    path = Path(path)
    if path.suffix != ".safetensors":
        return None
    meta = read_safetensors_metadata(path)
    if METADATA_KEY not in meta:
        return None
    return ModelCard.from_dict(json.loads(meta[METADATA_KEY]))


def write_model_card(path: str | Path, card: ModelCard) -> Path:
    """Replace the card of a ``.safetensors`` checkpoint (same tensors, same other metadata; atomic)."""
    path = Path(path)
    if path.suffix != ".safetensors" or not path.is_file():
        raise FileNotFoundError(f"not a .safetensors checkpoint: {path}")
    meta, state = read_safetensors(path)
    meta[METADATA_KEY] = card.to_json()
    return write_safetensors(path, state, meta)


__all__ = ["ModelCard", "read_model_card", "write_model_card", "METADATA_KEY"]
