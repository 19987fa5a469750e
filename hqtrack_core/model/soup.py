"""Weight averaging ("model soup", Wortsman et al., ICML 2022): one checkpoint whose every weight is the mean of
the same weight in several fine-tuned checkpoints of one architecture.

Averaging works when the checkpoints were fine-tuned from the same starting weights (they lie in one basin of the
loss); it costs one forward pass at inference, unlike an ensemble. The teaching model uses it to pool several
short stage-2 continuations of one parent (``data/checkpoints/README.md``).

:func:`average_checkpoints` reads ``.safetensors`` files written by
:func:`hqtrack_core.model.checkpoint.save_vmos`, refuses files that cannot be averaged (different VMOS configs,
different tensor names or shapes, different integer buffers) before writing anything, averages in float32, stores
the first file's dtypes and metadata, replaces the card if one is given, and records the inputs (each path as
given, and its SHA-256) under the metadata key ``averaged_from``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import torch

from ..weights import read_safetensors_metadata, write_safetensors
from .card import METADATA_KEY, ModelCard
from .checkpoint import read_vmos_file

AVERAGED_FROM_KEY = "averaged_from"

__all__ = ["average_checkpoints", "read_averaged_from", "AVERAGED_FROM_KEY"]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: weight averaging reads .safetensors files written by save_vmos")
    return read_vmos_file(path)


def average_checkpoints(inputs: Sequence[str | os.PathLike], output: str | os.PathLike,
                        card: ModelCard | None = None, overwrite: bool = False) -> Path:
    """Write the uniform average of ``inputs`` (>= 2 VMOS ``.safetensors`` files of one config) to ``output``.

    Floating-point tensors are averaged in float32 and stored in the first input's dtype (float16 for the
    teaching exports); integer tensors must be equal in every input and are copied. The output keeps the first
    input's metadata (VMOS config, preset) with ``card`` as its model card when given, else the first input's
    card, and lists the inputs under ``averaged_from``.

    Raises:
        ValueError: fewer than two inputs, an input given twice, ``output`` is one of the inputs, ``output``
            exists and ``overwrite`` is False, or the inputs differ in config, tensor names, shapes or integer
            buffers (the message names the file and the tensor). Nothing is written then.
        FileNotFoundError: an input is missing.
    """
    paths = [Path(p) for p in inputs]
    output = Path(output)
    if len(paths) < 2:
        raise ValueError(f"weight averaging needs at least two checkpoints, got {len(paths)}")
    resolved = [p.resolve() for p in paths]
    if len(set(resolved)) != len(resolved):
        raise ValueError("a checkpoint is given twice; list each once (a weighted average is not supported)")
    if output.resolve() in resolved:
        raise ValueError(f"the output {output} is one of the inputs; write the average to a new file")
    if output.exists() and not overwrite:
        raise ValueError(f"{output} exists; choose a new file or pass overwrite=True (--force)")
    if output.suffix != ".safetensors":
        raise ValueError(f"the output must be a .safetensors file, got {output.name}")

    first_meta, first = _read(paths[0])
    sums = {key: value.float() if value.is_floating_point() else value for key, value in first.items()}
    for path in paths[1:]:
        meta, state = _read(path)
        if json.loads(meta["vmos_config"]) != json.loads(first_meta["vmos_config"]):
            raise ValueError(f"{path} has another VMOS config than {paths[0]}: only checkpoints of one "
                             "architecture can be averaged")
        if set(state) != set(first):
            extra, missing = sorted(set(state) - set(first)), sorted(set(first) - set(state))
            raise ValueError(f"{path} has other tensors than {paths[0]} (extra {extra[:3]}, missing {missing[:3]})")
        for key, value in state.items():
            ref = first[key]
            if value.shape != ref.shape:
                raise ValueError(f"{path}: tensor {key} has shape {tuple(value.shape)}, {paths[0]} has "
                                 f"{tuple(ref.shape)}")
            if ref.is_floating_point() != value.is_floating_point():
                raise ValueError(f"{path}: tensor {key} is {value.dtype}, {paths[0]} has {ref.dtype}")
            if ref.is_floating_point():
                sums[key] += value.float()
            elif not torch.equal(value, ref):
                raise ValueError(f"{path}: integer tensor {key} differs from {paths[0]}'s; it cannot be averaged")
    state = {key: (value / len(paths)).to(first[key].dtype) if first[key].is_floating_point() else value
             for key, value in sums.items()}

    meta = dict(first_meta)
    if card is not None:
        meta[METADATA_KEY] = card.to_json()
    meta[AVERAGED_FROM_KEY] = json.dumps([{"file": str(p), "sha256": _sha256(p)} for p in paths])
    output.parent.mkdir(parents=True, exist_ok=True)
    return write_safetensors(output, {k: v.contiguous() for k, v in state.items()}, meta)


def read_averaged_from(path: str | os.PathLike) -> list[dict[str, str]] | None:
    """The inputs (``file``, ``sha256``) a checkpoint was averaged from, or None for a checkpoint that was not.
    A missing or damaged file: one clear error, not the reader's traceback."""
    meta = read_safetensors_metadata(path)
    return json.loads(meta[AVERAGED_FROM_KEY]) if AVERAGED_FROM_KEY in meta else None
