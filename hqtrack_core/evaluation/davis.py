"""DAVIS J&F, equal to davis2017-evaluation (semi-supervised task) and vos-benchmark.

- **J** (region similarity): IoU of the object's predicted and true masks; an empty union scores 1.
- **F** (contour accuracy): boundary F-measure. Boundaries are the one-pixel maps of ``_seg2bmap`` (a pixel is on
  the boundary when it differs from its east, south or south-east neighbour); each boundary is dilated
  (OpenCV) by a disk of radius ``ceil(0.008 * image diagonal)`` (``bound_th = 0.008``; 8 px at 854x480) and a
  boundary pixel matches when it falls inside the other's dilation. Precision/recall conventions: no predicted
  boundary -> P = 1 (R = 0 if the truth has one); no true boundary -> R = 1 (P = 0 if the prediction has one);
  neither -> F = 1.
- **Protocol** (semi-supervised): the first and the last annotated frames are left out; the objects are ``1..N``
  with ``N`` the largest id of the first ground-truth frame; ground-truth pixels 255 (void) count as background
  (davis2017-evaluation's semi-supervised path passes no void mask). A prediction with an id above ``N`` is an
  error (davis2017-evaluation stops there too); missing ids are empty masks.
- **Statistics** per object over its evaluated frames: mean, recall (fraction of frames > 0.5) and decay (mean
  of the first quarter of the frames minus mean of the last quarter, quarters from
  ``round(linspace(1, n, 5)) - 1`` with overlapping edges, as davis2017-evaluation). davis2017-evaluation casts
  those indices to ``uint8``, which wraps for sequences longer than 256 frames; we do not replicate that bug.
- **Aggregation**: a sequence's J (F) is the mean over its objects; the global J (F) is the mean over *all
  objects* of all sequences (davis2017-evaluation's "J-Mean"), J&F = (J + F) / 2.
- **Inputs that do not match** (as davis2017-evaluation, which raises on them): a sequence without predictions,
  a missing predicted frame, a prediction at another size than its ground truth, or a predicted id the first
  ground-truth frame does not have, are errors naming them. A ground-truth object the prediction never shows
  scores 0 (an empty mask), as there. Only ``partial=True`` scores the complete sequences of an unfinished
  run: the result then lists the others (``DavisScore.missing``, JSON ``"partial"``) and must be reported so.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from hqtrack_core.data.masks import read_mask

__all__ = [
    "BOUND_TH", "disk", "seg2bmap", "jaccard", "boundary_f", "db_statistics",
    "ObjectJF", "SequenceJF", "DavisScore", "score_sequence", "read_sequence_masks", "evaluate_davis",
    "partial_record",
]

BOUND_TH = 0.008  # boundary tolerance as a fraction of the image diagonal
VOID_ID = 255


def disk(radius: float) -> np.ndarray:
    """Disk structuring element ``(2r+1, 2r+1) uint8`` (x^2 + y^2 <= r^2), as ``skimage.morphology.disk``."""
    grid = np.arange(-radius, radius + 1)
    x, y = np.meshgrid(grid, grid)
    return (x**2 + y**2 <= radius**2).astype(np.uint8)


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """One-pixel boundary map ``(H, W) bool`` of a binary mask: pixels differing from their east, south or
    south-east neighbour (outside the image counts as background except on the last row/column, as the original
    Berkeley ``seg2bmap``)."""
    seg = np.asarray(seg).astype(bool)
    east, south, south_east = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    bmap = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    bmap[-1, :] = seg[-1, :] ^ east[-1, :]
    bmap[:, -1] = seg[:, -1] ^ south[:, -1]
    bmap[-1, -1] = False
    return bmap


def jaccard(gt: np.ndarray, pred: np.ndarray) -> float:
    """IoU of two binary masks ``(H, W)``; 1 when both are empty."""
    gt, pred = np.asarray(gt, bool), np.asarray(pred, bool)
    if gt.shape != pred.shape:
        raise ValueError(f"jaccard: shapes differ, ground truth {gt.shape} vs prediction {pred.shape}")
    union = np.count_nonzero(gt | pred)
    return 1.0 if union == 0 else np.count_nonzero(gt & pred) / union


def boundary_f(gt: np.ndarray, pred: np.ndarray, bound_th: float = BOUND_TH) -> float:
    """Boundary F-measure of two binary masks ``(H, W)`` (see the module docstring)."""
    gt, pred = np.asarray(gt, bool), np.asarray(pred, bool)
    if gt.shape != pred.shape:
        raise ValueError(f"boundary_f: shapes differ, ground truth {gt.shape} vs prediction {pred.shape}")
    bound_pix = bound_th if bound_th >= 1 else math.ceil(bound_th * math.hypot(*gt.shape))
    kernel = disk(bound_pix)
    fg_boundary, gt_boundary = seg2bmap(pred), seg2bmap(gt)
    fg_dil = cv2.dilate(fg_boundary.astype(np.uint8), kernel).astype(bool)
    gt_dil = cv2.dilate(gt_boundary.astype(np.uint8), kernel).astype(bool)
    n_fg, n_gt = int(np.count_nonzero(fg_boundary)), int(np.count_nonzero(gt_boundary))
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = np.count_nonzero(fg_boundary & gt_dil) / float(n_fg)
        recall = np.count_nonzero(gt_boundary & fg_dil) / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def db_statistics(values: np.ndarray) -> tuple[float, float, float]:
    """(mean, recall, decay) of per-frame values (NaNs ignored), as davis2017-evaluation's ``db_statistics``."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return math.nan, math.nan, math.nan
    finite = values[~np.isnan(values)]
    mean = float(finite.mean()) if finite.size else math.nan
    recall = float(np.mean(values > 0.5)) if values.size else math.nan  # NaN > 0.5 is False, as in nanmean(v > .5)
    ids = (np.round(np.linspace(1, len(values), 5) + 1e-10) - 1).astype(np.int64)
    bins = [values[ids[i] : ids[i + 1] + 1] for i in range(4)]
    first, last = bins[0][~np.isnan(bins[0])], bins[3][~np.isnan(bins[3])]
    decay = (float(first.mean()) if first.size else math.nan) - (float(last.mean()) if last.size else math.nan)
    return mean, recall, decay


@dataclass
class ObjectJF:
    """Per-frame J and F of one object over the evaluated frames, and their statistics."""

    object_id: int
    J_frames: np.ndarray
    F_frames: np.ndarray

    def __post_init__(self) -> None:
        self.J, self.J_recall, self.J_decay = db_statistics(self.J_frames)
        self.F, self.F_recall, self.F_decay = db_statistics(self.F_frames)

    @property
    def JF(self) -> float:
        return (self.J + self.F) / 2

    def measures(self) -> dict[str, float]:
        return {"J": self.J, "F": self.F, "JF": self.JF, "J_recall": self.J_recall, "J_decay": self.J_decay,
                "F_recall": self.F_recall, "F_decay": self.F_decay}


_KEYS = ("J", "F", "J_recall", "J_decay", "F_recall", "F_decay")


@dataclass
class SequenceJF:
    """One sequence: its objects and the names of the evaluated frames."""

    name: str
    frames: list[str]
    objects: dict[int, ObjectJF]

    def measures(self) -> dict[str, float]:
        """Means over the objects; JF = (J + F) / 2."""
        out = {k: float(np.mean([getattr(o, k) for o in self.objects.values()])) if self.objects else math.nan for k in _KEYS}
        out["JF"] = (out["J"] + out["F"]) / 2
        return out

    @property
    def J(self) -> float:
        return self.measures()["J"]

    @property
    def F(self) -> float:
        return self.measures()["F"]

    @property
    def JF(self) -> float:
        return self.measures()["JF"]


@dataclass
class DavisScore:
    """All sequences; global values are means over all objects of all sequences (davis2017-evaluation)."""

    sequences: dict[str, SequenceJF] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # partial scoring: sequence -> why it was left out

    def measures(self) -> dict[str, float]:
        objects = [o for s in self.sequences.values() for o in s.objects.values()]
        out = {k: float(np.mean([getattr(o, k) for o in objects])) if objects else math.nan for k in _KEYS}
        out["JF"] = (out["J"] + out["F"]) / 2
        return out

    def to_json(self) -> dict:
        """The ``hqtrack eval davis --json`` schema: ``{"J", "F", "JF", ..., "sequences": {seq: {"J", "F", "JF",
        ..., "objects": {id: {...}}}}}``, values in [0, 1] (decay in [-1, 1])."""
        clean = lambda v: None if v is None or math.isnan(v) else float(v)  # noqa: E731
        g = self.measures()
        out: dict = {"J": clean(g["J"]), "F": clean(g["F"]), "JF": clean(g["JF"])}
        out.update({k: clean(g[k]) for k in _KEYS if k not in out})
        out["sequences"] = {}
        for name, s in self.sequences.items():
            m = s.measures()
            entry = {"J": clean(m["J"]), "F": clean(m["F"]), "JF": clean(m["JF"])}
            entry.update({k: clean(m[k]) for k in _KEYS if k not in entry})
            entry["frames"] = len(s.frames)
            entry["objects"] = {str(i): {k: clean(v) for k, v in o.measures().items()} for i, o in s.objects.items()}
            out["sequences"][name] = entry
        if self.missing:
            out["partial"] = partial_record(len(self.sequences), self.missing)
        return out


def partial_record(scored: int, missing: dict[str, str]) -> dict:
    """The JSON ``"partial"`` field of a score computed on part of the data (DAVIS and VOTS alike)."""
    return {"scored_sequences": scored, "total_sequences": scored + len(missing), "missing": dict(missing),
            "warning": "computed on part of the data: not comparable with a full evaluation"}


def score_sequence(name: str, gt: Sequence[np.ndarray] | np.ndarray, pred: Sequence[np.ndarray] | np.ndarray,
                   frames: Sequence[str] | None = None, skip_first_last: bool = True,
                   bound_th: float = BOUND_TH) -> SequenceJF:
    """Score one sequence from label maps ``gt[t], pred[t]: (H, W)`` (all annotated frames, first and last
    included; the protocol drops them when ``skip_first_last``)."""
    gt, pred = list(gt), list(pred)
    if len(gt) != len(pred):
        raise ValueError(f"sequence {name!r}: {len(gt)} ground-truth frames but {len(pred)} predicted frames")
    if not gt:
        raise ValueError(f"sequence {name!r}: no frames")
    frames = list(frames) if frames is not None else [f"{i:05d}" for i in range(len(gt))]
    for t, (g, p) in enumerate(zip(gt, pred)):
        if g.shape != p.shape:
            raise ValueError(f"sequence {name!r} frame {frames[t]}: ground truth is {g.shape[1]}x{g.shape[0]} (WxH), "
                             f"prediction {p.shape[1]}x{p.shape[0]}")
    gt = [np.where(g == VOID_ID, 0, g) for g in gt]  # void counts as background (semi-supervised protocol)
    n_objects = int(gt[0].max())  # objects 1..N from the first ground-truth frame
    if skip_first_last:
        gt, pred, frames = gt[1:-1], pred[1:-1], frames[1:-1]
    if not gt:
        raise ValueError(f"sequence {name!r}: fewer than 3 frames, nothing left after dropping the first and last")
    top = max(int(p.max()) for p in pred)
    if top > n_objects:
        raise ValueError(f"sequence {name!r}: prediction has object id {top} but the first ground-truth frame only "
                         f"has objects 1..{n_objects}")
    objects = {}
    for obj in range(1, n_objects + 1):
        j = np.array([jaccard(g == obj, p == obj) for g, p in zip(gt, pred)])
        f = np.array([boundary_f(g == obj, p == obj, bound_th) for g, p in zip(gt, pred)])
        objects[obj] = ObjectJF(obj, j, f)
    return SequenceJF(name, frames, objects)


def read_sequence_masks(folder: str | os.PathLike, names: Sequence[str] | None = None) -> tuple[list[str], list[np.ndarray]]:
    """Label maps of a folder of PNG masks: all of them (sorted), or exactly ``names`` (file stems, each required)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"mask folder not found: {folder}")
    if names is None:
        names = sorted(p.stem for p in folder.iterdir() if p.suffix.lower() == ".png")
        if not names:
            raise FileNotFoundError(f"no PNG masks in {folder}")
    missing = [n for n in names if not (folder / f"{n}.png").is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing {len(missing)} mask(s), e.g. {missing[0]}.png")
    return list(names), [read_mask(folder / f"{n}.png") for n in names]


def evaluate_davis(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike, sequences: Sequence[str] | None = None,
                   binarize: bool = False, skip_first_last: bool = True, partial: bool = False) -> DavisScore:
    """Score ``pred_dir/<seq>/*.png`` against ``gt_dir/<seq>/*.png`` for every sequence folder of ``gt_dir`` (or
    the given ``sequences``). ``binarize`` merges all predicted and true objects into one (id > 0).
    A sequence without predictions or with missing frames is an error, unless ``partial``: then it is left out
    and listed in ``score.missing`` (at least one sequence must be complete)."""
    gt_dir, pred_dir = Path(gt_dir), Path(pred_dir)
    if not gt_dir.is_dir():
        raise FileNotFoundError(f"ground-truth folder not found: {gt_dir}")
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"prediction folder not found: {pred_dir}")
    names = list(sequences) if sequences is not None else sorted(p.name for p in gt_dir.iterdir() if p.is_dir())
    if not names:
        raise FileNotFoundError(f"no sequence folders in {gt_dir}")
    missing = [n for n in names if not (pred_dir / n).is_dir()]
    if missing and not partial:
        raise FileNotFoundError(f"no predictions for {len(missing)} of the {len(names)} sequences in {pred_dir} "
                                f"(e.g. {missing[:3]}): track them, or add --partial to score the others "
                                "(marked partial)")
    score = DavisScore()
    for name in names:
        frames, gt = read_sequence_masks(gt_dir / name)
        if not (pred_dir / name).is_dir():
            score.missing[name] = "no prediction folder"
            continue
        absent = [n for n in frames if not (pred_dir / name / f"{n}.png").is_file()]
        if absent:
            if not partial:
                raise FileNotFoundError(f"{pred_dir / name}: missing {len(absent)} of {len(frames)} mask(s), e.g. "
                                        f"{absent[0]}.png: track the whole sequence, or add --partial to score "
                                        "the complete sequences only (marked partial)")
            score.missing[name] = f"{len(absent)} of {len(frames)} frames missing (e.g. {absent[0]}.png)"
            continue
        _, pred = read_sequence_masks(pred_dir / name, frames)
        if binarize:
            gt = [(np.where(g == VOID_ID, 0, g) > 0).astype(np.uint8) for g in gt]
            pred = [(p > 0).astype(np.uint8) for p in pred]
        score.sequences[name] = score_sequence(name, gt, pred, frames, skip_first_last)
    if not score.sequences:
        raise FileNotFoundError(f"no sequence of {gt_dir} has complete predictions in {pred_dir}: nothing to score")
    return score
