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
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from ..api import InferenceConfig, track_video
from ..atomic import atomic_dir, run_lock
from ..data.frames import open_frames
from ..data.masks import read_prompt_mask, write_mask
from ..inference.memory import memory_policy
from ..refine.boxes import parse_box
from ..refine.prompts import labels_from_boxes
from ..render import OverlayVideoWriter, check_output_suffix, preview_indices, write_contact_sheet
from ..validate import check_file_writable, check_long_run, check_output_folder, check_output_writable
from . import SUMMARIES
from .tracker_options import add_tracker_options, build_pipeline, check_tracker_options, tracker_config


def _parse_box(text: str) -> tuple[int, int, int, int]:
    try:
        return tuple(int(round(v)) for v in parse_box(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("track", help=SUMMARIES["track"],
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", type=Path, help="folder of frames or a video file")
    prompt = p.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--mask", type=Path, help="first-frame mask PNG (indexed ids, or binary 0/255)")
    prompt.add_argument("--box", type=_parse_box, action="append",
                        help="first-frame box x0,y0,x1,y1; repeat for more objects (ids 1, 2, ... in order)")
    p.add_argument("--out", type=Path, required=True, help="output folder for per-frame indexed PNGs")
    p.add_argument("--overwrite", action="store_true",
                   help="OUT_DIR may hold masks of an earlier run: they are deleted once this run's masks are in")
    add_tracker_options(p)
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--overlay", type=Path, default=None,
                   help="also write the masks drawn over the frames as a video (OUT.mp4 or OUT.gif)")
    p.add_argument("--overlay-fps", type=float, default=10.0, help="frame rate of --overlay (default 10)")
    p.add_argument("--preview", type=Path, default=None,
                   help="also write a contact sheet PNG of 8 evenly spaced frames with their masks")
    p.set_defaults(func=run)


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
