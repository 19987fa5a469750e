"""Weight files: the one module that opens them (``.safetensors``, torch ``.pth`` / ``.pt``) and writes
``.safetensors``.

Every reader checks the file first (:func:`hqtrack_core.validate.check_weights_file`: missing, empty, truncated,
not a weights file) and turns a reader's failure into one ``ValueError`` naming the file and the fix, so a damaged
download is never a library traceback. What the tensors mean is the caller's business (``model/checkpoint.py``
for VMOS files, ``refine/sam.py`` for SAM ones).

- :func:`load_torch_file`: ``torch.load`` on CPU (official aot-benchmark / HQTrack / SAM checkpoints, ImageNet
  weights, our training checkpoints);
- :func:`load_safetensors_file`: the tensors of a ``.safetensors`` file;
- :func:`read_safetensors_metadata`: its metadata only (header; no tensor is read);
- :func:`read_safetensors`: metadata and tensors as stored (no int8 restoration), for tools rewriting files;
- :func:`read_state_dict` / :func:`plain_state_dict`: any weight file (or loaded object) -> a ``{name: tensor}``
  state dict: ``{'state_dict': ...}`` unwrapped, our int8 storage restored to float16;
- :func:`write_safetensors`: an atomic ``.safetensors`` write;
- our int8 storage (written by :mod:`hqtrack_core.model.int8_storage`): :func:`is_int8_state`,
  :func:`dequantize_state`, :data:`SCALE_SUFFIX`.
"""

from __future__ import annotations

import os
import pickle
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .atomic import atomic_path
from .validate import check_weights_file

__all__ = ["load_torch_file", "load_safetensors_file", "read_safetensors_metadata", "read_safetensors",
           "read_state_dict", "plain_state_dict", "write_safetensors", "is_int8_state", "dequantize_state",
           "SCALE_SUFFIX"]

# Our int8 storage: an int8 tensor's per-output-channel float32 scales are stored under ``key + SCALE_SUFFIX``.
SCALE_SUFFIX = ":int8_scale"


def _unreadable(path: Path, what: str, err: Exception) -> ValueError:
    detail = str(err).split("\n")[0][:160]
    return ValueError(f"cannot read {what} {path} (damaged, truncated or not a weights file: "
                      f"{type(err).__name__}: {detail}): download or copy it again")


def load_torch_file(path: str | os.PathLike, what: str = "checkpoint", weights_only: bool = False, mmap: bool = False):
    """``torch.load(path, map_location="cpu")`` after :func:`check_weights_file`; a damaged file is a ValueError.
    ``mmap``: map the file instead of reading it (tensor shapes are read without loading the weights)."""
    path = check_weights_file(path, what)
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only, mmap=mmap)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, AttributeError, ImportError,
            IndexError, KeyError, UnicodeDecodeError, struct.error) as err:
        raise _unreadable(path, what, err) from err


def load_safetensors_file(path: str | os.PathLike, what: str = "checkpoint",
                          device: str = "cpu") -> dict[str, torch.Tensor]:
    """``safetensors.torch.load_file`` after :func:`check_weights_file`; a damaged file is a ValueError."""
    path = check_weights_file(path, what)
    try:
        return load_file(str(path), device=device)
    except SafetensorError as err:
        raise _unreadable(path, what, err) from err


def read_safetensors_metadata(path: str | os.PathLike, what: str = "checkpoint") -> dict[str, str]:
    """The string metadata of a ``.safetensors`` file (``{}`` when it has none); no tensor is read."""
    path = check_weights_file(path, what)
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except SafetensorError as err:
        raise _unreadable(path, what, err) from err


def read_safetensors(path: str | os.PathLike,
                     what: str = "checkpoint") -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """``(metadata, tensors)`` of a ``.safetensors`` file, tensors as stored (int8 storage not restored)."""
    path = check_weights_file(path, what)
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {}), {key: handle.get_tensor(key) for key in handle.keys()}
    except SafetensorError as err:
        raise _unreadable(path, what, err) from err


def write_safetensors(path: str | os.PathLike, state: Mapping[str, torch.Tensor],
                      metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``state`` (contiguous CPU tensors) and string ``metadata`` as one ``.safetensors`` file, atomically
    (nothing half-written is left at ``path``)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(dict(state), str(tmp), metadata=dict(metadata) if metadata is not None else None)
    return path


def is_int8_state(state: Mapping[str, torch.Tensor]) -> bool:
    return any(key.endswith(SCALE_SUFFIX) for key in state)


def dequantize_state(state: Mapping[str, torch.Tensor], dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """Our int8 storage restored: int8 tensors with a scale become ``dtype`` (``q * scale`` per output channel);
    a state without scales is returned unchanged. An int8 tensor without its scale, or a scale without its
    tensor, is a ValueError."""
    if not is_int8_state(state):
        return dict(state)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(SCALE_SUFFIX):
            if key[: -len(SCALE_SUFFIX)] not in state:
                raise ValueError(f"int8 checkpoint: scale {key} has no tensor")
            continue
        scale = state.get(key + SCALE_SUFFIX)
        if scale is None:
            if value.dtype == torch.int8:
                raise ValueError(f"int8 checkpoint: {key} is int8 but has no {SCALE_SUFFIX} entry")
            out[key] = value
            continue
        if value.dtype != torch.int8 or scale.shape != (value.shape[0],):
            raise ValueError(f"int8 checkpoint: {key} ({value.dtype}, {tuple(value.shape)}) does not fit its scale "
                             f"{tuple(scale.shape)}")
        out[key] = (value.float() * scale.float().view(-1, *([1] * (value.dim() - 1)))).to(dtype)
    return out


def plain_state_dict(obj) -> dict[str, torch.Tensor]:
    """A loaded checkpoint object -> ``{name: tensor}``: ``{'state_dict': ...}`` unwrapped, our int8 storage
    restored (float16). Anything that is not a mapping is a ValueError naming its type."""
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise ValueError(f"not a state dict: {type(obj).__name__}")
    return dequantize_state(obj)


def read_state_dict(path: str | os.PathLike, what: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The state dict of a weight file: a ``.safetensors`` file's tensors, or a torch file's object through
    :func:`plain_state_dict`."""
    path = Path(path)
    obj = load_safetensors_file(path, what) if path.suffix == ".safetensors" else load_torch_file(path, what)
    return plain_state_dict(obj)
