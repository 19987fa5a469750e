"""VOTS2023 measures, equal to vot-toolkit 0.9.0 with the VOTS2023 stack (``vot/stack/tests/multiobject.yaml``).

Per object (one trajectory, one repetition) the stack computes, from the per-frame overlap:

- **Quality Q** (``average_accuracy``: burn-in 0, unknown predictions kept, invisible targets kept, unweighted):
  mean overlap over all frames. An absent target scores 1 for an empty prediction and 0 otherwise.
- **Quality plot** (``average_success_plot``): fraction of those frames with overlap > t, for 100 thresholds
  ``t = linspace(0, 1, 100)`` (``>=`` at t = 1).
- **Frame classes** (``longterm_ar`` / ``average_quality_auxiliary``, threshold 0): target visible -> T if overlap
  > 0, else M (prediction empty) or F (prediction elsewhere: drift); target absent -> N (prediction empty) or H
  (hallucination). **A** = mean overlap over frames with a visible target and overlap > 0; **R** = T/(T+F+M);
  **NRE** = M/(T+F+M); **DRE** = F/(T+F+M); **ADQ** = N/(N+H), only when N+H > 10.

Conventions of the toolkit reproduced here (each matters for some input; the parity tests cover them):

1. Overlap is computed inside the union of the two regions' boxes **clipped to the image** (``bounded``): pixels
   outside the image never count.
2. **Both empty = 1**: when the union box is degenerate (zero width or height, ``left >= right`` or ``top >=
   bottom``) the overlap is 1 *whatever the pixels* -- so two masks in the same single column or row also score 1.
   A special region's box is (0, 0, 0, 0); an empty mask's box is its offset, so an empty ``.bin`` mask stored at
   an offset can make the union non-degenerate and score 0 against an empty target.
3. After clipping, a degenerate box (e.g. a mask spilling outside the image by all but one column) scores 0.
4. **Masks one pixel wide or tall count as empty** for the frame classes (toolkit ``Mask.is_empty`` tests the
   local box); and text masks one pixel wide read as empty (see ``hqtrack_core.data.vot_format``).
5. **Frame 0 of a result file is the initialisation marker** ``Special(1)``: with burn-in 0 the toolkit neither
   drops it nor thresholds it -- it scores as a special region (empty) against the first-frame ground truth: Q
   gets overlap 0 (1 if the target is absent there), A *keeps* that frame even though its overlap is 0, and the
   frame counts as M (or N). A ``Special(2)`` (failure) frame is dropped from Q and A; ``Special(0)`` (unknown)
   predictions are kept (``ignore_unknown: False``) and score as empty. Ground-truth frames marked unknown
   (``Special(0)``, also used to pad a short ground truth) are skipped everywhere.
6. **ADQ only when N+H > 10**; per-sequence values average over the objects where they are defined
   (``SafeAverage``), overall values average over the sequences where they are defined: an **unweighted mean
   over sequences**, never over frames. Q and A of a sequence average over all its objects (an object without
   scored frames adds 0); the quality plot of a sequence averages over objects with at least one scored frame.
7. Optional ignore masks (object ``_ignore``): pixels under it are left out of intersection and union. As in the
   toolkit, a ``groundtruth__ignore.txt`` also counts as an object.

Results that do not match (the toolkit reports such a tracker as not computed, and scores nothing): a sequence
folder, or an object's result file, that is missing, or a trajectory of another length, is an error naming it.
A result file for an object the ground truth does not have is ignored, with a warning (a naming mismatch, e.g.
``<seq>_001.bin`` for a multi-object sequence, shows up there). Masks reaching outside the image are clipped
(convention 1), as in the toolkit. Only ``partial=True`` scores the complete sequences of an unfinished run;
``VotsScore.missing`` (JSON ``"partial"``) lists the others and the output must say so.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hqtrack_core.data.vot_format import FAILURE, INITIALIZATION, UNKNOWN, MaskRegion, Region, Special
from hqtrack_core.data.vots import list_vots_sequences, read_vots_results, read_vots_sequence, result_name
from hqtrack_core.evaluation.davis import partial_record

__all__ = [
    "PLOT_THRESHOLDS", "VOTS_MEASURES", "region_overlap", "frame_overlaps", "ObjectScore", "SequenceScore", "VotsScore",
    "score_object", "score_sequence", "score_sequences", "score_label_maps",
]

PLOT_THRESHOLDS = np.linspace(0.0, 1.0, 100)  # quality-plot thresholds (the stack's resolution 100)
ABSENCE_THRESHOLD = 10  # ADQ is defined only when N + H > 10
# What every score here reports, in this order: quality Q, accuracy A, robustness R, and the failure rates over
# frames: NRE (target present, reported absent), DRE (present, reported elsewhere: overlap 0), ADQ (absence detection
# quality: target absent, reported absent). NRE/DRE/ADQ are what speak on long clips with absences.
VOTS_MEASURES = ("Q", "A", "R", "NRE", "DRE", "ADQ")


def _box(region: Region) -> tuple[int, int, int, int]:
    """Region box (left, top, right, bottom), inclusive, as the toolkit: special -> (0, 0, 0, 0); a mask -> box of
    its set pixels plus offset, or (x0, y0, x0, y0) when no pixel is set."""
    if isinstance(region, MaskRegion):
        x0, y0 = region.offset
        mask = region.mask
        rows = np.flatnonzero(mask.any(axis=1)) if mask.size else ()
        if len(rows) == 0:
            return x0, y0, x0, y0
        cols = np.flatnonzero(mask.any(axis=0))
        return int(cols[0]) + x0, int(rows[0]) + y0, int(cols[-1]) + x0, int(rows[-1]) + y0
    return 0, 0, 0, 0


def _raster(region: Region | None, box: tuple[int, int, int, int]) -> np.ndarray:
    """The region's pixels inside ``box`` (inclusive) as a bool array (toolkit ``copy_mask``)."""
    left, top, right, bottom = box
    out = np.zeros((bottom - top + 1, right - left + 1), dtype=bool)
    if isinstance(region, MaskRegion):
        x0, y0 = region.offset
        h, w = region.mask.shape
        tx, ty = max(x0, left), max(y0, top)
        tw, th = min(right + 1, x0 + w) - tx, min(bottom + 1, y0 + h) - ty
        if tw > 0 and th > 0:
            out[ty - top : ty - top + th, tx - left : tx - left + tw] = region.mask[ty - y0 : ty - y0 + th, tx - x0 : tx - x0 + tw] > 0
    return out


def region_overlap(a: Region, b: Region, size: tuple[int, int] | None, ignore: Region | None = None) -> float:
    """Overlap (IoU) of two regions as the toolkit's ``calculate_overlap`` (conventions 1-3, 7 of the module doc).

    size: image ``(width, height)`` to clip to (VOT order), or None for unbounded.
    """
    ba, bb = _box(a), _box(b)
    union = (min(ba[0], bb[0]), min(ba[1], bb[1]), max(ba[2], bb[2]), max(ba[3], bb[3]))
    if union[0] >= union[2] or union[1] >= union[3]:
        return 1.0  # convention 2: degenerate union box -> "both empty"
    if size is not None:
        box = (max(0, union[0]), max(0, union[1]), min(size[0] - 1, union[2]), min(size[1] - 1, union[3]))
    else:
        box = union
    if box[0] >= box[2] or box[1] >= box[3]:
        return 0.0  # convention 3: not both empty, but nothing (or one line) left inside the image
    ma, mb = _raster(a, box), _raster(b, box)
    if isinstance(ignore, MaskRegion):
        keep = ~_raster(ignore, box)
        ma, mb = ma & keep, mb & keep
    union_count = int(np.count_nonzero(ma | mb))
    return float(int(np.count_nonzero(ma & mb))) / float(union_count) if union_count > 0 else 0.0


def frame_overlaps(trajectory: Sequence[Region], groundtruth: Sequence[Region], size: tuple[int, int] | None,
                   ignore: Sequence[Region] | None = None) -> np.ndarray:
    """Per-frame overlaps ``(T,) float64`` (toolkit ``calculate_overlaps``)."""
    if len(trajectory) != len(groundtruth):
        raise ValueError(f"trajectory has {len(trajectory)} frames, ground truth {len(groundtruth)}")
    if ignore is not None and len(ignore) != len(trajectory):
        raise ValueError(f"ignore masks have {len(ignore)} frames, trajectory {len(trajectory)}")
    return np.array([region_overlap(p, g, size, None if ignore is None else ignore[i])
                     for i, (p, g) in enumerate(zip(trajectory, groundtruth))], dtype=np.float64)


def _is_code(region: Region, code: int) -> bool:
    return isinstance(region, Special) and region.code == code


@dataclass
class ObjectScore:
    """Scores of one object (one trajectory). ``overlaps`` holds every frame's overlap (NaN where the ground truth
    is unknown); ``quality_frames`` marks the frames Q uses. Counts T, F, M, H, N as in the module doc."""

    name: str
    overlaps: np.ndarray
    quality_frames: np.ndarray
    Q: float
    A: float
    T: int
    F: int
    M: int
    H: int
    N: int
    plot: np.ndarray  # (100,) quality plot, NaN when the object has no scored frame

    @property
    def R(self) -> float | None:
        n = self.T + self.F + self.M
        return self.T / n if n > 0 else None

    @property
    def NRE(self) -> float | None:
        n = self.T + self.F + self.M
        return self.M / n if n > 0 else None

    @property
    def DRE(self) -> float | None:
        n = self.T + self.F + self.M
        return self.F / n if n > 0 else None

    @property
    def ADQ(self) -> float | None:
        n = self.N + self.H
        return self.N / n if n > ABSENCE_THRESHOLD else None  # convention 6


def score_object(trajectory: Sequence[Region], groundtruth: Sequence[Region], size: tuple[int, int] | None,
                 ignore: Sequence[Region] | None = None, name: str = "object") -> ObjectScore:
    """Score one object's trajectory against its ground truth (``size = (width, height)`` of the frames)."""
    overlaps = frame_overlaps(trajectory, groundtruth, size, ignore)
    n = len(overlaps)
    quality = np.zeros(n, dtype=bool)  # toolkit gather_overlaps(burnin=0, ignore_unknown=False, ignore_invisible=False)
    accuracy = np.zeros(n, dtype=bool)  # gather_overlaps(burnin=0, ignore_unknown=False, ignore_invisible=True, threshold=0)
    counts = {"T": 0, "F": 0, "M": 0, "H": 0, "N": 0}
    for i, (pred, gt) in enumerate(zip(trajectory, groundtruth)):
        if _is_code(gt, UNKNOWN):
            continue  # unannotated frame: skipped by every measure
        failure = _is_code(pred, FAILURE)
        init = _is_code(pred, INITIALIZATION)
        quality[i] = not failure  # convention 5: the init marker is kept (burn-in 0), failures are dropped
        accuracy[i] = not gt.is_empty() and not failure and (init or overlaps[i] > 0)
        if gt.is_empty():
            counts["N" if pred.is_empty() else "H"] += 1
        elif overlaps[i] > 0:
            counts["T"] += 1
        else:
            counts["M" if pred.is_empty() else "F"] += 1
    q_values = overlaps[quality]
    a_values = overlaps[accuracy]
    if q_values.size:
        plot = np.array([np.sum(q_values >= t) if t == 1 else np.sum(q_values > t) for t in PLOT_THRESHOLDS],
                        dtype=np.float64) / len(q_values)
    else:
        plot = np.full(PLOT_THRESHOLDS.shape, np.nan)
    shown = overlaps.copy()
    shown[[_is_code(g, UNKNOWN) for g in groundtruth]] = np.nan
    return ObjectScore(
        name=name, overlaps=shown, quality_frames=quality,
        Q=float(np.mean(q_values)) if q_values.size else 0.0,  # an object without scored frames adds 0
        A=float(np.mean(a_values)) if a_values.size else 0.0,
        plot=plot, **counts,
    )


def _safe_mean(values: Sequence[float | None]) -> float | None:
    """Toolkit ``SafeAverage``: mean of the defined values, None when there are none."""
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


@dataclass
class SequenceScore:
    """Scores of one sequence: Q and A average all objects; R/NRE/DRE/ADQ the objects where defined."""

    name: str
    objects: dict[str, ObjectScore]
    Q: float
    A: float
    R: float | None
    NRE: float | None
    DRE: float | None
    ADQ: float | None
    plot: np.ndarray

    def measures(self) -> dict[str, float | None]:
        return {k: getattr(self, k) for k in VOTS_MEASURES}


def score_sequence(name: str, trajectories: Mapping[str, Sequence[Region]], groundtruth: Mapping[str, Sequence[Region]],
                   size: tuple[int, int] | None, ignore: Sequence[Region] | None = None) -> SequenceScore:
    """Score every object of a sequence. ``trajectories`` and ``groundtruth`` map object id -> regions."""
    missing = sorted(set(groundtruth) - set(trajectories))
    if missing:
        raise KeyError(f"sequence {name!r}: no result for object(s) {missing}")
    objects = {obj: score_object(trajectories[obj], gt, size, ignore, name=obj) for obj, gt in groundtruth.items()}
    if not objects:
        raise ValueError(f"sequence {name!r} has no objects")
    scores = list(objects.values())
    valid_plots = [s.plot for s in scores if not np.isnan(s.plot[0])]
    plot = np.mean(valid_plots, axis=0) if valid_plots else np.full(PLOT_THRESHOLDS.shape, np.nan)
    return SequenceScore(
        name=name, objects=objects,
        Q=sum(s.Q for s in scores) / len(scores),
        A=sum(s.A for s in scores) / len(scores),
        R=_safe_mean([s.R for s in scores]), NRE=_safe_mean([s.NRE for s in scores]),
        DRE=_safe_mean([s.DRE for s in scores]), ADQ=_safe_mean([s.ADQ for s in scores]),
        plot=plot,
    )


@dataclass
class VotsScore:
    """Overall scores: unweighted means over sequences (convention 6)."""

    sequences: dict[str, SequenceScore]
    Q: float
    A: float | None
    R: float | None
    NRE: float | None
    DRE: float | None
    ADQ: float | None
    plot: np.ndarray = field(repr=False)
    missing: dict[str, str] = field(default_factory=dict)  # partial scoring: sequence -> why it was left out

    def measures(self) -> dict[str, float | None]:
        return {k: getattr(self, k) for k in VOTS_MEASURES}

    def to_json(self) -> dict:
        """The ``hqtrack eval vots --json`` schema: overall measures and ``sequences: {seq: {Q, A, R, NRE, DRE,
        ADQ}}``; undefined values are null. (The quality plot is ``self.plot`` over ``PLOT_THRESHOLDS``.)"""
        clean = lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)  # noqa: E731
        out: dict = {k: clean(v) for k, v in self.measures().items()}
        out["sequences"] = {name: {k: clean(v) for k, v in s.measures().items()} for name, s in self.sequences.items()}
        if self.missing:
            out["partial"] = partial_record(len(self.sequences), self.missing)
        return out


def score_sequences(sequences: Sequence[SequenceScore]) -> VotsScore:
    """Aggregate per-sequence scores (toolkit ``AverageAccuracy(weighted=False)``, ``AccuracyRobustness``,
    ``AverageQualityAuxiliary``, ``AverageSuccessPlot``)."""
    if not sequences:
        raise ValueError("no sequences to score")
    plot = np.sum([s.plot for s in sequences], axis=0) / len(sequences)
    return VotsScore(
        sequences={s.name: s for s in sequences},
        Q=sum(s.Q for s in sequences) / len(sequences),
        A=_safe_mean([s.A for s in sequences]),
        R=_safe_mean([s.R for s in sequences]), NRE=_safe_mean([s.NRE for s in sequences]),
        DRE=_safe_mean([s.DRE for s in sequences]), ADQ=_safe_mean([s.ADQ for s in sequences]),
        plot=plot,
    )


def evaluate_vots(sequences_root: str | os.PathLike, results: str | os.PathLike,
                  names: Sequence[str] | None = None, partial: bool = False) -> VotsScore:
    """Score a VOTS workspace: every sequence of ``sequences_root`` (or ``names``) against the result trajectories
    in ``results/<seq>/`` (what ``hqtrack eval vots`` reports). A missing sequence folder, object result or frame
    is an error naming it, unless ``partial``: that sequence is then left out and listed in ``score.missing``."""

    results = Path(results)
    if not results.is_dir():
        raise FileNotFoundError(f"results folder not found: {results}")
    names = list(names) if names is not None else list_vots_sequences(sequences_root)
    scored, missing, extra = [], {}, []
    for name in names:
        sequence = read_vots_sequence(Path(sequences_root) / name)
        try:
            if not (results / name).is_dir():
                raise FileNotFoundError(f"no results folder {results / name} for sequence {name!r}")
            trajectories = read_vots_results(results, sequence)
        except (FileNotFoundError, ValueError) as err:
            if not partial:
                raise type(err)(f"{err}: complete the results, or add --partial to score the complete sequences "
                                "only (marked partial)") from None
            missing[name] = str(err)
            continue
        expected = {result_name(name, obj, sequence.multiobject) for obj in sequence.objects}
        extra += [p.name for p in sorted((results / name).iterdir())
                  if p.suffix in (".bin", ".txt") and p.stem.endswith("_001") and p.stem not in expected]
        scored.append(score_sequence(name, trajectories, sequence.objects, sequence.size, sequence.ignore))
    if extra:
        warnings.warn(f"{len(extra)} result file(s) for objects the ground truth does not have were ignored "
                      f"(e.g. {extra[0]}): check the object names", stacklevel=2)
    if not scored:
        raise FileNotFoundError(f"no sequence of {sequences_root} has complete results in {results}: nothing to score")
    score = score_sequences(scored)
    score.missing = missing
    return score


def score_label_maps(name: str, gt: Sequence[np.ndarray], pred: Sequence[np.ndarray], objects: Sequence[int] | None = None,
                     init_marker: bool = True) -> SequenceScore:
    """Score in-memory label maps ``(H, W)`` with the VOTS measures, as if they had been written to a VOTS workspace:
    one tight-box mask per object and frame; with ``init_marker`` frame 0 of the prediction becomes ``Special(1)``
    (convention 5). ``objects`` defaults to every id in the ground truth."""
    if len(gt) != len(pred):
        raise ValueError(f"sequence {name!r}: {len(gt)} ground-truth frames but {len(pred)} predicted frames")
    if not len(gt):
        raise ValueError(f"sequence {name!r}: no frames")
    height, width = gt[0].shape
    if objects is None:
        objects = sorted(int(v) for v in np.unique(np.concatenate([np.unique(g) for g in gt])) if v != 0)
    truth = {str(o): [MaskRegion.from_image_mask(g == o) for g in gt] for o in objects}
    trajectories = {str(o): [MaskRegion.from_image_mask(p == o) for p in pred] for o in objects}
    if init_marker:
        for regions in trajectories.values():
            regions[0] = Special(INITIALIZATION)
    return score_sequence(name, trajectories, truth, (width, height))
