"""The tracker options shared by ``hqtrack track`` and ``hqtrack vot`` (model, checkpoint, refiner, memory, short
edge, flip, device, precision) and the one way they become an :class:`~hqtrack_core.api.InferenceConfig`.

Not a sub-command (``hqtrack_core.cli.COMMANDS`` does not list it): ``add_tracker_options(parser)`` registers the
options (their choices read from the registries: memory policies, refiners, precisions),
``check_tracker_options(args)`` checks what can be checked before any model loads (weights files are read for their
header only), ``tracker_config(args)`` is the config (the model card fills what the options leave open), and
``build_pipeline(config, prog)`` loads the networks once (:func:`~hqtrack_core.api.build_tracker`) and prints the
one-line description of what runs.
"""

from __future__ import annotations

import argparse
import sys

from ..api import InferenceConfig, build_tracker
from ..inference.memory import MEMORY_PRESETS
from ..pipeline import HQTrackPipeline
from ..precision import PRECISIONS
from ..refine.build import REFINER_KINDS
from ..model.checkpoint import check_preset_matches
from ..validate import MIN_SHORT_EDGE, check_device, check_weights_file

# fp16 runs on GPUs only (the tracker refuses it on a CPU): the command line offers the others.
CLI_PRECISIONS = tuple(p for p in PRECISIONS if p != "fp16")


def add_tracker_options(p: argparse.ArgumentParser) -> None:
    """Register the tracker options on ``p`` (defaults ``None`` mean: the model card's choice)."""
    p.add_argument("--model", default=None,
                   help="model preset name (default: the committed teaching model, hqtrack_teach)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint path: ours (.safetensors) or official aot-benchmark/HQTrack (.pth); "
                        "'none' = random weights (mechanics only)")
    p.add_argument("--refiner", choices=REFINER_KINDS, default=None,
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
    p.add_argument("--memory", choices=tuple(MEMORY_PRESETS), default=None,
                   help=f"memory policy preset ({'|'.join(MEMORY_PRESETS)}); default: the model card's preferred "
                        "policy ('released' without a card)")
    p.add_argument("--short-edge", type=int, default=None,
                   help="run the network at this short edge (masks are written at the input size); "
                        "default: the model card's preferred short edge (the input size without a card)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="test-time flip: also run each frame mirrored and average the two (twice the compute); "
                        "default: the model card's preference (off without a card)")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda|cuda:N|mps")
    p.add_argument("--precision", choices=CLI_PRECISIONS, default=None,
                   help="network precision (default: the model card's preferred precision; auto without a card): "
                        "auto = bf16 where the CPU has AMX/AVX512-BF16 or the GPU "
                        "supports it, else fp32; fp32 = exact; masks are the same format either way")


def check_tracker_options(args: argparse.Namespace) -> None:
    """Everything about the tracker options that can be checked before a model loads; raises ValueError / OSError
    naming the problem and the fix."""
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


def tracker_config(args: argparse.Namespace) -> InferenceConfig:
    """The tracker options as an :class:`~hqtrack_core.api.InferenceConfig`: the options given, the model card's
    choice for each one left out. Call :func:`check_tracker_options` first (it checked the weights file)."""
    given = {"short_edge": args.short_edge, "memory": args.memory, "precision": args.precision, "flip": args.flip,
             "refiner": args.refiner}
    return InferenceConfig.from_card(
        args.model, args.checkpoint, **{name: value for name, value in given.items() if value is not None},
        refiner_checkpoint=args.refiner_checkpoint, refiner_model=args.refiner_model,
        threshold=args.refiner_threshold, box_margin=args.refiner_box_margin,
        multimask=not args.refiner_single_mask, hq_token_only=args.refiner_hq_token_only, device=args.device)


def build_pipeline(config: InferenceConfig, prog: str) -> HQTrackPipeline:
    """The networks of ``config``, loaded once (:func:`~hqtrack_core.api.build_tracker`); prints
    ``<prog>: model ..., refiner ...`` on stderr."""
    pipeline = build_tracker(config)
    print(f"{prog}: {pipeline.description}", file=sys.stderr)
    return pipeline
