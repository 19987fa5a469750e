"""Atomic file writes: nothing half-written is ever left at the destination.

``with atomic_path(dest) as tmp:`` gives a temporary path in the destination's folder; write the file there
(with any library: PIL, torch.save, safetensors...). On success it replaces ``dest`` in one ``os.replace``;
on any error the temporary file is removed and ``dest`` is untouched.
``with atomic_dir(folder) as stage:`` does the same for a folder of outputs (the masks of ``hqtrack track``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; move it onto ``dest`` when the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes_atomic(dest: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``dest`` atomically; returns ``dest`` as a Path."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return Path(dest)


@contextmanager
def atomic_dir(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty staging folder next to ``dest``; when the block succeeds its files land in ``dest``.

    A run that fails (an exception, Ctrl-C) leaves ``dest`` as it was: the staging folder is removed. On success,
    if ``dest`` does not exist the staging folder becomes it in one ``os.replace``; otherwise each staged file
    replaces its namesake in ``dest`` (other files there are kept). Only files at the top of the folder are moved.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"{dest} exists and is not a folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = dest.parent / f".{dest.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    stage.mkdir()  # (not mkdtemp: its 0700 mode would become the output folder's)
    try:
        yield stage
        if not dest.exists():
            os.replace(stage, dest)
        else:
            for item in sorted(stage.iterdir()):
                os.replace(item, dest / item.name)
    finally:
        if stage.exists():
            shutil.rmtree(stage)
