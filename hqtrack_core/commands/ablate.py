"""``hqtrack ablate``: one row of the ablation study, run or rescored (the parser and the command's description:
``hqtrack_core.commands.parsers.ablate``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..ablation.report import failure_rates, failure_table, recovery, recovery_table, row_table, verdict_text
from ..ablation.shards import RunOptions, discard, dist_env
from ..ablation.study import AblationSettings, ablate, rescore, write_row
from ..atomic import run_lock


def _print_table(result: dict) -> None:
    print(row_table(result))
    print(verdict_text(result))
    rec = recovery(result)
    if rec:  # long clips: the frames after each return of the target
        print(recovery_table(result, rec=rec))
    rates = failure_rates(result)
    if rates:
        print(failure_table(result, rates=rates))


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
        composites=args.composites, long_clips=args.long_clips, long_length=args.long_length,
        long_scale=args.long_scale, seed=args.seed,
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
