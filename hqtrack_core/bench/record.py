"""``figures/bench.json``: one flat JSON object of named benchmark figures, merged by every benchmark.

Each benchmark writes only its own keys (see ``hqtrack_core/bench/__init__.py`` for the key list); the
file is rewritten atomically so an interrupted run never leaves it half-written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..atomic import write_json_atomic
from ..paths import committed_figures_dir


def bench_path() -> Path:
    return committed_figures_dir() / "bench.json"


def read_bench(path: Path | None = None) -> dict[str, Any]:
    path = path or bench_path()
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def update_bench(values: dict[str, Any], path: Path | None = None) -> dict[str, Any]:
    """Merge ``values`` into the bench file (atomic replace) and return the merged content."""
    path = path or bench_path()
    merged = read_bench(path)
    merged.update(values)
    write_json_atomic(path, dict(sorted(merged.items())))
    return merged
