"""Accuracy of reduced precision, recorded: bf16 vs fp32 label agreement and J&F on the DAVIS-2016 dev sequences.

``python -m hqtrack_core.bench.precision [--write]`` runs
:func:`~hqtrack_core.evaluation.precision_agreement.compare_precisions` (first 20 frames of each sequence) and
:func:`~hqtrack_core.evaluation.precision_agreement.dev_jf_by_precision` with the default model and prints them;
``--write`` merges ``fast_jf_fp32_dev``, ``fast_jf_bf16_dev``, ``fast_jf_delta_dev``,
``bf16_label_agreement_min_dev`` and ``fast_jf_loadavg`` into ``figures/bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from ..api import InferenceConfig, build_vmos
from ..api.build import resize_policy
from ..data.frames import open_frames
from ..data.masks import read_mask
from ..evaluation.precision_agreement import BENCH_KEYS, compare_precisions, dev_jf_by_precision
from ..inference.memory import memory_policy
from ..paths import data_root
from .record import update_bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hqtrack_core.bench.precision",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short-edge", type=int, default=240)
    parser.add_argument("--sequences", nargs="+", help="default: ImageSets/dev.txt")
    parser.add_argument("--agreement-frames", type=int, default=20,
                        help="frames per sequence for the logit / label comparison (default 20; 0 = skip it)")
    parser.add_argument("--write", action="store_true", help="merge the J&F figures into figures/bench.json")
    args = parser.parse_args(argv)

    root = data_root()
    if root is None:
        raise SystemExit("no shared data: set HQTRACK_DATA")
    davis = root / "davis2016"
    names = args.sequences or (davis / "ImageSets" / "dev.txt").read_text().split()
    config = InferenceConfig.from_card(short_edge=args.short_edge)  # the card's memory and flip, as dev_jf uses
    net, description = build_vmos(config)
    policy = memory_policy(config.memory)
    figures: dict[str, float] = {}
    for name in names if args.agreement_frames else []:
        frames = open_frames(davis / "JPEGImages" / "480p" / name)
        mask = read_mask(davis / "Annotations" / "480p" / name / "00000.png").astype(np.int64)
        agree = compare_precisions(net.eval(), frames, mask, "bf16", policy=policy,
                                   resize=resize_policy(config.short_edge), max_frames=args.agreement_frames,
                                   flip=config.flip)
        print(f"{name}: bf16 vs fp32 over {len(agree.stems)} frames: labels agree min {agree.min_agreement:.5f} "
              f"mean {agree.mean_agreement:.5f}; max |logit diff| worst {agree.worst_logit_diff:.3f} "
              f"median {float(np.median(agree.max_abs_logit_diff)):.3f}")
        figures[f"bf16_label_agreement_min_{name}"] = agree.min_agreement
        figures[f"bf16_max_abs_logit_diff_{name}"] = agree.worst_logit_diff
    if args.agreement_frames:
        figures["bf16_label_agreement_min_dev"] = min(figures[f"bf16_label_agreement_min_{n}"] for n in names)
    jf = dev_jf_by_precision(root, short_edge=args.short_edge, sequences=names)
    figures.update(jf)
    figures["fast_jf_loadavg"] = os.getloadavg()[0]
    print(f"model {description}, short edge {args.short_edge}, memory {config.memory}, flip {config.flip}: "
          f"J&F fp32 {jf['fast_jf_fp32_dev']:.4f}, bf16 {jf['fast_jf_bf16_dev']:.4f}, "
          f"delta {jf['fast_jf_delta_dev']:+.4f}")
    print(json.dumps(figures, indent=2))
    if args.write:
        update_bench({k: round(v, 6) for k, v in figures.items() if k in BENCH_KEYS})
    return 0


if __name__ == "__main__":
    sys.exit(main())
