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
import json
import sys
from pathlib import Path

from ..ablation.report import row_table, verdict_text
from ..ablation.rows import ROW_NAMES
from ..ablation.shards import RunOptions, discard, dist_env
from ..ablation.study import AblationSettings, ablate, rescore, write_row
from ..atomic import run_lock
from . import SUMMARIES


def _checkpoint_arg(text: str) -> tuple[str | None, str]:
    name, sep, path = text.partition("=")
    return (name, path) if sep else (None, text)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("ablate", help=SUMMARIES["ablate"],
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("row", choices=ROW_NAMES)
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
    p.set_defaults(func=run)


def _print_table(result: dict) -> None:
    print(row_table(result))
    print(verdict_text(result))


def _rescore(args: argparse.Namespace) -> int:
    path = args.out / f"{args.row}.json"
    if not path.is_file():
        raise FileNotFoundError(f"--rescore reads {path}, which does not exist: run the row first "
                                f"(hqtrack ablate {args.row} --data DAVIS_ROOT --out {args.out})")
    with run_lock(path, f"hqtrack ablate {args.row} --rescore"):
        result = json.loads(path.read_text())
        if result.get("row") != args.row:
            raise ValueError(f"{path} holds row {result.get('row')!r}, not {args.row!r}")
        others = [json.loads(Path(f).read_text()) for f in args.seed_run]
        result = rescore(result, others)
        write_row(result, args.out)
    _print_table(result)
    print(f"hqtrack ablate: rescored {path}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.rescore:
        return _rescore(args)
    if args.seed_run:
        raise ValueError("--seed-run joins finished runs: use it with --rescore")
    if args.data is None:
        raise ValueError("--data DAVIS_ROOT is required (only --rescore runs without it)")

    rank, world, local_rank = dist_env()
    named = {name: path for name, path in args.checkpoint if name is not None}
    plain = [path for name, path in args.checkpoint if name is None]
    if len(plain) > 1:
        raise ValueError("give one VMOS --checkpoint (rows 1-2 take VARIANT=PATH)")
    for path in [*plain, *named.values()] if args.scale == "teach" else ():  # paper: the error names the download
        if path.lower() != "none" and not Path(path).is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
    settings = AblationSettings(
        scale=args.scale, split=args.split, sequences=tuple(args.sequences) if args.sequences else None,
        resolution=args.resolution, model=args.model, checkpoint=plain[0] if plain else None,
        variant_checkpoints=named, refiner_checkpoint=args.refiner_checkpoint, refiner_model=args.refiner_model,
        refiner_faults=args.refiner_faults,
        short_edge=args.short_edge, precision=args.precision, memory=args.memory, max_frames=args.max_frames,
        frame_stride=args.frame_stride, pingpong_factor=args.pingpong, data_short_edge=args.data_short_edge,
        composites=args.composites, long_clips=args.long_clips, long_length=args.long_length, seed=args.seed,
        device=f"cuda:{local_rank}" if world > 1 and args.device == "cuda" else args.device)
    opts = RunOptions(workers=args.workers, threads=args.threads, progress=not args.no_progress, rank=rank,
                      world_size=world, shard_dir=args.shard_dir or args.out / f".{args.row}.sequences")
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if rank != 0:  # torchrun: this rank's share of the sequences; rank 0 merges and writes the row
        ablate(args.row, args.data, settings, log=log, run=opts)
        print(f"hqtrack ablate: rank {rank}/{world} finished its sequences in {opts.shard_dir}", file=sys.stderr)
        return 0
    # the same row started twice into one folder: the second fails at once, naming the first (other rows run on)
    with run_lock(args.out / f"{args.row}.json", f"hqtrack ablate {args.row}"):
        result = ablate(args.row, args.data, settings, log=log, run=opts)
        path = write_row(result, args.out)
        if not args.shard_dir:  # the default per-row folder goes once the row is written (an explicit one stays)
            discard(opts.shard_dir)
    _print_table(result)
    print(f"hqtrack ablate: wrote {path}", file=sys.stderr)
    return 0
