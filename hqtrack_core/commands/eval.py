"""``hqtrack eval``: the scoring (the parser: ``hqtrack_core.commands.parsers.eval``)."""

from __future__ import annotations

import argparse
import json

from ..ablation.stats import compare_scores, fmt_ci, fmt_diff
from ..atomic import write_json_atomic
from ..evaluation.davis import evaluate_davis
from ..evaluation.report import davis_table, vots_table
from ..evaluation.vots import evaluate_vots
from ..validate import check_file_writable


def _report(args: argparse.Namespace, table: str, data: dict) -> int:
    """Print the score table, then write ``data`` to ``--json`` when asked."""
    print(table)
    if args.json:
        write_json_atomic(args.json, data)
        print(f"wrote {args.json}")
    return 0


def run_davis(args: argparse.Namespace) -> int:
    if args.json:
        check_file_writable(args.json, "--json")
    score = evaluate_davis(args.gt, args.pred, sequences=args.sequences, binarize=args.binarize,
                           skip_first_last=not args.all_frames, partial=args.partial)
    return _report(args, davis_table(score), score.to_json())


def run_vots(args: argparse.Namespace) -> int:
    if args.json:
        check_file_writable(args.json, "--json")
    score = evaluate_vots(args.sequences, args.results, partial=args.partial)
    return _report(args, vots_table(score), score.to_json())


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
