"""The tracker options shared by ``hqtrack track`` and ``hqtrack vot`` (declared in
:mod:`hqtrack_core.commands.parsers.tracker_options`, their choices the registries' names) and the one way they become
an :class:`~hqtrack_core.api.InferenceConfig`.

Not a sub-command (``hqtrack_core.cli.COMMANDS`` does not list it): ``check_tracker_options(args)`` checks what can be
checked before any model loads (weights files are read for their header only), ``tracker_config(args)`` is the
config (the model card fills what the options leave open), and ``build_pipeline(config, prog)`` loads the networks
once (:func:`~hqtrack_core.api.build_tracker`) and prints the one-line description of what runs.
"""

from __future__ import annotations

import argparse
import sys

from ..api import InferenceConfig, build_tracker
from ..pipeline import HQTrackPipeline
from ..model.checkpoint import check_preset_matches
from ..validate import MIN_SHORT_EDGE, check_device, check_weights_file


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
