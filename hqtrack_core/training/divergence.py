"""A run that diverged (loss, gradient or weights NaN/inf): the error naming the step, the likely cause and the
last good checkpoint; nothing of the bad step is saved."""

from __future__ import annotations

from pathlib import Path

import torch

from ..validate import nonfinite_tensors
from .checkpoints import list_checkpoints


class TrainingDiverged(ValueError):
    """The loss, the gradient or the weights became NaN/inf: the message names the step, the likely cause and the
    last good checkpoint (nothing of the bad step is saved)."""


def diverged(out_dir: Path, step: int, what: str, frames: torch.Tensor, lr: float) -> TrainingDiverged:
    """The error of step ``step`` (``what`` went non-finite), naming the likely cause and the checkpoints kept in
    ``out_dir``."""
    if not bool(torch.isfinite(frames).all()):
        cause = "bad data: this batch's frames hold NaN/inf"
    else:
        cause = f"likely a learning rate too high: lr {lr:.3g} at this step; or bad data"
    kept = [path.name for _, path in list_checkpoints(out_dir)]
    kept_text = (f"checkpoints kept (finite weights): {', '.join(kept)} in {out_dir / 'checkpoints'}: "
                 "resume with a lower learning rate (--resume --set lr=...), after deleting the newest if the "
                 "loss was already rising there" if kept else
                 "no checkpoint was written yet: start again with a lower learning rate (--set lr=...)")
    return TrainingDiverged(f"training diverged at step {step}: {what} ({cause}); nothing of this step was "
                            f"saved; {kept_text}")


def check_weights(out_dir: Path, step: int, states: dict[str, dict], frames: torch.Tensor, lr: float) -> None:
    """Before a checkpoint: every state of ``states`` (label -> state dict: the model's and the EMA's weights)
    finite (a finite loss can still end in a non-finite update); otherwise :class:`TrainingDiverged`, and nothing
    is written."""
    for label, state in states.items():
        bad = nonfinite_tensors(state)
        if bad:
            raise diverged(out_dir, step, f"{label} {bad[0][0]} holds NaN/inf after the update", frames, lr)
