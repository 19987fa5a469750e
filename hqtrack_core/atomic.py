"""Atomic file writes: nothing half-written is ever left at the destination.

``with atomic_path(dest) as tmp:`` gives a temporary path in the destination's folder; write the file there
(with any library: PIL, torch.save, safetensors...). On success it replaces ``dest`` in one ``os.replace``;
on any error the temporary file is removed and ``dest`` is untouched. The file gets the permissions a plain
``open()`` would give it (``0666`` minus the umask), not ``mkstemp``'s private ``0600``.
``with atomic_dir(folder) as stage:`` does the same for a folder of outputs (the masks of ``hqtrack track``).

Staging folders are named ``.<name>.partial-<host>-<pid>-<random>``; one left by a run that was killed
(``kill -9``, power loss) is recognised by the next run into the same folder (same host, process gone) and
removed.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def current_umask() -> int:
    """The process umask (read without changing it where ``/proc`` allows)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; move it onto ``dest`` when the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        try:
            os.chmod(tmp, 0o666 & ~current_umask())
        except OSError:  # some network file systems refuse chmod; the file is still complete
            pass
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_bytes_atomic(dest: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``dest`` atomically; returns ``dest`` as a Path."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return Path(dest)


def _host() -> str:
    return socket.gethostname().replace("-", "_") or "host"


def _stage_prefix(dest: Path) -> str:
    return f".{dest.name}.partial-"


def _is_dead_stage(name: str, prefix: str) -> bool:
    """True when ``name`` is a staging folder of a process of this host that no longer runs."""
    parts = name[len(prefix):].split("-")
    host, pid = (parts[0], parts[1]) if len(parts) == 3 else (_host(), parts[0])  # (older names had no host)
    if host != _host() or not pid.isdigit():
        return False  # another machine's run (a shared / network folder): not ours to judge
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def remove_dead_stages(dest: str | os.PathLike) -> list[Path]:
    """Remove staging folders of ``dest`` left by killed runs (beside ``dest`` and inside it); returns them."""
    dest = Path(dest)
    prefix = _stage_prefix(dest)
    removed = []
    for folder in (dest.parent, dest):
        if not folder.is_dir():
            continue
        for item in folder.iterdir():
            if item.name.startswith(prefix) and item.is_dir() and _is_dead_stage(item.name, prefix):
                shutil.rmtree(item, ignore_errors=True)
                removed.append(item)
    return removed


def stage_parent(dest: Path) -> Path:
    """Beside ``dest`` (one rename publishes a new folder); inside an existing ``dest`` when its parent is not
    writable (``--out ~`` or a folder on a read-only mount's writable sub-folder)."""
    parent = dest.parent
    if dest.is_dir() and not os.access(parent, os.W_OK) and os.access(dest, os.W_OK):
        return dest
    return parent


@contextmanager
def atomic_dir(dest: str | os.PathLike, replace_stale: bool = False) -> Iterator[Path]:
    """Yield an empty staging folder next to ``dest``; when the block succeeds its files land in ``dest``.

    A run that fails (an exception, Ctrl-C, SIGTERM) leaves ``dest`` as it was: the staging folder is removed.
    On success, if ``dest`` does not exist the staging folder becomes it in one ``os.replace``; otherwise each
    staged file replaces its namesake in ``dest``, and with ``replace_stale`` the other ``.png`` files at the
    top of ``dest`` (masks of an earlier run) are then deleted; other files are kept. Only files at the top of
    the folder are moved. Staging folders of killed runs are removed first (a warning says so).
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"{dest} exists and is not a folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    for old in remove_dead_stages(dest):
        warnings.warn(f"removed {old}, the staging folder of an interrupted earlier run", stacklevel=3)
    stage = stage_parent(dest) / f"{_stage_prefix(dest)}{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    stage.mkdir()  # (not mkdtemp: its 0700 mode would become the output folder's)
    try:
        yield stage
        if not dest.exists():
            os.replace(stage, dest)
        else:
            staged = sorted(stage.iterdir())
            for item in staged:
                os.replace(item, dest / item.name)
            if replace_stale:
                names = {item.name for item in staged}
                for old in dest.iterdir():
                    if old.suffix.lower() == ".png" and old.is_file() and old.name not in names:
                        old.unlink()
    finally:
        if stage.exists():
            # never mask the error that got us here (a network drive may refuse to delete a file still open)
            shutil.rmtree(stage, ignore_errors=True)
