"""``hqtrack eval``: the scoring (the parser: ``hqtrack_core.commands.parsers.eval``)."""

from __future__ import annotations

import argparse
import json

from ..ablation.stats import compare_scores, fmt_ci, fmt_diff
from ..atomic import write_json_atomic
from ..evaluation.davis import evaluate_davis
from ..evaluation.vots import VOTS_MEASURES, evaluate_vots
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


def _report(args: argparse.Namespace, data: dict, header: str, rows: list[str], label: str, total: str) -> int:
    """Print a score table (``label`` names its total row; between PARTIAL banners, and the total row labelled
    PARTIAL, when part of the data was scored), then write ``data`` to ``--json`` when asked."""
    banner = _partial_banner(data)
    width = max(12, *(len(n) for n in data["sequences"]))
    lines = [f"{'sequence':<{width}} {header}",
             *(f"{name:<{width}} {row}" for name, row in zip(data["sequences"], rows)),
             f"{'PARTIAL' if banner else label:<{width}} {total}"]
    print("\n".join([banner, *lines, banner] if banner else lines))
    if args.json:
        write_json_atomic(args.json, data)
        print(f"wrote {args.json}")
    return 0


def run_davis(args: argparse.Namespace) -> int:
    if args.json:
        check_file_writable(args.json, "--json")
    score = evaluate_davis(args.gt, args.pred, sequences=args.sequences, binarize=args.binarize,
                           skip_first_last=not args.all_frames, partial=args.partial)
    data = score.to_json()
    columns = lambda s: f"{_fmt(s['JF'])} {_fmt(s['J'])} {_fmt(s['F'])}"  # noqa: E731
    rows = [f"{len(s['objects']):>7} {columns(s)}" for s in data["sequences"].values()]
    objects = sum(len(s["objects"]) for s in data["sequences"].values())
    return _report(args, data, f"{'objects':>7} {'J&F':>6} {'J':>6} {'F':>6}", rows, "global",
                   f"{objects:>7} {columns(data)}")


def run_vots(args: argparse.Namespace) -> int:
    if args.json:
        check_file_writable(args.json, "--json")
    data = evaluate_vots(args.sequences, args.results, partial=args.partial).to_json()
    columns = lambda s: " ".join(_fmt(s[k]) for k in VOTS_MEASURES)  # noqa: E731
    return _report(args, data, " ".join(f"{k:>6}" for k in VOTS_MEASURES), [columns(s) for s in data["sequences"].values()],
                   "overall", columns(data))


def _read_scores(path) -> dict:
    """An ``hqtrack eval davis|vots --json`` file, or ``ValueError`` naming what is wrong with it."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file (write it with hqtrack eval davis|vots --json {path})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a JSON score file ({err}); write it with hqtrack eval davis|vots --json") \
            from None
    if not isinstance(data, dict) or not isinstance(data.get("sequences"), dict) or not data["sequences"]:
        raise ValueError(f"{path} has no per-sequence scores: use the --json output of hqtrack eval davis|vots")
    if data.get("partial"):
        raise ValueError(f"{path} is PARTIAL (scored on part of the data): score every sequence before comparing")
    return data


def run_compare(args: argparse.Namespace) -> int:
    result = compare_scores(_read_scores(args.base), _read_scores(args.other), args.key)
    key, d = result["key"], result["diff"]
    width = max(12, *(len(n) for n in result["per_sequence"]))
    print(f"{'sequence':<{width}} {'BASE':>6} {'OTHER':>6} {'diff':>7}")
    for name, (b, o) in sorted(result["per_sequence"].items(), key=lambda kv: kv[1][1] - kv[1][0]):
        print(f"{name:<{width}} {b:6.3f} {o:6.3f} {o - b:+7.3f}")
    plural = lambda k, word: f"{k} {word}{'' if k == 1 else 's'}"  # noqa: E731
    n = f"n = {plural(result['n'], 'sequence')}"
    if result["objects"]:
        n += f", {plural(result['objects'], 'object')}"
    print(f"{key}: BASE {result['base']:.3f} {fmt_ci(result['base_ci95'])}, OTHER {result['other']:.3f} "
          f"{fmt_ci(result['other_ci95'])} ({n}; 95% intervals: bootstrap over sequences)")
    verdict = "detected" if d["detected"] else "no detectable difference"
    p = "no p with one sequence" if d["p"] is None else f"sign-flip p {d['p']:.3f}"
    print(f"OTHER - BASE: {fmt_diff(d)} ({p}): {verdict}")
    return 0
