"""The tracker options shared by ``hqtrack track`` and ``hqtrack vot`` (model, checkpoint, refiner, memory, short
edge, flip, device, precision) and the one way they become a ready :class:`~hqtrack_core.pipeline.HQTrackPipeline`.

Not a sub-command (``hqtrack_core.cli.COMMANDS`` does not list it): ``add_tracker_options(parser)`` registers the
options, ``check_tracker_options(args)`` checks what can be checked before any model loads (weights files are read
for their header only), ``build_pipeline(args, prog)`` fills the defaults from the checkpoint's model card, loads
the networks once and prints the one-line description of what runs.
"""

from __future__ import annotations

import argparse
import sys

REFINERS = ("none", "hqsam", "sam", "classical")


def add_tracker_options(p: argparse.ArgumentParser) -> None:
    """Register the tracker options on ``p`` (defaults ``None`` mean: the model card's choice)."""
    p.add_argument("--model", default=None,
                   help="model preset name (default: the committed teaching model, hqtrack_teach)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint path: ours (.safetensors) or official aot-benchmark/HQTrack (.pth); "
                        "'none' = random weights (mechanics only)")
    p.add_argument("--refiner", choices=REFINERS, default=None,
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


def check_tracker_options(args: argparse.Namespace) -> None:
    """Everything about the tracker options that can be checked before a model loads; raises ValueError / OSError
    naming the problem and the fix."""
    from ..validate import MIN_SHORT_EDGE, check_device, check_preset_matches, check_weights_file

    if args.refiner not in ("hqsam", "sam") and (args.refiner_box_margin or args.refiner_single_mask
                                                 or args.refiner_hq_token_only):
        raise ValueError(
            "--refiner-box-margin / --refiner-single-mask / --refiner-hq-token-only need --refiner hqsam|sam")
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


def build_pipeline(args: argparse.Namespace, prog: str):
    """The tracker options as a ready :class:`~hqtrack_core.pipeline.HQTrackPipeline` (VMOS + refiner).

    Fills ``args.refiner`` and ``args.precision`` from the model card when not given, loads the networks once and
    prints ``<prog>: model ..., refiner ...`` on stderr. Call :func:`check_tracker_options` first.
    """
    from ..hub import load_tracker, model_card_of, resolve_device
    from ..pipeline import HQTrackPipeline
    from ..precision import resolve_precision
    from ..refine import build_refiner

    options = {"threshold": args.refiner_threshold}
    if args.refiner in ("hqsam", "sam"):
        options.update(box_margin=args.refiner_box_margin, multimask=not args.refiner_single_mask,
                       hq_token_only=args.refiner_hq_token_only)
    card = model_card_of(args.model, args.checkpoint)  # the weights file was checked by check_tracker_options
    if args.refiner is None:
        args.refiner = card.preferred_refiner if card is not None else "none"
    if args.precision is None:
        args.precision = card.preferred_precision if card is not None else "auto"
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    refiner = build_refiner(args.refiner, checkpoint=args.refiner_checkpoint, model_type=args.refiner_model,
                            device=device, precision=precision, **options)
    tracker, info = load_tracker(args.model, args.checkpoint, device=device, memory=args.memory or "auto",
                                 short_edge="auto" if args.short_edge is None else args.short_edge,
                                 precision=precision, flip="auto" if args.flip is None else args.flip)
    refined = "none" if refiner is None else args.refiner
    if args.refiner in ("hqsam", "sam"):
        refined += f" ({args.refiner_model}, precision {precision.name})"
    if card is not None and args.refiner == card.preferred_refiner:
        refined += " (model card default)"
    print(f"{prog}: model {info}, refiner {refined}", file=sys.stderr)
    return HQTrackPipeline(tracker, refiner, memory_write=tracker.policy.write)
