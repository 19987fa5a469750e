"""``python -m hqtrack_core.training`` = ``hqtrack train`` (the form ``torchrun -m`` needs)."""

import argparse
import sys

from ..commands.parsers.train import configure
from ..commands.train import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hqtrack_core.training", description="train the VMOS")
    configure(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f"hqtrack train: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
