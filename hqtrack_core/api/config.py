"""``InferenceConfig``: every setting of a tracking run in one frozen dataclass, and the one place where a
checkpoint's model card fills the settings the user left open.

    config = InferenceConfig.from_card()                      # the committed teaching model, its card's settings
    config = InferenceConfig.from_card(checkpoint="w.safetensors", flip=False)   # the card's, except the flip
    config = config.replace(precision="fp32")                 # dataclasses.replace semantics

Without a card (an official checkpoint, random weights) the defaults are: the input size, the ``released`` memory
policy, precision ``auto``, no test-time flip, no refiner.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..inference.memory import MEMORY_PRESETS
from ..model.card import ModelCard, read_model_card
from ..precision import PRECISIONS
from ..refine.build import REFINER_KINDS
from ..refine.selector import DEFAULT_THRESHOLD
from ..validate import MIN_SHORT_EDGE
from .checkpoints import resolve_weights

# The settings a model card chooses when the user does not.
CARD_SETTINGS: tuple[str, ...] = ("short_edge", "memory", "precision", "flip", "refiner")


def model_card_of(model: str | None = None, checkpoint: str | Path | None = None) -> ModelCard | None:
    """The model card of the checkpoint ``build_vmos`` would load for ``(model, checkpoint)`` (None if it has
    none: random weights, an official or a training checkpoint, an older file)."""
    _, checkpoint = resolve_weights(model, checkpoint)
    if checkpoint is None or str(checkpoint).lower() == "none" or not Path(checkpoint).is_file():
        return None
    return read_model_card(checkpoint)


def card_settings(card: ModelCard | None) -> dict[str, Any]:
    """The settings a checkpoint runs with unless told otherwise: its card's, or the defaults without a card."""
    if card is None:
        return {"short_edge": None, "memory": "released", "precision": "auto", "flip": False, "refiner": "none"}
    return {"short_edge": card.preferred_short_edge, "memory": card.preferred_memory,
            "precision": card.preferred_precision, "flip": card.preferred_flip, "refiner": card.preferred_refiner}


@dataclass(frozen=True)
class InferenceConfig:
    """What to run and how. Checked when made (an unknown name fails before any weights load).

    Attributes:
        model: preset name (``hqtrack_teach``, ``deaot_l``, ``hqtrack_vmos``, ...); ``None`` = the default model.
        checkpoint: weights file (ours ``.safetensors``, a ``step_*.pt`` of ``hqtrack train``, or an official
            ``.pth``); ``None`` = the committed teaching checkpoint for the default model; ``"none"`` = random
            weights on purpose.
        short_edge: the network runs with the frame's short edge resized to this (sides snapped to 16k+1; masks
            come back at the input size); ``None`` = the input size.
        memory: a memory policy of :data:`~hqtrack_core.inference.memory.MEMORY_PRESETS`.
        precision: ``fp32`` (exact), ``bf16``, ``fp16`` (GPU) or ``auto`` (bf16 where the hardware has it).
        flip: the test-time flip (each frame also runs mirrored; twice the compute).
        refiner: ``none`` | ``hqsam`` | ``sam`` | ``classical`` (:data:`~hqtrack_core.refine.build.REFINER_KINDS`).
        refiner_checkpoint, refiner_model: HQ-SAM / SAM weights and model type.
        threshold: the IoU selector (keep a refined mask when IoU(refined, VMOS) >= this).
        box_margin, multimask, hq_token_only: HQ-SAM / SAM prompt and output options (released: 0, True, False).
        device: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` | ``mps``.
        pretrained_encoder: with random weights, start the encoder from its ImageNet weights where available.
        card: the model card the settings were read from (None without one).
        chosen_by_card: the names of the settings the card (or, without a card, the defaults) chose.
    """

    model: str | None = None
    checkpoint: str | Path | None = None
    short_edge: int | None = None
    memory: str = "released"
    precision: str = "auto"
    flip: bool = False
    refiner: str = "none"
    refiner_checkpoint: str | Path | None = None
    refiner_model: str = "vit_tiny"
    threshold: float = DEFAULT_THRESHOLD
    box_margin: float = 0.0
    multimask: bool = True
    hq_token_only: bool = False
    device: str = "auto"
    pretrained_encoder: bool = False
    card: ModelCard | None = field(default=None, compare=False, repr=False)
    chosen_by_card: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        edge = self.short_edge
        if edge is not None and (isinstance(edge, bool) or not isinstance(edge, int) or edge < MIN_SHORT_EDGE):
            raise ValueError(f"short_edge must be an integer >= {MIN_SHORT_EDGE} or None, got {edge!r}")
        if self.memory not in MEMORY_PRESETS:
            raise KeyError(f"unknown memory policy {self.memory!r}; known: {sorted(MEMORY_PRESETS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not isinstance(self.flip, bool):
            raise ValueError(f"flip must be True or False, got {self.flip!r}")
        if self.refiner not in REFINER_KINDS:
            raise KeyError(f"unknown refiner {self.refiner!r}; choose one of {REFINER_KINDS}")

    @classmethod
    def from_card(cls, model: str | None = None, checkpoint: str | Path | None = None,
                  **settings: Any) -> "InferenceConfig":
        """The config of ``(model, checkpoint)`` (see the attributes): the settings given in ``settings`` as they
        are, every other one of :data:`CARD_SETTINGS` from the checkpoint's model card. The weights file is read
        for its card only (its header); the default model resolves to the committed teaching checkpoint."""
        unknown = sorted(set(settings) - ({f.name for f in dataclasses.fields(cls)} - {"card", "chosen_by_card"}))
        if unknown:
            raise TypeError(f"InferenceConfig.from_card: unknown settings {unknown}")
        model, checkpoint = resolve_weights(model, checkpoint)
        card = model_card_of(model, checkpoint)
        chosen = {name: value for name, value in card_settings(card).items() if name not in settings}
        return cls(model=model, checkpoint=checkpoint, card=card, chosen_by_card=frozenset(chosen), **chosen,
                   **settings)

    def replace(self, **changes: Any) -> "InferenceConfig":
        """A copy with ``changes`` (``dataclasses.replace``); a changed setting no longer counts as the card's."""
        return dataclasses.replace(self, **changes, chosen_by_card=self.chosen_by_card - set(changes))

    def card_chose(self, setting: str) -> bool:
        """Whether the model card (not the user, not the no-card default) chose ``setting``."""
        return self.card is not None and setting in self.chosen_by_card
