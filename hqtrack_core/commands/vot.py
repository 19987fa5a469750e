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
import copy
import os
import shlex
import sys
import warnings
from pathlib import Path

from ..vot.server import PROG, refuse_session, serve
from ..vot.workspace import DEFAULT_TIMEOUT, TrackerEntry, check_workspace_folder, workspace_files, write_workspace
from . import SUMMARIES
from .errors import describe_error
from .tracker_options import add_tracker_options, build_pipeline, check_tracker_options, tracker_config

PRESETS = {"vmos": ("--refiner", "none"), "classical": ("--refiner", "classical")}
_PATH_OPTIONS = ("checkpoint", "refiner_checkpoint")


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
    ws.set_defaults(func=run_workspace)

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
    run.set_defaults(func=run_tracker)


def _run_parse_error(parser):
    def error(message: str):
        reason = f"{parser.prog}: error: {message}"
        if os.environ.get("TRAX"):  # started by the toolkit (TraxTrackerRuntime sets it)
            refuse_session(reason)
        parser.exit(2, reason + "\n")
    return error


def _options_parser() -> argparse.ArgumentParser:
    """The tracker options alone, for ``--entry`` OPTIONS (errors raise ValueError)."""

    class Raising(argparse.ArgumentParser):
        def error(self, message):
            raise ValueError(message)

    parser = Raising(prog="--entry", add_help=False)
    add_tracker_options(parser)
    return parser


def tracker_argv(args: argparse.Namespace) -> list[str]:
    """The tracker options of ``args`` that differ from their defaults, as ``hqtrack vot run`` arguments; paths
    absolute."""
    argv = []
    for action in _options_parser()._actions:
        value = getattr(args, action.dest, None)
        if not action.option_strings or value == action.default:
            continue
        option = action.option_strings[0]
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(option if value else f"--no-{option[2:]}")
        elif action.nargs == 0:  # store_true
            argv.append(option)
        else:
            if action.dest in _PATH_OPTIONS and str(value).lower() != "none":
                value = os.path.abspath(Path(value).expanduser())  # (symlinks kept)
            argv.append(f"{option}={value}")
    return argv


def entry_args(base: argparse.Namespace, spec: str) -> tuple[str, argparse.Namespace]:
    """``NAME=OPTIONS`` or a preset ``NAME`` on top of the base options -> (tracker identifier, options)."""
    name, sep, options = spec.partition("=")
    name = name.strip()
    if not sep:
        if name not in PRESETS:
            raise ValueError(f"--entry {spec}: not a preset ({', '.join(PRESETS)}); give NAME=OPTIONS, e.g. "
                             f"--entry \"hqsam=--refiner hqsam --refiner-checkpoint sam_hq_vit_h.pth\"")
        argv = list(PRESETS[name])
    else:
        try:
            argv = shlex.split(options)
        except ValueError as err:
            raise ValueError(f"--entry {spec}: {err}") from None
    try:
        args = _options_parser().parse_args(argv, namespace=copy.copy(base))
    except ValueError as err:
        raise ValueError(f"--entry {spec}: {err}") from None
    return f"hqtrack_{name}", args


def run_workspace(args: argparse.Namespace) -> int:
    check_workspace_folder(args.directory, args.force)
    if args.timeout is not None and args.timeout < 1:
        raise ValueError(f"--timeout {args.timeout}: give at least 1 second")
    if args.sequences is not None and not args.sequences.is_dir():
        raise ValueError(f"--sequences {args.sequences}: no such folder (a folder of VOTS-format sequences)")
    configurations = [("hqtrack", args)] + [entry_args(args, spec) for spec in args.entry]
    names = [name for name, _ in configurations]
    if len(set(names)) != len(names):
        raise ValueError(f"--entry: tracker names repeat ({', '.join(names)})")
    entries = []
    for (name, options), spec in zip(configurations, [None, *args.entry]):
        try:
            check_tracker_options(options)
        except ValueError as err:
            raise ValueError(f"--entry {spec}: {err}" if spec is not None else str(err)) from None
        argv = tracker_argv(options)
        entries.append(TrackerEntry(name, tuple(argv), f"{name}: {' '.join(argv) or 'model card defaults'}"))
    files = workspace_files(entries, stack=args.stack, sequences=args.sequences,
                            timeout=DEFAULT_TIMEOUT if args.timeout is None else args.timeout)
    replaced = write_workspace(args.directory, files, force=args.force)
    for path in replaced:
        warnings.warn(f"replaced {path}")
    for name in names:
        if (args.directory / "results" / name).is_dir():
            warnings.warn(f"{args.directory / 'results' / name} holds earlier results, which vot evaluate reuses: "
                          f"delete it or run vot evaluate --force")
    where = args.sequences if args.sequences is not None else f"{args.stack}'s dataset (downloaded on first use)"
    print(f"hqtrack vot: wrote the workspace {args.directory} (stack {args.stack}, sequences {where}), "
          f"trackers {', '.join(names)}", file=sys.stderr)
    print(f"next: vot evaluate --workspace {shlex.quote(str(args.directory))} {' '.join(names)}", file=sys.stderr)
    return 0


def run_tracker(args: argparse.Namespace) -> int:
    """parse -> config -> build (on the first request) -> the TraX loop."""
    def build():
        check_tracker_options(args)
        return build_pipeline(tracker_config(args), PROG)

    return serve(build, describe_error)
