"""Atomic file writes: nothing half-written is ever left at the destination.

``with atomic_path(dest) as tmp:`` gives a temporary path in the destination's folder; write the file there
(with any library: PIL, torch.save, safetensors...). On success it replaces ``dest`` in one ``os.replace``;
on any error the temporary file is removed and ``dest`` is untouched. The file gets the permissions a plain
``open()`` would give it (``0666`` minus the umask), not ``mkstemp``'s private ``0600``.
``with atomic_dir(folder) as stage:`` does the same for a folder of outputs (the masks of ``hqtrack track``).

Staging folders are named ``.<name>.partial-<host>-<pid>-<random>``; one left by a run that was killed
(``kill -9``, power loss) is recognised by the next run into the same folder (same host, process gone) and
removed.

``with run_lock(dest, "hqtrack track"):`` makes a second run into the same destination (another terminal, a
job started twice) fail at once with :class:`LockHeld`, naming the first run's pid, host and start time. The
lock is ``.<name>.lock`` beside ``dest`` (where its staging folder goes), held with ``flock``: the kernel
releases it when the process dies (``kill -9`` included), so a lock file left by a killed run is stale by
construction and the next run takes it over (and says so). Nested ``run_lock`` calls of one process on one
destination are allowed (``hqtrack train`` locks the run folder around training and export).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import uuid
import warnings
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows: no flock; run_lock then runs without a lock)
    fcntl = None


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


def write_json_atomic(dest: str | os.PathLike, data, *, indent: int | None = 2, sort_keys: bool = False,
                      default=None) -> Path:
    """Write ``data`` as JSON (``json.dumps(data, indent=..., sort_keys=..., default=...)``, UTF-8, one final
    newline) to ``dest`` atomically; returns ``dest`` as a Path. The one JSON file writer of the package."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys, default=default) + "\n"
    return write_bytes_atomic(dest, text.encode("utf-8"))


def write_bytes_atomic(dest: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``dest`` atomically; returns ``dest`` as a Path."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)
    return Path(dest)


def _host() -> str:
    return socket.gethostname().replace("-", "_") or "host"


def _stage_prefix(dest: Path) -> str:
    return f".{dest.name}.partial-"


def _process_gone(host: str, pid: str) -> bool:
    """True when ``pid`` of ``host`` is known to be gone: this host only (another machine's process, on a shared
    or network folder, is not ours to judge), never this process."""
    if host != _host() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def _is_dead_stage(name: str, prefix: str) -> bool:
    """True when ``name`` is a staging folder of a process of this host that no longer runs."""
    parts = name[len(prefix):].split("-")
    host, pid = (parts[0], parts[1]) if len(parts) == 3 else (_host(), parts[0])  # (older names had no host)
    return _process_gone(host, pid)


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


class LockHeld(OSError):
    """Another live run holds the destination's lock (see :func:`run_lock`)."""


_HELD: dict[Path, int] = {}  # locks this process holds -> nesting depth


def lock_path(dest: str | os.PathLike) -> Path:
    """The lock file of ``dest``: ``.<name>.lock`` where its staging folder goes (:func:`stage_parent`)."""
    dest = Path(dest)
    return stage_parent(dest) / f".{dest.name}.lock"


@contextmanager
def run_lock(dest: str | os.PathLike, what: str = "run") -> Iterator[Path]:
    """Hold the lock of ``dest`` for the block (module docstring); :class:`LockHeld` when a live run holds it.

    ``what`` names this run in the lock file (``hqtrack track``, ``hqtrack train``), which another run's error
    quotes. Where ``fcntl`` is missing (Windows) the block runs without a lock.
    """
    if fcntl is None:  # pragma: no cover (Windows)
        yield Path(dest)
        return
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path(dest)
    key = lock.resolve()
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield lock
        finally:
            _HELD[key] -= 1
        return
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.pread(fd, 512, 0).decode(errors="replace").split("\t")
            os.close(fd)
            host, pid, since, who = (owner + ["?"] * 4)[:4] if len(owner) >= 4 else ("?", "?", "?", "another run")
            raise LockHeld(f"{dest} is in use by {who.strip()} (pid {pid} on {host}, started {since}): wait for it "
                           f"to finish or choose another folder (the lock is {lock})") from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino  # not unlinked by a run that just finished
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        previous = os.pread(fd, 512, 0).decode(errors="replace").split("\t")
        if len(previous) >= 2 and previous[1].isdigit():
            warnings.warn(f"took over the lock of {dest} left by {previous[3].strip() if len(previous) > 3 else 'a run'} "
                          f"(pid {previous[1]} on {previous[0]}), which ended without releasing it", stacklevel=3)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{_host()}\t{os.getpid()}\t{time.strftime('%Y-%m-%d %H:%M:%S')}\t{what}\n".encode(), 0)
        _HELD[key] = 1
        yield lock
    finally:
        _HELD.pop(key, None)
        try:
            os.unlink(lock)  # (before closing: a run waiting on this inode then sees it was unlinked)
        except OSError:
            pass
        os.close(fd)
