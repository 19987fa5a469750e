"""Training checkpoints: written atomically (temporary file + ``os.replace``), found again on resume.

A checkpoint holds everything needed to continue bit-for-bit: model, EMA, optimiser, step, training
config and the RNG states (python, numpy, torch). The deployable artefact (EMA weights as safetensors) is
written by ``hqtrack_core.commands.train.export_model`` through ``hqtrack_core.model.checkpoint.save_vmos``.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_path
from ..weights import load_torch_file

_NAME = re.compile(r"^step_(\d+)\.pt$")


def rng_state() -> dict[str, Any]:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def checkpoint_path(out_dir: str | os.PathLike, step: int) -> Path:
    return Path(out_dir) / "checkpoints" / f"step_{step:07d}.pt"


def list_checkpoints(out_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    folder = Path(out_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def latest_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    found = list_checkpoints(out_dir)
    return found[-1][1] if found else None


def save_checkpoint(out_dir: str | os.PathLike, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``state`` for ``step`` atomically, then delete all but the newest ``keep`` checkpoints."""
    path = atomic_torch_save(state, checkpoint_path(out_dir, step))
    for _, old in list_checkpoints(out_dir)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    return load_torch_file(path, "training checkpoint")

