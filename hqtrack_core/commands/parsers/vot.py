"""``hqtrack vot``: run hqtrack inside the official VOT toolkit (vot-toolkit 0.9.0, VOTS multi-object masks).

    hqtrack vot workspace DIR [--stack vots2023] [--sequences LOCAL_VOTS_DIR] [--entry NAME[=OPTIONS] ...]
                              [--timeout S] [--force] [tracker options]
    vot evaluate --workspace DIR hqtrack      # the toolkit runs `hqtrack vot run [tracker options]` per sequence
    vot analysis --workspace DIR hqtrack      # with local sequences (ground truth): the VOTS measures
    vot pack --workspace DIR hqtrack          # the zip a VOTS challenge server takes

``workspace`` writes config.yaml and trackers.ini (tracker ``hqtrack`` with the tracker options given here; one
more tracker ``hqtrack_NAME`` per ``--entry``: the same options plus OPTIONS, or a preset NAME: ``vmos`` = VMOS
alone, ``--refiner none``; ``classical`` = VMOS + the weight-free refiner). ``--sequences`` uses a local folder of
VOTS-format sequences (never written) and a local copy of the stack that scores them; without it the toolkit
downloads the stack's dataset on the first ``vot evaluate``. The tracker options are those of ``hqtrack track``
(defaults from the checkpoint's model card) and are checked here, before the toolkit ever starts the tracker;
relative paths are made absolute (the toolkit runs trackers in a temporary folder).

``run`` is the TraX tracker the toolkit starts (not for interactive use): it loads the networks once per process,
on the first request, and reports an error that stops it (bad checkpoint, bad option) to the toolkit as the
session's end reason.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ...vot.server import refuse_session
from .. import SUMMARIES
from .tracker_options import add_tracker_options

# `--entry NAME` presets: the tracker options each adds to the base tracker's
PRESETS = {"vmos": ("--refiner", "none"), "classical": ("--refiner", "classical")}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("vot", help=SUMMARIES["vot"],
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="vot_command", required=True)

    ws = actions.add_parser("workspace", help="write a VOT workspace that runs hqtrack",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ws.add_argument("directory", type=Path, help="workspace folder (new or empty; --force to reuse one)")
    ws.add_argument("--stack", default="vots2023", help="vot-toolkit VOTS stack (default vots2023)")
    ws.add_argument("--sequences", type=Path, default=None,
                    help="local folder of VOTS-format sequences (SEQ/sequence, color/, groundtruth_<obj>.txt) "
                         "instead of the stack's download")
    ws.add_argument("--entry", action="append", default=[], metavar="NAME[=OPTIONS]",
                    help="one more tracker hqtrack_NAME: the tracker options plus OPTIONS (quoted), or a preset "
                         f"NAME ({', '.join(PRESETS)}); repeat for more")
    ws.add_argument("--timeout", type=int, default=None,
                    help="seconds the toolkit waits for each reply, the first including model loading (default 600)")
    ws.add_argument("--force", action="store_true",
                    help="DIR may hold files: replace the workspace files there (results are kept)")
    add_tracker_options(ws)
    ws.set_defaults(handler="run_workspace")

    run = actions.add_parser("run", help="the TraX tracker the toolkit starts (see trackers.ini)",
                             description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_tracker_options(run)
    run.error = _run_parse_error(run)  # (started by the toolkit: a usage error must reach it too)
    parse_known = run.parse_known_args

    def parse_known_args(args=None, namespace=None):  # unknown options: the same path, not the top parser's
        namespace, extras = parse_known(args, namespace)
        if extras:
            run.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    run.parse_known_args = parse_known_args
    run.set_defaults(handler="run_tracker")


def _run_parse_error(parser):
    def error(message: str):
        reason = f"{parser.prog}: error: {message}"
        if os.environ.get("TRAX"):  # started by the toolkit (TraxTrackerRuntime sets it)
            refuse_session(reason)
        parser.exit(2, reason + "\n")
    return error
