"""``hqtrack eval``: score results with the official measures.

    hqtrack eval davis --gt GT_DIR --pred PRED_DIR [--json OUT.json] [--binarize] [--all-frames] [--partial]
    hqtrack eval vots --sequences SEQ_ROOT --results RESULTS_DIR [--json OUT.json] [--partial]
    hqtrack eval compare BASE.json OTHER.json [--key JF]

``compare`` reads two ``--json`` outputs scored on the same sequences and prints OTHER minus BASE with its 95%
interval (paired bootstrap over sequences) and the sign-flip test, the rule of ``hqtrack_core.ablation.stats``.

Predictions that do not cover the ground truth (a sequence, a frame or an object missing) are refused, as the
official toolkits do; ``--partial`` scores the complete sequences only and marks the output PARTIAL (a header
and footer line, and a ``"partial"`` field in the JSON).
"""

from __future__ import annotations

from pathlib import Path

from .. import SUMMARIES


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
    davis.set_defaults(handler="run_davis")

    vots = benchmarks.add_parser("vots", help="VOTS2023 measures (Q, A, R, NRE, DRE, ADQ)",
                                 description="SEQ_ROOT/<seq>/{sequence,color/,groundtruth_<obj>.txt}; "
                                             "RESULTS_DIR/<seq>/<seq>_<obj>_001.{bin,txt}.")
    vots.add_argument("--sequences", required=True, type=Path, help="VOTS sequences folder")
    vots.add_argument("--results", required=True, type=Path, help="results folder of one tracker")
    vots.add_argument("--json", type=Path, help="write the scores to this JSON file")
    vots.add_argument("--partial", action="store_true", help=PARTIAL_HELP)
    vots.set_defaults(handler="run_vots")

    compare = benchmarks.add_parser(
        "compare", help="OTHER minus BASE on the same sequences, with a 95%% interval and a permutation test",
        description="Two --json outputs of `hqtrack eval davis` (or both of `eval vots`) scored on the same "
                    "sequences: the difference OTHER - BASE, its 95% interval (paired bootstrap over sequences, "
                    "10,000 resamples; DAVIS sequences weighted by their objects, as the global J&F) and the "
                    "two-sided sign-flip p. 'detected' needs both: the interval excludes 0 and p < 0.05.")
    compare.add_argument("base", type=Path, help="scores of the reference (e.g. the shipped model)")
    compare.add_argument("other", type=Path, help="scores of the candidate")
    compare.add_argument("--key", default=None,
                         help="measure to compare: JF, J or F (DAVIS; default JF), Q, A or R (VOTS; default Q)")
    compare.set_defaults(handler="run_compare")
