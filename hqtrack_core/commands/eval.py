"""``hqtrack eval``: score results with the official measures.

    hqtrack eval davis --gt GT_DIR --pred PRED_DIR [--json OUT.json] [--binarize] [--all-frames]
    hqtrack eval vots --sequences SEQ_ROOT --results RESULTS_DIR [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="score results: DAVIS J&F or VOTS2023 measures",
                                   description="Score tracking results with DAVIS J&F or the VOTS2023 measures.")
    benchmarks = parser.add_subparsers(dest="benchmark", required=True)

    davis = benchmarks.add_parser("davis", help="DAVIS J&F (semi-supervised protocol)",
                                  description="GT_DIR and PRED_DIR hold one folder of PNG masks per sequence "
                                              "(binary 0/255 masks count as object 1).")
    davis.add_argument("--gt", required=True, type=Path, help="ground-truth folder: GT_DIR/<seq>/*.png")
    davis.add_argument("--pred", required=True, type=Path, help="prediction folder: PRED_DIR/<seq>/*.png")
    davis.add_argument("--json", type=Path, help="write the scores to this JSON file")
    davis.add_argument("--sequences", nargs="+", help="only these sequences (default: every folder of GT_DIR)")
    davis.add_argument("--binarize", action="store_true", help="merge all objects into one (id > 0) on both sides")
    davis.add_argument("--all-frames", action="store_true", help="also score the first and last frames")
    davis.set_defaults(func=run_davis)

    vots = benchmarks.add_parser("vots", help="VOTS2023 measures (Q, A, R, NRE, DRE, ADQ)",
                                 description="SEQ_ROOT/<seq>/{sequence,color/,groundtruth_<obj>.txt}; "
                                             "RESULTS_DIR/<seq>/<seq>_<obj>_001.{bin,txt}.")
    vots.add_argument("--sequences", required=True, type=Path, help="VOTS sequences folder")
    vots.add_argument("--results", required=True, type=Path, help="results folder of one tracker")
    vots.add_argument("--json", type=Path, help="write the scores to this JSON file")
    vots.set_defaults(func=run_vots)


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _fmt(value) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def run_davis(args: argparse.Namespace) -> int:
    from hqtrack_core.evaluation.davis import evaluate_davis

    score = evaluate_davis(args.gt, args.pred, sequences=args.sequences, binarize=args.binarize,
                           skip_first_last=not args.all_frames)
    data = score.to_json()
    width = max(12, *(len(n) for n in data["sequences"]))
    print(f"{'sequence':<{width}} {'objects':>7} {'J&F':>6} {'J':>6} {'F':>6}")
    for name, s in data["sequences"].items():
        print(f"{name:<{width}} {len(s['objects']):>7} {_fmt(s['JF'])} {_fmt(s['J'])} {_fmt(s['F'])}")
    print(f"{'global':<{width}} {sum(len(s['objects']) for s in data['sequences'].values()):>7} "
          f"{_fmt(data['JF'])} {_fmt(data['J'])} {_fmt(data['F'])}")
    if args.json:
        _write_json(args.json, data)
        print(f"wrote {args.json}")
    return 0


def run_vots(args: argparse.Namespace) -> int:
    from hqtrack_core.evaluation.vots import evaluate_vots

    data = evaluate_vots(args.sequences, args.results).to_json()
    keys = ("Q", "A", "R", "NRE", "DRE", "ADQ")
    width = max(12, *(len(n) for n in data["sequences"]))
    print(f"{'sequence':<{width}} " + " ".join(f"{k:>6}" for k in keys))
    for name, s in data["sequences"].items():
        print(f"{name:<{width}} " + " ".join(_fmt(s[k]) for k in keys))
    print(f"{'overall':<{width}} " + " ".join(_fmt(data[k]) for k in keys))
    if args.json:
        _write_json(args.json, data)
        print(f"wrote {args.json}")
    return 0
