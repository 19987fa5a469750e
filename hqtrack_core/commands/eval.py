"""``hqtrack eval``: score results with the official measures.

    hqtrack eval davis --gt GT_DIR --pred PRED_DIR [--json OUT.json] [--binarize] [--all-frames] [--partial]
    hqtrack eval vots --sequences SEQ_ROOT --results RESULTS_DIR [--json OUT.json] [--partial]

Predictions that do not cover the ground truth (a sequence, a frame or an object missing) are refused, as the
official toolkits do; ``--partial`` scores the complete sequences only and marks the output PARTIAL (a header
and footer line, and a ``"partial"`` field in the JSON).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..atomic import write_json_atomic
from ..evaluation.davis import evaluate_davis
from ..evaluation.vots import evaluate_vots
from ..validate import check_file_writable
from . import SUMMARIES


PARTIAL_HELP = ("score only the sequences whose results are complete (an unfinished run); the output is marked "
                "PARTIAL and lists the others (default: refuse, as the official toolkits)")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("eval", help=SUMMARIES["eval"],
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
    davis.add_argument("--partial", action="store_true", help=PARTIAL_HELP)
    davis.set_defaults(func=run_davis)

    vots = benchmarks.add_parser("vots", help="VOTS2023 measures (Q, A, R, NRE, DRE, ADQ)",
                                 description="SEQ_ROOT/<seq>/{sequence,color/,groundtruth_<obj>.txt}; "
                                             "RESULTS_DIR/<seq>/<seq>_<obj>_001.{bin,txt}.")
    vots.add_argument("--sequences", required=True, type=Path, help="VOTS sequences folder")
    vots.add_argument("--results", required=True, type=Path, help="results folder of one tracker")
    vots.add_argument("--json", type=Path, help="write the scores to this JSON file")
    vots.add_argument("--partial", action="store_true", help=PARTIAL_HELP)
    vots.set_defaults(func=run_vots)


def _partial_banner(data: dict) -> str | None:
    """The line printed above and below a table computed on part of the data (None when complete)."""
    part = data.get("partial")
    if not part:
        return None
    names = list(part["missing"])
    shown = ", ".join(names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")
    return (f"PARTIAL: {part['scored_sequences']} of {part['total_sequences']} sequences scored; not scored: "
            f"{shown}. Not comparable with a full evaluation.")


def _fmt(value) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def run_davis(args: argparse.Namespace) -> int:
    if args.json:
        check_file_writable(args.json, "--json")
    score = evaluate_davis(args.gt, args.pred, sequences=args.sequences, binarize=args.binarize,
                           skip_first_last=not args.all_frames, partial=args.partial)
    data = score.to_json()
    banner = _partial_banner(data)
    width = max(12, *(len(n) for n in data["sequences"]))
    if banner:
        print(banner)
    print(f"{'sequence':<{width}} {'objects':>7} {'J&F':>6} {'J':>6} {'F':>6}")
    for name, s in data["sequences"].items():
        print(f"{name:<{width}} {len(s['objects']):>7} {_fmt(s['JF'])} {_fmt(s['J'])} {_fmt(s['F'])}")
    print(f"{'PARTIAL' if banner else 'global':<{width}} {sum(len(s['objects']) for s in data['sequences'].values()):>7} "
          f"{_fmt(data['JF'])} {_fmt(data['J'])} {_fmt(data['F'])}")
    if banner:
        print(banner)
    if args.json:
        write_json_atomic(args.json, data)
        print(f"wrote {args.json}")
    return 0


def run_vots(args: argparse.Namespace) -> int:
    if args.json:
        check_file_writable(args.json, "--json")
    data = evaluate_vots(args.sequences, args.results, partial=args.partial).to_json()
    banner = _partial_banner(data)
    keys = ("Q", "A", "R", "NRE", "DRE", "ADQ")
    width = max(12, *(len(n) for n in data["sequences"]))
    if banner:
        print(banner)
    print(f"{'sequence':<{width}} " + " ".join(f"{k:>6}" for k in keys))
    for name, s in data["sequences"].items():
        print(f"{name:<{width}} " + " ".join(_fmt(s[k]) for k in keys))
    print(f"{'PARTIAL' if banner else 'overall':<{width}} " + " ".join(_fmt(data[k]) for k in keys))
    if banner:
        print(banner)
    if args.json:
        write_json_atomic(args.json, data)
        print(f"wrote {args.json}")
    return 0
