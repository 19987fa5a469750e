"""Measure the weight-free refiner on real frames: ``python -m hqtrack_core.refine.measure``.

DAVIS-2016 dev sequences (``<data>/davis2016``, ``ImageSets/dev.txt``, 480p): every ``stride``-th frame's ground
truth is perturbed as a VOS model errs (:mod:`hqtrack_core.refine.perturb`), refined by :class:`GrabCutRefiner`,
and scored against the ground truth (J = IoU, F = DAVIS boundary F). Real errors are measured too when the shared
data has them: OSVOS's published predictions (``osvos_davis2017_predictions``, binarised) as the raw mask.
Rows: the raw mask, the refined mask without the selector (threshold 0: always accept), with HQTrack's selector
(IoU >= 0.1) and with a strict one (0.5).
Writes ``figures/refiner_offline.json`` and prints the table, whatever it shows.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from ..evaluation.davis import boundary_f, jaccard
from ..atomic import write_json_atomic
from ..data.masks import read_mask
from ..paths import committed_figures_dir, data_root
from .classical import GrabCutRefiner
from .perturb import PERTURBATIONS

THRESHOLDS: dict[str, float] = {"refined (no selector)": 0.0, "refined + selector 0.1": 0.1,
                                "refined + selector 0.5": 0.5}


def _score(gt: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    return float(jaccard(gt, pred)), float(boundary_f(gt, pred))


def _read(root: Path, seq: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    image = cv2.imread(str(root / "JPEGImages" / "480p" / seq / f"{name}.jpg"), cv2.IMREAD_COLOR)
    gt = cv2.imread(str(root / "Annotations" / "480p" / seq / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    if image is None or gt is None:
        raise FileNotFoundError(f"missing frame or annotation {seq}/{name} under {root}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), gt > 127


def measure(
    davis_root: Path | None = None,
    stride: int = 5,
    sequences: list[str] | None = None,
    refiner: GrabCutRefiner | None = None,
) -> dict:
    """Run the measurement; returns ``{"rows": [...], "settings": {...}}`` (means over frames, in %)."""
    if davis_root is None:
        root = data_root()
        if root is None:
            raise FileNotFoundError("no shared data: set HQTRACK_DATA (needs davis2016/)")
        davis_root = root / "davis2016"
    davis_root = Path(davis_root)
    if sequences is None:
        sequences = (davis_root / "ImageSets" / "dev.txt").read_text().split()
    refiner = refiner or GrabCutRefiner()
    stats: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    per_seq: dict[tuple[str, str, str], list[float]] = {}  # (sequence, raw kind, raw|refined) -> J&F per frame
    osvos_root = davis_root.parent / "osvos_davis2017_predictions"
    n_frames, t_refine, n_refine = 0, 0.0, 0
    for seq in sequences:
        names = sorted(p.stem for p in (davis_root / "Annotations" / "480p" / seq).glob("*.png"))
        for name in names[::stride]:
            image, gt = _read(davis_root, seq, name)
            n_frames += 1
            raws = {pname: perturb(gt) for pname, perturb in PERTURBATIONS.items()}
            osvos = osvos_root / seq / f"{name}.png"
            if osvos.exists():
                raws["osvos (real)"] = read_mask(osvos) > 0
            for pname, raw in raws.items():
                labels = raw.astype(np.uint8)
                start = time.perf_counter()
                result = refiner.refine(image, labels, object_ids=[1])
                t_refine += time.perf_counter() - start
                n_refine += 1
                score = _score(gt, raw)
                stats.setdefault((pname, "raw"), []).append((*score, np.nan))
                per_seq.setdefault((seq, pname, "raw"), []).append(sum(score) / 2)
                for row, threshold in THRESHOLDS.items():
                    sel = result.reselect(threshold)
                    score = _score(gt, sel.labels == 1)
                    stats.setdefault((pname, row), []).append((*score,
                                                              float(sel.accepted[0]) if sel.refined[0] else np.nan))
                    if threshold == 0.1:
                        per_seq.setdefault((seq, pname, "refined"), []).append(sum(score) / 2)
    rows = []
    for (pname, row), values in stats.items():
        arr = np.asarray(values, dtype=np.float64)
        j, f = 100 * arr[:, 0].mean(), 100 * arr[:, 1].mean()
        accept = np.nanmean(arr[:, 2]) if row != "raw" and not np.all(np.isnan(arr[:, 2])) else None
        rows.append({"perturbation": pname, "mask": row, "J": round(j, 2), "F": round(f, 2),
                     "JF": round((j + f) / 2, 2), "accepted": None if accept is None else round(100 * accept, 1)})
    per_sequence = [
        {"sequence": seq, "perturbation": pname, "JF_raw": round(100 * float(np.mean(values)), 2),
         "JF_refined": round(100 * float(np.mean(per_seq[(seq, pname, "refined")])), 2)}
        for (seq, pname, kind), values in per_seq.items() if kind == "raw"
    ]
    return {
        "rows": rows,
        "per_sequence": per_sequence,
        "settings": {"sequences": sequences, "stride": stride, "frames": n_frames, "resolution": "480p",
                     "refiner": {"kind": "classical", "band": refiner.band, "min_band": refiner.min_band,
                                 "max_band": refiner.max_band,
                                 "iterations": refiner.iterations, "min_core": refiner.min_core},
                     "scorer": "hqtrack_core.evaluation.davis",
                     "seconds_per_object": round(t_refine / max(n_refine, 1), 3)},
    }


def format_table(result: dict) -> str:
    lines = [f"{'raw mask':<13} {'mask':<24} {'J':>6} {'F':>6} {'J&F':>6} {'accept%':>8}"]
    for r in result["rows"]:
        acc = "" if r["accepted"] is None else f"{r['accepted']:.1f}"
        lines.append(f"{r['perturbation']:<13} {r['mask']:<24} {r['J']:>6.2f} {r['F']:>6.2f} {r['JF']:>6.2f} {acc:>8}")
    per_sequence = result.get("per_sequence", [])
    if per_sequence:
        seqs = list(dict.fromkeys(r["sequence"] for r in per_sequence))
        cell = {(r["sequence"], r["perturbation"]): f"{r['JF_raw']:.1f} -> {r['JF_refined']:.1f}" for r in per_sequence}
        lines.append("")
        lines.append("J&F raw -> refined (selector 0.1), per sequence")
        lines.append(f"{'raw mask':<13} " + " ".join(f"{q:>16}" for q in seqs))
        for pname in dict.fromkeys(r["perturbation"] for r in per_sequence):
            lines.append(f"{pname:<13} " + " ".join(f"{cell.get((q, pname), ''):>16}" for q in seqs))
    s = result["settings"]
    lines.append(f"({s['frames']} frames of {', '.join(s['sequences'])}, every {s['stride']}th; "
                 f"{s['seconds_per_object']} s per object; scored by {s['scorer']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stride", type=int, default=5, help="use every N-th frame (default 5)")
    parser.add_argument("--sequences", nargs="*", default=None, help="default: ImageSets/dev.txt")
    parser.add_argument("--out", type=Path, default=None, help="default: figures/refiner_offline.json")
    args = parser.parse_args(argv)
    result = measure(stride=args.stride, sequences=args.sequences)
    print(format_table(result))
    out = write_json_atomic(args.out or committed_figures_dir() / "refiner_offline.json", result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
