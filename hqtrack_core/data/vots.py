"""The VOTS workspace layout (as vot-toolkit 0.9.0 reads it) and VOTS result files.

Sequences::

    SEQ_ROOT/<seq>/sequence                 key=value metadata (optional keys: width, height, length, channels.color)
    SEQ_ROOT/<seq>/color/00000001.jpg ...   frames, numbered from 1
    SEQ_ROOT/<seq>/groundtruth_<obj>.txt    one text trajectory per object (``groundtruth.txt``: one object "object")
    SEQ_ROOT/list.txt                       optional list of sequence names

Results (one repetition)::

    RESULTS/<seq>/<seq>_<obj>_001.bin|txt   multi-object sequences
    RESULTS/<seq>/<seq>_001.bin|txt         single-object sequences (the toolkit drops the object id)

Frame 0 of a result trajectory is the initialisation marker ``Special(1)``; when both ``.txt`` and ``.bin`` exist
the toolkit reads the ``.txt``. A ground truth shorter than the sequence is padded with ``Special(0)`` (unknown).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from hqtrack_core.data.vot_format import (
    INITIALIZATION, UNKNOWN, MaskRegion, Region, Special, read_trajectory, write_trajectory,
)

__all__ = [
    "VotsSequence", "read_vots_sequence", "list_vots_sequences", "write_vots_sequence",
    "result_name", "result_path", "read_vots_results", "write_vots_results", "labels_to_regions",
    "write_vots_from_labels",
]

_PROPERTY = re.compile(r"^([a-zA-Z0-9_\-.]+) *= *(.*)$")


@dataclass
class VotsSequence:
    """One VOTS sequence: frame files, size and per-object ground truth (text trajectories)."""

    name: str
    root: Path
    frames: list[Path]
    width: int
    height: int
    objects: dict[str, list[Region]] = field(default_factory=dict)

    IGNORE = "_ignore"  # toolkit object id of ignore masks

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` -- VOT order."""
        return self.width, self.height

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def multiobject(self) -> bool:
        return len(self.objects) > 1

    @property
    def ignore(self) -> list[Region] | None:
        return self.objects.get(self.IGNORE)

    def object_mask(self, obj: str, index: int) -> np.ndarray:
        """Ground truth of object ``obj`` at frame ``index`` as a ``(H, W)`` bool image (empty for special)."""
        region = self.objects[obj][index]
        if isinstance(region, MaskRegion):
            return region.to_image_mask((self.height, self.width))
        return np.zeros((self.height, self.width), dtype=bool)


def _read_properties(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    properties = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PROPERTY.match(line.strip())
        if match:
            properties[match.group(1)] = match.group(2)
    return properties


def _int_or_none(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def read_vots_sequence(path: str | os.PathLike) -> VotsSequence:
    """Read one sequence folder (see the module docstring). Errors name the missing or inconsistent file."""
    root = Path(path)
    if not (root / "sequence").is_file():
        raise FileNotFoundError(f"{root} is not a VOTS sequence: no 'sequence' metadata file")
    meta = _read_properties(root / "sequence")
    length = _int_or_none(meta.get("length"))
    pattern = meta.get("channels.color", "color/%08d.jpg")
    if not os.path.splitext(pattern)[1]:
        pattern = os.path.join(pattern, "%08d.jpg")
    frames: list[Path] = []
    index = 1
    while length is None or index <= length:
        frame = root / (pattern % index)
        if not frame.is_file():
            if length is not None:
                raise FileNotFoundError(f"sequence {root.name}: frame {frame} is missing (length={length})")
            break
        frames.append(frame)
        index += 1
    if not frames:
        raise FileNotFoundError(f"sequence {root.name}: no frames matching {root / pattern} (numbered from 1)")
    width, height = _int_or_none(meta.get("width")), _int_or_none(meta.get("height"))
    if width is None or height is None:
        image = cv2.imread(str(frames[0]), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise ValueError(f"sequence {root.name}: cannot read frame {frames[0]}")
        height, width = image.shape[:2]
    files = sorted(root.glob("groundtruth_*.txt"))
    objects: dict[str, list[Region]] = {}
    if files:
        for file in files:
            objects[file.name[len("groundtruth_") : -len(".txt")]] = read_trajectory(file)
    elif (root / "groundtruth.txt").is_file():
        objects["object"] = read_trajectory(root / "groundtruth.txt")
    else:
        raise FileNotFoundError(f"sequence {root.name}: no groundtruth_<obj>.txt or groundtruth.txt")
    for obj, regions in objects.items():
        if len(regions) > len(frames):
            raise ValueError(f"sequence {root.name}: ground truth of object {obj} has {len(regions)} frames, "
                             f"the sequence {len(frames)}")
        regions.extend([Special(UNKNOWN)] * (len(frames) - len(regions)))  # toolkit: pad with "unknown"
    return VotsSequence(root.name, root, frames, int(width), int(height), objects)


def list_vots_sequences(root: str | os.PathLike) -> list[str]:
    """Sequence names under ``root``: from ``list.txt`` when present, else every sub-folder with a ``sequence``
    file, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"sequences folder not found: {root}")
    listing = root / "list.txt"
    if listing.is_file():
        names = [line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        names = sorted(p.name for p in root.iterdir() if (p / "sequence").is_file())
    if not names:
        raise FileNotFoundError(f"no VOTS sequences (folders with a 'sequence' file) in {root}")
    return names


def labels_to_regions(labels: np.ndarray, objects: Sequence[int]) -> dict[int, MaskRegion]:
    """Split a label map ``(H, W)`` into one tight-box mask region per object id."""
    return {obj: MaskRegion.from_image_mask(labels == obj) for obj in objects}


def write_vots_sequence(root: str | os.PathLike, name: str, frames: Sequence[np.ndarray],
                        objects: Mapping[str, Sequence[Region | np.ndarray]]) -> Path:
    """Write a sequence folder: ``color/%08d.jpg`` (RGB frames), ``sequence`` metadata, ``groundtruth_<obj>.txt``.
    Ground truth entries may be regions or ``(H, W)`` binary masks."""
    if not frames:
        raise ValueError("write_vots_sequence: no frames")
    folder = Path(root) / name
    (folder / "color").mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    for index, frame in enumerate(frames, 1):
        if frame.shape[:2] != (height, width):
            raise ValueError(f"write_vots_sequence: frame {index - 1} is {frame.shape[:2]}, frame 0 {(height, width)}")
        path = folder / "color" / f"{index:08d}.jpg"
        tmp = path.with_name(f".{path.stem}.tmp.jpg")
        if not cv2.imwrite(str(tmp), cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR)):
            raise OSError(f"cannot write {path}")
        os.replace(tmp, path)
    meta = f"channels.color=color/%08d.jpg\nformat=default\nfps=30\nheight={height}\nlength={len(frames)}\nname={name}\nwidth={width}\n"
    tmp = folder / ".sequence.tmp"
    tmp.write_text(meta, encoding="utf-8")
    os.replace(tmp, folder / "sequence")
    for obj, regions in objects.items():
        regions = [r if isinstance(r, (Special, MaskRegion)) else MaskRegion.from_image_mask(np.asarray(r)) for r in regions]
        write_trajectory(folder / f"groundtruth_{obj}.txt", regions)
    return folder


def result_name(sequence: str, obj: str, multiobject: bool, repetition: int = 1) -> str:
    """Result file stem: ``<seq>_<obj>_001`` or ``<seq>_001`` for single-object sequences (toolkit ``gather``)."""
    prefix = f"{sequence}_{obj}" if multiobject else sequence
    return f"{prefix}_{repetition:03d}"


def result_path(results: str | os.PathLike, sequence: str, obj: str, multiobject: bool) -> Path | None:
    """The result file the toolkit would read (``.txt`` first, then ``.bin``), or None."""
    stem = Path(results) / sequence / result_name(sequence, obj, multiobject)
    for suffix in (".txt", ".bin"):  # (not with_suffix: sequence names may contain dots)
        path = stem.with_name(stem.name + suffix)
        if path.is_file():
            return path
    return None


def read_vots_results(results: str | os.PathLike, sequence: VotsSequence) -> dict[str, list[Region]]:
    """Read the result trajectory of every object of ``sequence``; errors name the missing file or a length
    mismatch."""
    out: dict[str, list[Region]] = {}
    for obj in sequence.objects:
        path = result_path(results, sequence.name, obj, sequence.multiobject)
        if path is None:
            stem = Path(results) / sequence.name / result_name(sequence.name, obj, sequence.multiobject)
            raise FileNotFoundError(f"no result for object {obj!r} of sequence {sequence.name!r}: expected {stem}.bin or .txt")
        regions = read_trajectory(path)
        if len(regions) != len(sequence):
            raise ValueError(f"{path}: {len(regions)} frames, sequence {sequence.name!r} has {len(sequence)}")
        out[obj] = regions
    return out


def write_vots_results(results: str | os.PathLike, sequence: str, objects: Mapping[str, Sequence[Region | np.ndarray]],
                       binary: bool = True, init_marker: bool = True) -> list[Path]:
    """Write one result trajectory per object. Entries may be regions or ``(H, W)`` binary masks; with
    ``init_marker`` frame 0 is replaced by ``Special(1)``, as the toolkit stores it."""
    multiobject = len(objects) > 1
    paths = []
    for obj, regions in objects.items():
        regions = [r if isinstance(r, (Special, MaskRegion)) else MaskRegion.from_image_mask(np.asarray(r)) for r in regions]
        if init_marker and regions:
            regions[0] = Special(INITIALIZATION)
        suffix = ".bin" if binary else ".txt"
        path = Path(results) / sequence / (result_name(sequence, obj, multiobject) + suffix)
        paths.append(write_trajectory(path, regions))
    return paths


def write_vots_from_labels(seq_root: str | os.PathLike, name: str, frames: Sequence[np.ndarray],
                           gt: Sequence[np.ndarray], results: str | os.PathLike | None = None,
                           pred: Sequence[np.ndarray] | None = None, binary: bool = True) -> Path:
    """Turn label maps (e.g. a DAVIS sequence and a method's masks) into a VOTS sequence and, when ``pred`` is
    given, the matching VOTS results (frame 0 = initialisation marker). Objects are the ground-truth ids, named
    ``"1"``, ``"2"``, ... Returns the sequence folder."""
    if len(frames) != len(gt) or (pred is not None and len(pred) != len(gt)):
        raise ValueError(f"sequence {name!r}: {len(frames)} frames, {len(gt)} ground-truth and "
                         f"{'no' if pred is None else len(pred)} predicted label maps")
    ids = sorted(int(v) for v in np.unique(np.concatenate([np.unique(g) for g in gt])) if v != 0)
    if not ids:
        raise ValueError(f"sequence {name!r}: the ground truth has no object")
    folder = write_vots_sequence(seq_root, name, frames, {str(i): [g == i for g in gt] for i in ids})
    if pred is not None:
        if results is None:
            raise ValueError("write_vots_from_labels: pred given without a results folder")
        write_vots_results(results, name, {str(i): [p == i for p in pred] for i in ids}, binary=binary)
    return folder
