"""``hqtrack track INPUT (--mask FIRST_MASK.png | --box x0,y0,x1,y1 [--box ...]) --out OUT_DIR``.

INPUT is a folder of frames (sorted by name) or a video file. The first-frame prompt is an indexed PNG of
object ids (binary 0/255 counts as object 1) or one box per object (ids 1, 2, ... in the order given) that the
refiner turns into masks (HQ-SAM / SAM when chosen, GrabCut otherwise). OUT_DIR receives one indexed PNG per
frame named after the input frame's stem (DAVIS convention). The masks are staged beside OUT_DIR and land there
only when the whole video is done: a run that fails leaves OUT_DIR as it was.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def _parse_box(text: str) -> tuple[int, int, int, int]:
    from ..refine.boxes import parse_box

    try:
        return tuple(int(round(v)) for v in parse_box(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--box: {err}") from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("track", help="track objects through a video from a first-frame mask or box",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", type=Path, help="folder of frames or a video file")
    prompt = p.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--mask", type=Path, help="first-frame mask PNG (indexed ids, or binary 0/255)")
    prompt.add_argument("--box", type=_parse_box, action="append",
                        help="first-frame box x0,y0,x1,y1; repeat for more objects (ids 1, 2, ... in order)")
    p.add_argument("--out", type=Path, required=True, help="output folder for per-frame indexed PNGs")
    p.add_argument("--model", default=None,
                   help="model preset name (default: the committed teaching model, hqtrack_teach)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint path: ours (.safetensors) or official aot-benchmark/HQTrack (.pth); "
                        "'none' = random weights (mechanics only)")
    p.add_argument("--refiner", choices=("none", "hqsam", "sam", "classical"), default="none")
    p.add_argument("--refiner-checkpoint", default=None, help="HQ-SAM / SAM checkpoint (.pth)")
    p.add_argument("--refiner-model", default="vit_tiny", help="HQ-SAM / SAM model type (vit_tiny|vit_b|vit_l|vit_h)")
    p.add_argument("--refiner-threshold", type=float, default=0.1,
                   help="IoU selector: keep a refined mask only if IoU(refined, VMOS) >= this (default 0.1)")
    p.add_argument("--refiner-box-margin", type=float, default=0.0,
                   help="HQ-SAM / SAM: grow each box by this fraction of its size per side (released: 0)")
    p.add_argument("--refiner-single-mask", action="store_true",
                   help="HQ-SAM / SAM: the decoder's single-mask output (released: multimask, best by predicted IoU)")
    p.add_argument("--refiner-hq-token-only", action="store_true",
                   help="HQ-SAM: the HQ mask alone (released: HQ mask + SAM's best mask)")
    p.add_argument("--memory", default="released", help="memory policy preset (released|paper|deaot)")
    p.add_argument("--short-edge", type=int, default=None,
                   help="run the network at this short edge (masks are written at the input size); "
                        "default: the input size")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda|cuda:N|mps")
    p.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="auto",
                   help="network precision: auto (default) = bf16 where the CPU has AMX/AVX512-BF16 or the GPU "
                        "supports it, else fp32; fp32 = exact; masks are the same format either way")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..atomic import atomic_dir
    from ..data.frames import open_frames
    from ..data.masks import fit_mask_to, read_mask, write_mask
    from ..hub import load_tracker
    from ..pipeline import HQTrackPipeline
    from ..refine import build_refiner
    from ..tracking import track_video

    options = {"threshold": args.refiner_threshold}
    if args.refiner in ("hqsam", "sam"):
        options.update(box_margin=args.refiner_box_margin, multimask=not args.refiner_single_mask,
                       hq_token_only=args.refiner_hq_token_only)
    elif args.refiner_box_margin or args.refiner_single_mask or args.refiner_hq_token_only:
        raise ValueError(
            "--refiner-box-margin / --refiner-single-mask / --refiner-hq-token-only need --refiner hqsam|sam")
    frames = open_frames(args.input)
    if len(frames) == 0:
        raise ValueError(f"no frames in {args.input}")
    tracker, info = load_tracker(args.model, args.checkpoint, device=args.device, memory=args.memory,
                                 short_edge=args.short_edge, precision=args.precision)
    refiner = build_refiner(args.refiner, checkpoint=args.refiner_checkpoint, model_type=args.refiner_model,
                            device=tracker.device, precision=tracker.precision, **options)
    refined = "none" if refiner is None else args.refiner
    if args.refiner in ("hqsam", "sam"):
        refined += f" ({args.refiner_model}, precision {tracker.precision.name})"
    print(f"hqtrack track: model {info}, refiner {refined}", file=sys.stderr)
    pipeline = HQTrackPipeline(tracker, refiner, memory_write=tracker.policy.write)

    first_stem = frames.stems[0]
    if args.mask is not None:
        mask = fit_mask_to(read_mask(args.mask), frames.size)
        if not np.any(mask):
            raise ValueError(f"first-frame mask {args.mask} has no object (all zeros)")
    else:
        from ..refine.prompts import labels_from_boxes

        _, first_image = next(iter(frames))
        mask = labels_from_boxes(first_image, args.box, refiner=refiner)
        if not np.any(mask):
            raise ValueError(f"the box prompt(s) {args.box} gave an empty first mask")

    written = 0
    with atomic_dir(args.out) as stage:
        for frame in track_video(pipeline, frames, {first_stem: mask}, max_frames=args.max_frames, progress=True):
            write_mask(stage / f"{frame.stem}.png", frame.labels)
            written += 1
    print(f"hqtrack track: wrote {written} masks to {args.out}", file=sys.stderr)
    return 0
