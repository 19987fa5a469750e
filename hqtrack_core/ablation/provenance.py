"""Where a row's numbers come from: checkpoint hashes, the code's commit, and the JSON encoding of its records."""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np

from ..paths import repo_root


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file, read once per process while the file is unchanged (a row hashes the same checkpoints for
    its records, its resume key and the baseline check)."""
    stat = os.stat(path)
    return _sha256_cached(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit() -> str | None:
    """``HEAD`` of the checkout (``+dirty`` when the package has uncommitted changes), or None outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root(), capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "hqtrack_core"], cwd=repo_root(),
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def json_default(value):
    """``json.dumps(default=...)`` for what a row record holds besides JSON types: numpy scalars, tuples, sets."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
