"""Run benchmarks and merge their figures into figures/bench.json: ``python -m hqtrack_core.bench NAME|all``."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from . import BENCHMARKS
from .record import bench_path, update_bench


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hqtrack_core.bench")
    parser.add_argument("names", nargs="+", choices=(*BENCHMARKS, "all"))
    args = parser.parse_args(argv)
    names = BENCHMARKS if "all" in args.names else tuple(args.names)
    for name in names:
        print(f"== benchmark {name}", flush=True)
        figures = importlib.import_module(f"hqtrack_core.bench.{name}").run()
        update_bench(figures)
        print(json.dumps(figures, indent=2), flush=True)
    print(f"figures merged into {bench_path()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
