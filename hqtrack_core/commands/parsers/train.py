"""``hqtrack train``: train the VMOS (stage 1 synthetic clips / stage 2 videos), resumable, DDP-ready.

Examples::

    hqtrack train --config cpu_teach_stage1 --data ../shared/data/davis2016 --out runs/teach_s1
    hqtrack train --config cpu_teach_stage2 --data ../shared/data/davis2016 --out runs/teach_s2 \\
        --init runs/teach_s1/checkpoints/step_0001500.pt
    hqtrack train --config cpu_teach_stage2 --out runs/teach_s2 --resume        # continue after a kill
    hqtrack train --config cpu_teach_stage2 --out runs/teach_s2 --resume --export teach.safetensors
                                          # a finished run: export its last checkpoint's EMA (no step is run)
    torchrun --nproc_per_node 2 -m hqtrack_core.training --config ci_smoke --data ... --out runs/ddp
"""

from __future__ import annotations

import argparse

from .. import SUMMARIES
from .choices import PRECISIONS, TRAIN_PRESETS


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("train", help=SUMMARIES["train"],
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(parser)
    parser.set_defaults(handler="run")
    return parser


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``hqtrack train`` on ``parser`` (also ``python -m hqtrack_core.training``'s)."""
    parser.add_argument("--config", required=True,
                        help=f"training preset ({', '.join(sorted(TRAIN_PRESETS))}) or a TrainConfig JSON file")
    parser.add_argument("--data", help="data folder (DAVIS / YouTube-VOS layout, or images/ + masks/); "
                                       "default: $HQTRACK_DATA/davis2016")
    parser.add_argument("--out", help="run folder (checkpoints, metrics.jsonl); default runs/<config>")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    parser.add_argument("--steps", type=int, help="override the number of steps")
    parser.add_argument("--model", help="override the VMOS preset (e.g. deaot_t, hqtrack_teach)")
    parser.add_argument("--init", help="start from these weights (checkpoint .pt: its EMA; or .safetensors)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=JSON",
                        help="override any TrainConfig field, e.g. --set batch_size=4 --set 'crop=[241,241]'")
    parser.add_argument("--export", help="after training, write the EMA weights here (.safetensors + .json)")
    parser.add_argument("--figure", help="after training, write the loss curve PNG here")
    parser.add_argument("--stop-after", type=int, metavar="STEP",
                        help="end the run at this step (the schedule still assumes --steps; resumable)")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="override the config's precision: autocast with fp32 master weights "
                             "(auto = bf16 on a CPU with AMX/AVX512-BF16 or a bf16 GPU)")
