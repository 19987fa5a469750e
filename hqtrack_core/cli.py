"""The ``hqtrack`` command. Each sub-command has a parser, ``hqtrack_core/commands/parsers/<name>.py``
(``add_parser(subparsers)``; argparse and option names only, no torch), and its work,
``hqtrack_core/commands/<name>.py``: the function the parser names (``handler``) is called with the parsed args and
returns an exit code. The work's module (torch, the networks' code: seconds) is imported once the arguments have
parsed, so ``--help`` and a usage error answer at once.

Failures end in one line on stderr, ``hqtrack <cmd>: error: ...``, and exit code 2 (bad input, a missing or
damaged file, a full disk, a read-only folder); Ctrl-C, SIGTERM and SIGHUP end in one line and exit code
128 + the signal number, after the staging folders are removed. ``--debug`` shows the traceback instead.
Warnings are printed as one line, ``hqtrack <cmd>: warning: ...``.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import warnings
from collections.abc import Callable

from .commands import SUMMARIES
from .commands.errors import describe_error
from .interrupts import exit_code, termination_as_exception

# Sub-command modules, in the order ``hqtrack --help`` lists them.
COMMANDS = tuple(SUMMARIES)

# argparse takes "-5,0,100,80" for an option name; such values are glued to their option ("--box=-5,...").
_NEGATIVE_VALUE = re.compile(r"^-\d*\.?\d+([eE][-+]?\d+)?(,.*)?$")

class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``hqtrack track: error: ...``) pointing to ``--help``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``hqtrack`` parser. With ``command`` (the one being run) only that command's parser module is imported:
    the others are listed by their one-line help alone."""
    parser = OneLineParser(prog="hqtrack", description="HQTrack: track anything in high quality.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        if command is None or name == command:
            importlib.import_module(f"hqtrack_core.commands.parsers.{name}").add_parser(subparsers)
        else:
            subparsers.add_parser(name, help=SUMMARIES[name])
    return parser


def handler_of(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    """The function that runs the parsed command: ``args.handler`` of ``hqtrack_core.commands.<command>``, whose
    module (torch, the networks' code) is imported here, after parsing."""
    return getattr(importlib.import_module(f"hqtrack_core.commands.{args.command}"), args.handler)


def command_of(argv: list[str]) -> str:
    """The sub-command ``argv`` runs (its first word that is not an option), ``""`` when it names none."""
    words = [token for token in argv if not token.startswith("-")]
    return words[0] if words else ""


def glue_negative_values(argv: list[str]) -> list[str]:
    """``["--box", "-5,0,9,9"]`` -> ``["--box=-5,0,9,9"]`` (argparse would say "expected one argument")."""
    out: list[str] = []
    for token in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and _NEGATIVE_VALUE.match(token):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = glue_negative_values(list(sys.argv[1:] if argv is None else argv))
    args = build_parser(command_of(argv)).parse_args(argv)
    prog = f"hqtrack {args.command}"
    run = handler_of(args)

    def one_line_warning(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings(), termination_as_exception():
        if not args.debug:
            warnings.showwarning = one_line_warning
        try:
            return int(run(args) or 0)
        except KeyboardInterrupt as interrupt:  # Ctrl-C, SIGTERM, SIGHUP: finally blocks have cleaned up
            if args.debug:
                raise
            name = getattr(interrupt, "name", "SIGINT")
            print(f"{prog}: interrupted by {name}; nothing half-written was left", file=sys.stderr)
            return exit_code(interrupt)
        except (ValueError, KeyError, OSError) as err:
            if args.debug:
                raise
            # Bad input: one clear line, no traceback.
            print(f"{prog}: error: {describe_error(err)}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
