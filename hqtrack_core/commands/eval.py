"""``hqtrack eval``: the scoring (the parser: ``hqtrack_core.commands.parsers.eval``)."""

from __future__ import annotations

import argparse

from ..atomic import write_json_atomic
from ..evaluation.davis import evaluate_davis
from ..evaluation.vots import evaluate_vots
from ..validate import check_file_writable


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
