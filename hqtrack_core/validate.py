"""Input checks that run before anything heavy: a bad argument, image, device or checkpoint file is reported
in one line naming the problem and the fix, before a model is loaded.

- :func:`frame_size` checks one video frame as the tracker takes it (``(H, W, 3)`` uint8 numpy or float
  ``(3, H, W)`` tensor in ``[0, 1]``) and returns ``(H, W)``;
- :func:`check_device` turns ``auto|cpu|cuda|cuda:N|mps`` into a ``torch.device`` that exists here;
- :func:`check_weights_file` reads the header of a ``.safetensors`` / ``.pth`` file (a truncated download or
  a file of another kind is refused without loading gigabytes);
- :func:`check_output_folder` refuses an output folder that is, or is inside, the input folder;
  :func:`check_output_writable` one that cannot be written (read-only mount, no permission);
- :func:`check_long_run` warns about an unbounded memory policy on a long video and about too little disk space;
- :func:`check_finite_weights` refuses weights that parse but hold NaN / inf, naming the tensor;
- :func:`check_file_writable` refuses an extra output file (``--overlay``, ``--preview``, ``--json``) that cannot
  be written, before the work that produces it;
- :func:`check_mask_pairs` refuses training frames and masks of different sizes, or masks without any object,
  reading image headers only.

Weight files are read by :mod:`hqtrack_core.weights`; what they hold is checked against a model in
:mod:`hqtrack_core.model.checkpoint` (``check_preset_matches``). This module is io: it imports no model code.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .atomic import stage_parent
from .data.masks import read_mask

__all__ = ["frame_size", "check_device", "check_weights_file", "check_output_folder", "check_output_writable",
           "check_long_run", "check_finite_weights", "nonfinite_tensors", "check_file_writable", "check_mask_pairs",
           "MIN_SHORT_EDGE"]

# Below this the network's 1/16 features are a few pixels wide: masks after the first frame come out empty.
MIN_SHORT_EDGE = 64


def frame_size(image) -> tuple[int, int]:
    """``(H, W)`` of a frame: ``(H, W, 3)`` uint8 RGB numpy array, or a float ``(3, H, W)`` tensor in [0, 1].

    Raises ValueError naming what is wrong (layout, dtype, value range) and how to fix it.
    """
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            hint = " (channels first? use image.transpose(1, 2, 0))" if image.ndim == 3 and image.shape[0] == 3 else ""
            raise ValueError(f"numpy image must be HxWx3 RGB, got shape {image.shape}{hint}")
        if image.dtype != np.uint8:
            raise ValueError(f"numpy image must be uint8 RGB (0-255), got dtype {image.dtype}: "
                             "use image.astype(np.uint8), or pass a float 3xHxW torch tensor in [0, 1]")
        return int(image.shape[0]), int(image.shape[1])
    if isinstance(image, torch.Tensor):
        if image.device.type == "meta":
            raise ValueError("tensor image is on device 'meta', which holds no data: pass real pixels "
                             "(a numpy array, or a tensor on any device: it is copied to the tracker's)")
        if image.dim() != 3 or image.shape[0] != 3:
            hint = " (looks like HxWx3: use image.permute(2, 0, 1))" if image.dim() == 3 and image.shape[2] == 3 else ""
            raise ValueError(f"tensor image must be 3xHxW, got shape {tuple(image.shape)}{hint}")
        if not image.dtype.is_floating_point:
            raise ValueError(f"tensor image must be float in [0, 1], got {image.dtype}: use image.float() / 255")
        low, high = float(image.min()), float(image.max())
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError("tensor image holds NaN or inf values")
        if low < -1e-3 or high > 1 + 1e-3:
            raise ValueError(f"tensor image values span [{low:g}, {high:g}], expected [0, 1]"
                             + (": divide by 255" if high > 1.5 else ""))
        return int(image.shape[1]), int(image.shape[2])
    if type(image).__module__.startswith("PIL."):
        raise ValueError("image must be a numpy array or a torch tensor, got a PIL image: "
                         "use np.asarray(image.convert('RGB'))")
    raise ValueError(f"image must be a numpy array or a torch tensor, got {type(image).__name__}")


def check_device(device: str | torch.device | None) -> torch.device:
    """``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda``, ``cuda:N``, ``mps`` -> a device that exists here."""
    text = "auto" if device is None else str(device)
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {text!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {text!r}: no CUDA GPU is available here (torch {torch.__version__}, "
                             f"CUDA build {torch.version.cuda}); use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {text!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            raise ValueError(f"device {text!r}: MPS (Apple GPU) is not available here; use --device cpu or auto")
    elif dev.type != "cpu":
        raise ValueError(f"device {text!r} is not supported: use auto, cpu, cuda, cuda:N or mps")
    return dev


def check_weights_file(path: str | os.PathLike, what: str = "checkpoint") -> Path:
    """Check that ``path`` is a complete ``.safetensors`` file or a complete torch ``.pth`` archive, reading
    only its header / index (cheap for a 2.5 GB file). Legacy (non-zip) pickles are accepted as they are.

    Raises FileNotFoundError when missing, ValueError (truncated, empty, not a weights file) otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    size = path.stat().st_size
    again = "download or copy it again"
    if size == 0:
        raise ValueError(f"{what} {path} is empty (0 bytes): {again}")
    with open(path, "rb") as handle:
        head = handle.read(8)
        if path.suffix == ".safetensors":
            if len(head) < 8:
                raise ValueError(f"{what} {path} is truncated ({size} bytes): {again}")
            (length,) = struct.unpack("<Q", head)
            if length > size - 8:
                raise ValueError(f"{what} {path} is truncated or not a .safetensors file "
                                 f"(header of {length} bytes, file of {size}): {again}")
            try:
                header = json.loads(handle.read(length))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ValueError(f"{what} {path} is not a .safetensors file (unreadable header): {again}") from None
            end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
            if 8 + length + end > size:
                raise ValueError(f"{what} {path} is truncated: {size} bytes of {8 + length + end}: {again}")
            return path
    if head[:2] == b"PK":  # torch.save's zip format: the index sits at the end, so a cut-off file has none
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{what} {path} is truncated (its zip index is missing): {again}")
        return path
    if head[:1] != b"\x80":  # a pickle (legacy torch.save) starts with the PROTO opcode
        raise ValueError(f"{what} {path} is not a PyTorch or safetensors weights file: check the path")
    return path


def check_output_folder(out: str | os.PathLike, source: str | os.PathLike) -> None:
    """Refuse an output folder equal to, or inside, the input folder (the masks would land among the frames,
    and a PNG mask could replace a PNG frame)."""
    out_path, src = Path(out).resolve(), Path(source).resolve()
    if src.is_dir() and (out_path == src or src in out_path.parents):
        raise ValueError(f"--out {out} is {'the' if out_path == src else 'inside the'} input folder {source}: "
                         "masks would be written among the frames; choose a folder outside it")


def check_output_writable(out: str | os.PathLike) -> None:
    """Create ``out``'s parent if needed and check that the staging folder can be made (beside ``out``, or
    inside an existing ``out``); an OSError (EROFS / EACCES) otherwise, before any work is done."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a folder: choose a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    parent = stage_parent(out)
    if not os.access(parent, os.W_OK):
        raise PermissionError(errno.EACCES, f"cannot write in {parent}", str(parent))


# Masks on disk: DAVIS-2016 480p annotations average 0.0066 bytes per pixel (200 files); our indexed PNGs add a
# 768-byte palette. The estimate below takes ~4x that, plus 1 KB a file: a warning, not a refusal.
_MASK_BYTES_PER_PIXEL = 0.03
_MASK_BYTES_PER_FILE = 1024
# Unbounded memory (the DeAOT policy) beyond this many long-term entries: RAM and time per frame keep growing.
_MAX_UNBOUNDED_ENTRIES = 300


def check_long_run(num_frames: int, size: tuple[int, int], memory: str, out: str | os.PathLike, policy) -> None:
    """Warnings for a long video: an unbounded memory policy (RAM grows with every ``gap`` frames) and a disk
    that will likely not hold the masks (checked with a generous estimate; the run itself fails cleanly on a
    full disk, but only at the end of the video). ``memory``: the policy's name (for the message); ``policy``:
    the policy itself (``hqtrack_core.inference.memory.memory_policy(memory)``: its ``long_term_gap`` and
    ``max_long_term`` are read)."""
    entries = num_frames // policy.long_term_gap
    if policy.max_long_term is None and entries > _MAX_UNBOUNDED_ENTRIES:
        warnings.warn(f"memory policy {memory!r} is unbounded: about {entries} memory entries for {num_frames} "
                      "frames, RAM and time per frame grow all along; --memory released keeps memory bounded",
                      stacklevel=2)
    need = int(num_frames * (size[0] * size[1] * _MASK_BYTES_PER_PIXEL + _MASK_BYTES_PER_FILE))
    parent = Path(out) if Path(out).is_dir() else Path(out).parent
    free = shutil.disk_usage(parent).free
    if need > free:
        warnings.warn(f"{parent} has {free / 1e6:.0f} MB free; {num_frames} masks of {size[1]}x{size[0]} may need "
                      f"up to {need / 1e6:.0f} MB", stacklevel=2)


def nonfinite_tensors(state) -> list[tuple[str, int, int]]:
    """``(name, non-finite count, size)`` of every floating-point tensor of ``state`` (a mapping of tensors)
    holding NaN or inf."""
    bad = []
    for name, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
            count = int(value.numel() - torch.isfinite(value).sum())
            if count:
                bad.append((name, count, int(value.numel())))
    return bad


def check_finite_weights(state, what: str, fix: str = "download or copy it again, or re-export it") -> None:
    """Refuse weights that hold NaN / inf (a diverged run, a bad conversion): ValueError naming the first
    tensor, how many values and how many tensors are affected."""
    bad = nonfinite_tensors(state)
    if bad:
        name, count, size = bad[0]
        more = f" (and {len(bad) - 1} more tensor(s))" if len(bad) > 1 else ""
        raise ValueError(f"{what} holds NaN/inf weights: {name} has {count} of {size} values non-finite{more}: "
                         f"{fix}")


def check_file_writable(path: str | os.PathLike, option: str) -> Path:
    """Check before the work that an output file (``--overlay``, ``--preview``) can be written: its folder is
    created if needed and must be writable, and the path must not be a folder. ValueError naming it (an OSError
    when its folder cannot be created: a read-only mount)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder: give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ValueError(f"{option} {path}: {path.parent} exists and is not a folder") from None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{option} {path} cannot be written (read-only or no permission in {path.parent}): "
                         "choose a writable location")
    return path


def check_mask_pairs(pairs, what: str = "training data") -> None:
    """``pairs``: ``(frame path, mask path)``. Every mask must have its frame's size (headers only: cheap for
    thousands of files) and at least one mask must hold an object (masks are read until one does).
    ValueError naming the first mismatched pair and how many there are."""
    pairs = list(pairs)
    if not pairs:
        raise ValueError(f"{what}: no frame has a mask: check the folder layout")
    mismatched = []
    for frame, mask in pairs:
        with Image.open(frame) as a, Image.open(mask) as b:
            if a.size != b.size:
                mismatched.append((frame, mask, a.size, b.size))
    if mismatched:
        frame, mask, fs, ms = mismatched[0]
        raise ValueError(f"{what}: mask {mask} is {ms[0]}x{ms[1]} but its frame {frame} is {fs[0]}x{fs[1]} "
                         f"({len(mismatched)} of {len(pairs)} pairs differ): masks must be at their frames' size")
    for _, mask in pairs:
        if read_mask(mask).max(initial=0) > 0:
            return
    raise ValueError(f"{what}: none of the {len(pairs)} masks holds an object (all background): nothing to "
                     "learn; check the masks folder")
