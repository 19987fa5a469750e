"""``hqtrack ablate ROW --data DAVIS_ROOT --out DIR``: one row of the paper's ablation study -> ``DIR/ROW.json``.

ROW is one of backbone, multiscale (trained variants: one ``--checkpoint VARIANT=PATH`` each; without them the row
reports parameters and latency only), memory, threshold, refiner, joint (inference-time: one VMOS checkpoint,
default the committed teaching model). DAVIS_ROOT is any DAVIS-layout folder (``ImageSets/<split>.txt``,
``JPEGImages/<res>/<seq>``, ``Annotations/<res>/<seq>``; binary or multi-object masks). The JSON holds, per
variant, DAVIS J, F, J&F and VOTS Q, A, R per sequence and overall, latency and memory, and the settings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _checkpoint_arg(text: str) -> tuple[str | None, str]:
    name, sep, path = text.partition("=")
    return (name, path) if sep else (None, text)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from ..ablation.rows import ROW_NAMES

    p = subparsers.add_parser("ablate", help="run one row of the paper's ablation study on a DAVIS-layout folder",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("row", choices=ROW_NAMES)
    p.add_argument("--data", required=True, type=Path, help="DAVIS-layout root folder")
    p.add_argument("--out", required=True, type=Path, help="output folder (receives ROW.json)")
    p.add_argument("--split", default=None, help="ImageSets/<split>.txt to read (default: every sequence)")
    p.add_argument("--sequences", nargs="+", default=None, help="only these sequences")
    p.add_argument("--resolution", default=None, help="JPEGImages/<res> (default: the one holding the sequences)")
    p.add_argument("--scale", choices=("teach", "paper"), default="teach")
    p.add_argument("--model", default=None, help="VMOS preset of an official --checkpoint (rows 3-6)")
    p.add_argument("--checkpoint", action="append", type=_checkpoint_arg, default=[],
                   help="rows 3-6: the VMOS checkpoint (default: the committed teaching model); "
                        "rows 1-2: VARIANT=PATH, once per trained variant")
    p.add_argument("--refiner-checkpoint", default=None, help="(HQ-)SAM weights for the refiner row's SAM variants")
    p.add_argument("--refiner-model", default="vit_tiny", help="vit_tiny|vit_b|vit_l|vit_h")
    p.add_argument("--short-edge", type=int, default=None, help="network short edge (teach: 240, paper: 480)")
    p.add_argument("--precision", default="bf16", help="fp32|bf16|auto (default bf16)")
    p.add_argument("--memory", default="released", help="memory policy preset the variants start from")
    p.add_argument("--max-frames", type=int, default=None, help="frames per clip")
    p.add_argument("--frame-stride", type=int, default=1, help="use every n-th frame of each sequence")
    p.add_argument("--pingpong", type=float, default=4.0, help="memory row: ping-pong length factor")
    p.add_argument("--data-short-edge", type=int, default=None, help="build the clips at this short edge")
    p.add_argument("--composites", type=int, default=3, help="joint row: number of composited clips")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..ablation.study import AblationSettings, ablate, write_row

    named = {name: path for name, path in args.checkpoint if name is not None}
    plain = [path for name, path in args.checkpoint if name is None]
    if len(plain) > 1:
        raise ValueError("give one VMOS --checkpoint (rows 1-2 take VARIANT=PATH)")
    for path in [*plain, *named.values()]:
        if path.lower() != "none" and not Path(path).is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
    settings = AblationSettings(
        scale=args.scale, split=args.split, sequences=tuple(args.sequences) if args.sequences else None,
        resolution=args.resolution, model=args.model, checkpoint=plain[0] if plain else None,
        variant_checkpoints=named, refiner_checkpoint=args.refiner_checkpoint, refiner_model=args.refiner_model,
        short_edge=args.short_edge, precision=args.precision, memory=args.memory, max_frames=args.max_frames,
        frame_stride=args.frame_stride, pingpong_factor=args.pingpong, data_short_edge=args.data_short_edge,
        composites=args.composites, seed=args.seed, device=args.device)
    result = ablate(args.row, args.data, settings, log=lambda m: print(m, file=sys.stderr))
    path = write_row(result, args.out)
    print(f"hqtrack ablate: wrote {path}", file=sys.stderr)
    return 0
