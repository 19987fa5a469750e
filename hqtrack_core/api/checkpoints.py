"""The named checkpoints this project ships: the default (teaching) model and the ablation study's baselines.

``InferenceConfig.from_card()`` with no arguments resolves to :func:`default_checkpoint` when it is present.
"""

from __future__ import annotations

from pathlib import Path

from ..paths import artefacts_dir

DEFAULT_MODEL = "hqtrack_teach"
ABLATION_BASELINE = "hqtrack_teach_v2"


def default_checkpoint() -> Path:
    """The committed teaching checkpoint (may be absent in a partial checkout)."""
    return artefacts_dir() / "checkpoints" / f"{DEFAULT_MODEL}.safetensors"


def ablation_baseline_checkpoint() -> Path:
    """The teaching model the ablation study (``hqtrack ablate``, notebooks 09-15) runs at teaching scale: v2 of
    ``hqtrack_teach`` (400 steps), the recipe and budget every trained ablation variant shares, so that rows 1-2
    compare like with like. The shipped default (:func:`default_checkpoint`) trained longer."""
    return artefacts_dir() / "checkpoints" / f"{ABLATION_BASELINE}.safetensors"


def is_default_model(model: str | None) -> bool:
    """``None``, ``""``, ``"auto"`` and ``hqtrack_teach`` all name the default model."""
    return model in (None, "", "auto", DEFAULT_MODEL)


def ablation_checkpoint(model: str | None) -> Path:
    """The committed teaching-scale checkpoint the ablation study runs for a preset: the default model's is
    :func:`ablation_baseline_checkpoint`, every other variant's is ``data/checkpoints/ablation/<model>.safetensors``
    (rows 1-2; may be absent: then the row says how to train it)."""
    if is_default_model(model):
        return ablation_baseline_checkpoint()
    return artefacts_dir() / "checkpoints" / "ablation" / f"{model}.safetensors"


def resolve_weights(model: str | None, checkpoint: str | Path | None) -> tuple[str | None, str | Path | None]:
    """``(model, checkpoint)`` as :func:`hqtrack_core.api.build_vmos` reads them: ``None``/``""``/``"auto"`` model =
    the default one, ``None``/``""`` checkpoint = the committed teaching checkpoint for the default model (when
    present; else ``None``: random weights, with a warning)."""
    model = None if model in (None, "", "auto") else model
    checkpoint = None if checkpoint in (None, "") else checkpoint
    if checkpoint is None and is_default_model(model) and default_checkpoint().is_file():
        checkpoint = default_checkpoint()
    return model, checkpoint
