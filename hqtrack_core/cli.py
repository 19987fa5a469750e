"""The ``hqtrack`` command. Each sub-command lives in ``hqtrack_core/commands/<name>.py`` and exposes
``add_parser(subparsers)``, which registers its parser and sets ``func`` (called with the parsed args,
returning an exit code).

Failures end in one line on stderr, ``hqtrack <cmd>: error: ...``, and exit code 2 (bad input, a missing or
damaged file, a full disk, a read-only folder); Ctrl-C, SIGTERM and SIGHUP end in one line and exit code
128 + the signal number, after the staging folders are removed. ``--debug`` shows the traceback instead.
Warnings are printed as one line, ``hqtrack <cmd>: warning: ...``.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import re
import sys
import warnings

# Sub-command modules, in the order ``hqtrack --help`` lists them.
COMMANDS = ("track", "eval", "train", "ablate", "average", "vot")

# argparse takes "-5,0,100,80" for an option name; such values are glued to their option ("--box=-5,...").
_NEGATIVE_VALUE = re.compile(r"^-\d*\.?\d+([eE][-+]?\d+)?(,.*)?$")

# errno -> what the user can do about it
_OS_ADVICE = {
    errno.ENOSPC: "the disk is full: free space or choose another --out (nothing was left half-written)",
    errno.EDQUOT: "the disk quota is exceeded: free space or choose another --out (nothing was left half-written)",
    errno.EROFS: "the file system is read-only: choose a writable --out",
    errno.EACCES: "permission denied or read-only: choose files you can read and an --out you can write",
    errno.EPERM: "operation not permitted: choose files you can read and an --out you can write",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``hqtrack track: error: ...``) pointing to ``--help``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="hqtrack", description="HQTrack: track anything in high quality.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"hqtrack_core.commands.{name}")
        module.add_parser(subparsers)
    return parser


def glue_negative_values(argv: list[str]) -> list[str]:
    """``["--box", "-5,0,9,9"]`` -> ``["--box=-5,0,9,9"]`` (argparse would say "expected one argument")."""
    out: list[str] = []
    for token in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and _NEGATIVE_VALUE.match(token):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def describe_error(err: BaseException) -> str:
    """One line for an error: the message, plus advice for the OS errors a user can fix."""
    if isinstance(err, OSError) and err.errno in _OS_ADVICE:
        where = f" ({err.filename})" if err.filename else ""
        return f"{_OS_ADVICE[err.errno]}{where}"
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        return err.args[0]  # (str(KeyError) would add quotes)
    return str(err)


def main(argv: list[str] | None = None) -> int:
    from .interrupts import exit_code, termination_as_exception

    argv = glue_negative_values(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    prog = f"hqtrack {args.command}"

    def one_line_warning(message, category, filename, lineno, file=None, line=None):
        print(f"{prog}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings(), termination_as_exception():
        if not args.debug:
            warnings.showwarning = one_line_warning
        try:
            return int(args.func(args) or 0)
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
