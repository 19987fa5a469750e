"""``hqtrack track INPUT (--mask FIRST_MASK.png | --box x0,y0,x1,y1 [--box ...]) --out OUT_DIR``.

INPUT is a folder of frames (sorted by name) or a video file. The first-frame prompt is an indexed PNG of
object ids (binary 0/255 counts as object 1) or one box per object (ids 1, 2, ... in the order given) that the
refiner turns into masks (HQ-SAM / SAM when chosen, GrabCut otherwise). OUT_DIR receives one indexed PNG per
frame named after the input frame's stem (DAVIS convention). The masks are staged beside OUT_DIR and land there
only when the whole video is done: a run that fails (or is stopped: Ctrl-C, SIGTERM, SIGHUP) leaves OUT_DIR as it
was. OUT_DIR holding masks this run would not write (an earlier, longer run) is refused unless --overwrite.
Inputs, options and weight files are checked before any model is loaded.
``--overlay OUT.mp4|OUT.gif`` also writes the masks drawn over the frames as a video, ``--preview OUT.png``
a contact sheet of 8 frames (both atomic).
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
        raise argparse.ArgumentTypeError(str(err)) from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("track", help="track objects through a video from a first-frame mask or box",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", type=Path, help="folder of frames or a video file")
    prompt = p.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--mask", type=Path, help="first-frame mask PNG (indexed ids, or binary 0/255)")
    prompt.add_argument("--box", type=_parse_box, action="append",
                        help="first-frame box x0,y0,x1,y1; repeat for more objects (ids 1, 2, ... in order)")
    p.add_argument("--out", type=Path, required=True, help="output folder for per-frame indexed PNGs")
    p.add_argument("--overwrite", action="store_true",
                   help="OUT_DIR may hold masks of an earlier run: they are deleted once this run's masks are in")
    p.add_argument("--model", default=None,
                   help="model preset name (default: the committed teaching model, hqtrack_teach)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint path: ours (.safetensors) or official aot-benchmark/HQTrack (.pth); "
                        "'none' = random weights (mechanics only)")
    p.add_argument("--refiner", choices=("none", "hqsam", "sam", "classical"), default=None,
                   help="mask refiner (default: the model card's preferred refiner; 'none' without a card)")
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
    p.add_argument("--memory", default=None,
                   help="memory policy preset (released|paper|deaot); default: the model card's preferred policy "
                        "('released' without a card)")
    p.add_argument("--short-edge", type=int, default=None,
                   help="run the network at this short edge (masks are written at the input size); "
                        "default: the model card's preferred short edge (the input size without a card)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="test-time flip: also run each frame mirrored and average the two (twice the compute); "
                        "default: the model card's preference (off without a card)")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda|cuda:N|mps")
    p.add_argument("--precision", choices=("fp32", "bf16", "auto"), default=None,
                   help="network precision (default: the model card's preferred precision; auto without a card): "
                        "auto = bf16 where the CPU has AMX/AVX512-BF16 or the GPU "
                        "supports it, else fp32; fp32 = exact; masks are the same format either way")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--overlay", type=Path, default=None,
                   help="also write the masks drawn over the frames as a video (OUT.mp4 or OUT.gif)")
    p.add_argument("--overlay-fps", type=float, default=10.0, help="frame rate of --overlay (default 10)")
    p.add_argument("--preview", type=Path, default=None,
                   help="also write a contact sheet PNG of 8 evenly spaced frames with their masks")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..atomic import atomic_dir
    from ..data.masks import write_mask
    from ..hub import load_tracker, model_card_of, resolve_device
    from ..pipeline import HQTrackPipeline
    from ..precision import resolve_precision
    from ..refine import build_refiner
    from ..render import check_output_suffix
    from ..tracking import track_video

    options = {"threshold": args.refiner_threshold}
    if args.refiner in ("hqsam", "sam"):
        options.update(box_margin=args.refiner_box_margin, multimask=not args.refiner_single_mask,
                       hq_token_only=args.refiner_hq_token_only)
    elif args.refiner_box_margin or args.refiner_single_mask or args.refiner_hq_token_only:
        raise ValueError(
            "--refiner-box-margin / --refiner-single-mask / --refiner-hq-token-only need --refiner hqsam|sam")
    if args.overlay is not None:
        check_output_suffix(args.overlay, (".mp4", ".gif"), "--overlay")
    if args.preview is not None:
        check_output_suffix(args.preview, (".png",), "--preview")
    frames, mask, stems = check_inputs(args)
    card = model_card_of(args.model, args.checkpoint)  # the weights file was checked by check_inputs
    if args.refiner is None:
        args.refiner = card.preferred_refiner if card is not None else "none"
    if args.precision is None:
        args.precision = card.preferred_precision if card is not None else "auto"
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    refiner = build_refiner(args.refiner, checkpoint=args.refiner_checkpoint, model_type=args.refiner_model,
                            device=device, precision=precision, **options)
    if mask is None:
        from ..refine.prompts import labels_from_boxes

        _, first_image = next(iter(frames))
        mask = labels_from_boxes(first_image, args.box, refiner=refiner)
        if not np.any(mask):
            raise ValueError(f"the box prompt(s) {args.box} gave an empty first mask")
    tracker, info = load_tracker(args.model, args.checkpoint, device=device, memory=args.memory or "auto",
                                 short_edge="auto" if args.short_edge is None else args.short_edge,
                                 precision=precision, flip="auto" if args.flip is None else args.flip)
    refined = "none" if refiner is None else args.refiner
    if args.refiner in ("hqsam", "sam"):
        refined += f" ({args.refiner_model}, precision {precision.name})"
    if card is not None and args.refiner == card.preferred_refiner:
        refined += " (model card default)"
    print(f"hqtrack track: model {info}, refiner {refined}", file=sys.stderr)
    pipeline = HQTrackPipeline(tracker, refiner, memory_write=tracker.policy.write)

    from contextlib import ExitStack

    from ..render import OverlayVideoWriter, preview_indices, write_contact_sheet

    total = len(frames) if args.max_frames is None else min(len(frames), args.max_frames)
    picks, shown = set(preview_indices(total)), []
    written = 0
    with ExitStack() as outputs:
        stage = outputs.enter_context(atomic_dir(args.out, replace_stale=args.overwrite))
        video = outputs.enter_context(OverlayVideoWriter(args.overlay, args.overlay_fps)) if args.overlay else None
        for frame in track_video(pipeline, frames, {stems[0]: mask}, max_frames=args.max_frames, progress=True):
            write_mask(stage / f"{frame.stem}.png", frame.labels)
            if video is not None:
                video.add(frame.image, frame.labels)
            if args.preview is not None and frame.index in picks:
                shown.append(frame)
            written += 1
        if args.preview is not None:
            write_contact_sheet(args.preview, [f.image for f in shown], [f.labels for f in shown],
                                [f"frame {f.stem}" for f in shown])
    print(f"hqtrack track: wrote {written} masks to {args.out}", file=sys.stderr)
    if args.overlay is not None:
        print(f"hqtrack track: wrote the overlay video {args.overlay}", file=sys.stderr)
    if args.preview is not None:
        print(f"hqtrack track: wrote the preview {args.preview}", file=sys.stderr)
    return 0


def check_inputs(args: argparse.Namespace):
    """Everything about the input that can be checked before a model loads. Returns ``(frames, first mask or
    None for box prompts, stems this run writes)``; raises ValueError / OSError naming the problem and the fix."""
    from ..data.frames import open_frames
    from ..data.masks import read_prompt_mask
    from ..validate import (MIN_SHORT_EDGE, check_device, check_long_run, check_output_folder,
                            check_output_writable, check_preset_matches, check_weights_file)

    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames {args.max_frames}: give at least 1 (or leave it out for the whole video)")
    if args.short_edge is not None and args.short_edge < MIN_SHORT_EDGE:
        raise ValueError(f"--short-edge {args.short_edge} is too small: the network needs at least "
                         f"{MIN_SHORT_EDGE} pixels (240 runs the teaching model at its training size)")
    if args.refiner in ("hqsam", "sam") and args.refiner_checkpoint is None:
        raise ValueError(f"--refiner {args.refiner} needs --refiner-checkpoint FILE.pth (e.g. sam_hq_vit_tiny.pth "
                         "from SysCV/sam-hq); without weights it would segment noise. No weights needed: "
                         "--refiner classical")
    check_device(args.device)
    if args.checkpoint is not None and str(args.checkpoint).lower() != "none":
        check_weights_file(args.checkpoint)
        check_preset_matches(args.model, args.checkpoint)
    if args.refiner_checkpoint is not None and args.refiner in ("hqsam", "sam"):
        check_weights_file(args.refiner_checkpoint, "refiner checkpoint")
    check_output_folder(args.out, args.input)
    check_output_writable(args.out)
    frames = open_frames(args.input)
    stems = frames.stems[:args.max_frames] if args.max_frames is not None else frames.stems
    if args.out.is_dir() and not args.overwrite:
        written = set(stems)
        stale = sorted(p.name for p in args.out.iterdir()
                       if p.suffix.lower() == ".png" and p.is_file() and p.stem not in written)
        if stale:
            raise ValueError(f"--out {args.out} holds {len(stale)} mask(s) this run would not write (e.g. "
                             f"{stale[0]}, from an earlier run): add --overwrite to replace them, or choose "
                             "another folder")
    from ..hub import card_memory, model_card_of

    memory = args.memory or card_memory(model_card_of(args.model, args.checkpoint))  # as load_tracker resolves it
    check_long_run(len(stems), frames.size, memory, args.out)
    mask = read_prompt_mask(args.mask, frames.size) if args.mask is not None else None
    return frames, mask, stems
