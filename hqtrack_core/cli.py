"""The ``hqtrack`` command. Each sub-command lives in ``hqtrack_core/commands/<name>.py`` and exposes
``add_parser(subparsers)``, which registers its parser and sets ``func`` (called with the parsed args,
returning an exit code)."""

from __future__ import annotations

import argparse
import importlib
import sys

# Sub-command modules, in the order ``hqtrack --help`` lists them.
COMMANDS = ("track", "eval", "train", "ablate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hqtrack", description="HQTrack: track anything in high quality.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"hqtrack_core.commands.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, OSError) as err:
        # Bad input: one clear line, no traceback.
        print(f"hqtrack {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
