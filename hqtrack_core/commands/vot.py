"""``hqtrack vot``: the workspace writer and the TraX tracker ``run`` (the parser and the command's description:
``hqtrack_core.commands.parsers.vot``)."""

from __future__ import annotations

import argparse
import copy
import os
import shlex
import sys
import warnings
from pathlib import Path

from ..vot.server import PROG, serve
from ..vot.workspace import DEFAULT_TIMEOUT, TrackerEntry, check_workspace_folder, workspace_files, write_workspace
from .errors import describe_error
from .parsers.tracker_options import add_tracker_options
from .parsers.vot import PRESETS
from .tracker_options import build_pipeline, check_tracker_options, tracker_config

_PATH_OPTIONS = ("checkpoint", "refiner_checkpoint")


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
