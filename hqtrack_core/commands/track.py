"""``hqtrack track``: the run (the parser and the command's description: ``hqtrack_core.commands.parsers.track``).

The options become an InferenceConfig (the model card fills the rest), every input is checked before a model loads,
the networks load once, and the one video loop stages the masks, which land in OUT_DIR when the video is done.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack

import numpy as np

from ..api import InferenceConfig, track_video
from ..atomic import atomic_dir, run_lock
from ..data.frames import open_frames
from ..data.masks import read_prompt_mask, write_mask
from ..inference.memory import memory_policy
from ..refine.prompts import labels_from_boxes
from ..render import OverlayVideoWriter, check_output_suffix, preview_indices, write_contact_sheet
from ..validate import check_file_writable, check_long_run, check_output_folder, check_output_writable
from .tracker_options import build_pipeline, check_tracker_options, tracker_config


def run(args: argparse.Namespace) -> int:
    """parse -> config -> build -> track_video: the options become an InferenceConfig (the model card fills the
    rest), the networks load once, and the one video loop writes the masks."""
    if args.overlay is not None:
        check_output_suffix(args.overlay, (".mp4", ".gif"), "--overlay")
    if args.preview is not None:
        check_output_suffix(args.preview, (".png",), "--preview")
    frames, mask, stems, config = check_inputs(args)
    pipeline = build_pipeline(config, "hqtrack track")
    if mask is None:
        _, first_image = next(iter(frames))
        mask = labels_from_boxes(first_image, args.box, refiner=pipeline.refiner)
        if not np.any(mask):
            raise ValueError(f"the box prompt(s) {args.box} gave an empty first mask")

    total = len(frames) if args.max_frames is None else min(len(frames), args.max_frames)
    picks, shown = set(preview_indices(total)), []
    written = 0
    started = time.perf_counter()
    with ExitStack() as outputs:
        outputs.enter_context(run_lock(args.out, "hqtrack track"))  # a second run into --out fails here, at once
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
        elapsed = time.perf_counter() - started  # reading, tracking and writing the masks, as the user waits
    print(f"hqtrack track: wrote {written} masks to {args.out}", file=sys.stderr)
    if args.overlay is not None:
        print(f"hqtrack track: wrote the overlay video {args.overlay}", file=sys.stderr)
    if args.preview is not None:
        print(f"hqtrack track: wrote the preview {args.preview}", file=sys.stderr)
    print(f"hqtrack track: {written} frames in {elapsed:.1f} s, {written / max(elapsed, 1e-9):.2f} frames/s",
          file=sys.stderr)
    return 0


def check_inputs(args: argparse.Namespace) -> tuple[object, np.ndarray | None, list[str], InferenceConfig]:
    """Everything about the input that can be checked before a model loads. Returns ``(frames, first mask or
    None for box prompts, stems this run writes, the tracker config)``; raises ValueError / OSError naming the
    problem and the fix."""
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError(f"--max-frames {args.max_frames}: give at least 1 (or leave it out for the whole video)")
    check_tracker_options(args)
    check_output_folder(args.out, args.input)
    check_output_writable(args.out)
    for option, path in (("--overlay", args.overlay), ("--preview", args.preview)):
        if path is not None:
            check_file_writable(path, option)
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
    config = tracker_config(args)
    check_long_run(len(stems), frames.size, config.memory, args.out, memory_policy(config.memory))
    mask = read_prompt_mask(args.mask, frames.size) if args.mask is not None else None
    return frames, mask, stems, config
