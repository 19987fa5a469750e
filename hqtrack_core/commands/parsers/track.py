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
from pathlib import Path

from ...data.boxes import parse_box
from .. import SUMMARIES
from .tracker_options import add_tracker_options


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
    p.set_defaults(handler="run")
