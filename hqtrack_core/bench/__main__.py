"""Run benchmarks and merge their figures into figures/bench.json: ``python -m hqtrack_core.bench NAME|all``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import BENCHMARKS
from .hqtrack_vmos import ENV_OFFICIAL, official_path
from .record import bench_path, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hqtrack_core.bench")
    parser.add_argument("names", nargs="+", choices=(*BENCHMARKS, "all"))
    parser.add_argument("--official", metavar="DIR", default=None,
                        help="CPU-patched copy of the official HQTrack code for hqtrack_vmos (see "
                             "data/fixtures/README.md); default $HQTRACK_OFFICIAL, else that side is skipped")
    args = parser.parse_args(argv)
    if args.official is not None:
        os.environ[ENV_OFFICIAL] = str(official_path(args.official))  # a wrong folder fails here, before any run
    names = BENCHMARKS if "all" in args.names else tuple(args.names)
    for name in names:
        print(f"== benchmark {name}", flush=True)
        figures = importlib.import_module(f"hqtrack_core.bench.{name}").run()
        report(figures)
    print(f"figures merged into {bench_path()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
