"""``hqtrack ablate ROW --data DAVIS_ROOT --out DIR``: one row of the paper's ablation study -> ``DIR/ROW.json``.

ROW is one of backbone, multiscale (trained variants: one ``--checkpoint VARIANT=PATH`` each; without them the row
reports parameters and latency only), memory, threshold, refiner, joint (inference-time: one VMOS checkpoint,
default the committed teaching model). DAVIS_ROOT is any DAVIS-layout folder (``ImageSets/<split>.txt``,
``JPEGImages/<res>/<seq>``, ``Annotations/<res>/<seq>``; binary or multi-object masks). The JSON holds, per
variant, DAVIS J, F, J&F and VOTS Q, A, R per sequence and overall, latency and memory, and the settings.
``--scale paper`` runs the official checkpoints (HQTrack VMOS, R50-DeAOT-L, HQ-SAM / SAM ViT-H): which file each
row needs, where to download it and the data layout are in hqtrack_core/ablation/PAPER_SCALE.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import SUMMARIES
from .choices import ABLATION_ROWS


def _checkpoint_arg(text: str) -> tuple[str | None, str]:
    name, sep, path = text.partition("=")
    return (name, path) if sep else (None, text)


def _scale_range(text: str) -> tuple[float, float]:
    """``"0.8,1"`` -> ``(0.8, 1.0)``; one number is a fixed scale; an unreadable value is a usage error."""
    try:
        parts = [float(x) for x in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2):
        raise argparse.ArgumentTypeError(f"{text!r}: give LO,HI (e.g. 0.8,1) or one number")
    return (parts[0], parts[-1])


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("ablate", help=SUMMARIES["ablate"],
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("row", choices=ABLATION_ROWS)
    p.add_argument("--data", type=Path, default=None, help="DAVIS-layout root folder (not with --rescore)")
    p.add_argument("--out", required=True, type=Path, help="output folder (receives ROW.json)")
    p.add_argument("--split", default=None,
                   help="ImageSets/<split>.txt to read, several joined by + (dev+train_holdout); default: all")
    p.add_argument("--sequences", nargs="+", default=None, help="only these sequences")
    p.add_argument("--resolution", default=None, help="JPEGImages/<res> (default: the one holding the sequences)")
    p.add_argument("--scale", choices=("teach", "paper"), default="teach")
    p.add_argument("--model", default=None,
                   help="VMOS preset of an official --checkpoint (rows 3-6; default at --scale paper: hqtrack_vmos)")
    p.add_argument("--checkpoint", action="append", type=_checkpoint_arg, default=[],
                   help="rows 3-6: the VMOS checkpoint (default: the committed teaching model; --scale paper: "
                        "required, HQTrack's save_step_42000.pth); rows 1-2: VARIANT=PATH, once per trained variant; "
                        "refiner row: also sam=PATH / hqsam=PATH, that variant's own (HQ-)SAM weights. "
                        "Official files and URLs: hqtrack_core/ablation/PAPER_SCALE.md")
    p.add_argument("--refiner-checkpoint", default=None,
                   help="(HQ-)SAM weights of the SAM refiner variants (rows threshold at --scale paper, refiner)")
    p.add_argument("--refiner-model", default=None,
                   help="vit_tiny|vit_b|vit_l|vit_h (default: vit_tiny; --scale paper: vit_h, HQTrack's HQ-SAM)")
    p.add_argument("--refiner-faults", default=None,
                   help="proposals fail at these rates: 'default' or neighbour=R,drift=R,empty=R,whole_box=R "
                        "(hqtrack_core.refine.faulty; what the IoU selector is for)")
    p.add_argument("--short-edge", type=int, default=None, help="network short edge (teach: 240, paper: 480)")
    p.add_argument("--precision", default="auto",
                   help="fp32|bf16|auto (default auto: bf16 where the CPU has AMX/AVX512-BF16, else fp32)")
    p.add_argument("--memory", default="released", help="memory policy preset the variants start from")
    p.add_argument("--max-frames", type=int, default=None, help="frames per clip")
    p.add_argument("--frame-stride", type=int, default=1, help="use every n-th frame of each sequence")
    p.add_argument("--pingpong", type=float, default=4.0, help="memory row: ping-pong length factor")
    p.add_argument("--data-short-edge", type=int, default=None, help="build the clips at this short edge")
    p.add_argument("--composites", type=int, default=3, help="joint row: number of composited clips")
    p.add_argument("--long-clips", type=int, default=0,
                   help="memory row: this many long clips in which the target leaves the view or is occluded and "
                        "comes back (ablation.generators.long_clip); default 0: ping-pong videos")
    p.add_argument("--long-length", type=int, default=600, help="memory row: frames per long clip")
    p.add_argument("--long-scale", type=_scale_range, default=(1.0, 1.0), metavar="LO,HI",
                   help="memory row: the target's size at the start of a long clip over its size in its own video, "
                        "drawn from LO-HI (default 1,1: its own size)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1,
                   help="processes, one sequence at a time each (default 1: this process)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per worker process (default 1 with --workers > 1)")
    p.add_argument("--shard-dir", type=Path, default=None,
                   help="per-sequence results a killed run resumes from (default OUT/.ROW.sequences, removed "
                        "once ROW.json is written; a folder given here is kept). Under torchrun (RANK/WORLD_SIZE set) every rank runs its "
                        "share of the sequences into it (a folder shared by the ranks) and rank 0 writes ROW.json")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--seed-run", action="append", type=Path, default=[],
                   help="with --rescore (rows 1-2): a ROW.json of the same row run with checkpoints trained under "
                        "another seed; its per-sequence scores join the row's (repeat per seed)")
    p.add_argument("--rescore", action="store_true",
                   help="no tracking: recompute the intervals and verdict of the existing OUT/ROW.json from its "
                        "per-sequence scores (and name its checkpoints after their sha256), then print its table")
    p.add_argument("--device", default="cpu")
    p.set_defaults(handler="run")
