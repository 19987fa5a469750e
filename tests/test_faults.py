"""Issue 14, faults: signals (SIGTERM / SIGHUP / SIGINT end cleanly, one line, 128+n), the staging folder of a
killed run, a full disk, read-only folders and network-drive quirks. Nothing half-written is left anywhere.

Signal tests run ``python -m hqtrack_core.cli`` in a subprocess on tiny frames with random ``deaot_t`` weights.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hqtrack_core.atomic import atomic_dir, atomic_path
from hqtrack_core.cli import main
from hqtrack_core.data.masks import write_mask
from hqtrack_core.data.toy_video import make_toy_video

from _toy_helpers import write_toy_clip

TINY = ["--model", "deaot_t", "--checkpoint", "none"]
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    video = make_toy_video(num_frames=4, height=64, width=80, num_objects=2, seed=2)
    return write_toy_clip(root, video)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or p.name.endswith(".tmp"))


# --- signals ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    """400 frames: long enough that the run is still tracking when the signal comes."""
    root = tmp_path_factory.mktemp("long")
    frames = root / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    for t in range(400):
        Image.fromarray(np.roll(base, t, axis=1)).save(frames / f"{t:05d}.png")
    labels = np.zeros((48, 64), np.uint8)
    labels[10:30, 10:30] = 1
    write_mask(root / "first.png", labels)
    return frames, root / "first.png"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_fault_signal_cleans_up_and_exits_128_plus_n(long_video, tmp_path, signum):
    frames, mask = long_video
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hqtrack_core.cli", "track", str(frames), "--mask", str(mask),
                             "--out", str(out), *TINY], env=env, stderr=subprocess.PIPE, text=True,
                            # a shell's background job starts with SIGINT ignored and Python keeps it ignored:
                            # give the child the default disposition, as a terminal would
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while not list(tmp_path.glob(".out.partial-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    staged = list(tmp_path.glob(".out.partial-*"))
    assert staged, "the run never started writing"
    while not list(staged[0].iterdir()) and time.monotonic() < deadline:  # mid-video: masks are being staged
        time.sleep(0.1)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    expected = f"hqtrack track: interrupted by {signal.Signals(signum).name}; nothing half-written was left"
    assert err.splitlines().count(expected) == 1, err[-2000:]
    assert "Traceback" not in err
    assert not out.exists() and _leftovers(tmp_path) == []


def test_fault_keyboard_interrupt_in_process_cleans_up(toy, tmp_path, capsys, monkeypatch):
    import hqtrack_core.commands.track as tracking

    real = tracking.track_video

    def interrupted(*args, **kwargs):
        for k, frame in enumerate(real(*args, **kwargs)):
            if k == 2:
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(tracking, "track_video", interrupted)
    frames, mask = toy
    out = tmp_path / "out"
    assert main(["track", str(frames), "--mask", str(mask), "--out", str(out), *TINY]) == 130
    assert "interrupted by SIGINT" in capsys.readouterr().err
    assert not out.exists() and _leftovers(tmp_path) == []


# --- a killed run's staging folder --------------------------------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_fault_staging_folder_of_a_killed_run_is_removed(tmp_path):
    from hqtrack_core.atomic import _host

    dead = tmp_path / f".out.partial-{_host()}-{_dead_pid()}-deadbeef"
    dead.mkdir()
    (dead / "00000.png").write_bytes(b"half a run")
    legacy = tmp_path / f".out.partial-{_dead_pid()}-0badc0de"  # names written before the host was recorded
    legacy.mkdir()
    alive = tmp_path / f".out.partial-{_host()}-{os.getppid()}-cafecafe"  # a live process: left alone
    alive.mkdir()
    other_host = tmp_path / f".out.partial-otherbox-{_dead_pid()}-feedfeed"  # a network drive: not ours to judge
    other_host.mkdir()
    with pytest.warns(UserWarning, match="interrupted earlier run"):
        with atomic_dir(tmp_path / "out") as stage:
            (stage / "00000.png").write_bytes(b"new")
    assert not dead.exists() and not legacy.exists() and alive.exists() and other_host.exists()
    assert (tmp_path / "out" / "00000.png").read_bytes() == b"new"


# --- full disk, read-only folders, network drives -----------------------------------------------------------
def test_fault_disk_full_mid_video(toy, tmp_path, capsys, monkeypatch):
    """ENOSPC while writing the third mask: one line saying the disk is full, and nothing half-written."""
    import PIL.Image

    real_save, calls = PIL.Image.Image.save, []

    def save(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == 3:
            Path(fp).write_bytes(b"\x89PNG half")  # the partial file a full disk leaves
            raise OSError(errno.ENOSPC, "No space left on device", str(fp))
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(PIL.Image.Image, "save", save)
    frames, mask = toy
    out = tmp_path / "out"
    out.mkdir()
    assert main(["track", str(frames), "--mask", str(mask), "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("hqtrack track: error: the disk is full") and "nothing was left half-written" in err
    assert list(out.iterdir()) == [] and _leftovers(tmp_path) == []


@pytest.mark.parametrize("how", ["no_write_access", "read_only_mount"])
def test_fault_read_only_output_parent(toy, tmp_path, capsys, monkeypatch, how):
    """Reported before the model loads (simulated: tests may run as root, which ignores permissions)."""
    import hqtrack_core.commands.tracker_options as tracker_options

    monkeypatch.setattr(tracker_options, "build_tracker", lambda *a, **k: pytest.fail("model loaded before the check"))
    read_only = tmp_path / "ro"
    read_only.mkdir()
    if how == "no_write_access":
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == read_only else real_access(p, mode))
        out = read_only / "out"
    else:
        real_mkdir = Path.mkdir

        def mkdir(self, *args, **kwargs):
            if read_only in self.parents:
                raise OSError(errno.EROFS, "Read-only file system", str(self))
            return real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", mkdir)
        out = read_only / "sub" / "out"
    frames, mask = toy
    assert main(["track", str(frames), "--mask", str(mask), "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "read-only" in err and str(read_only) in err, err


def test_fault_existing_out_with_read_only_parent_stages_inside_it(tmp_path, monkeypatch):
    """``--out ~`` (its parent not writable): the staging folder goes inside OUT instead of beside it."""
    out = tmp_path / "out"
    out.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    with atomic_dir(out) as stage:
        assert stage.parent == out
        (stage / "00000.png").write_bytes(b"m")
    assert sorted(p.name for p in out.iterdir()) == ["00000.png"]


def test_fault_read_only_input_folder_is_never_written(toy, tmp_path, capsys):
    frames, mask = toy
    before = {p.name: p.stat().st_mtime_ns for p in frames.parent.rglob("*")}
    os.chmod(frames, 0o555)
    try:
        assert main(["track", str(frames), "--mask", str(mask), "--out", str(tmp_path / "out"), *TINY,
                     "--max-frames", "2"]) == 0, capsys.readouterr().err
    finally:
        os.chmod(frames, 0o755)
    assert {p.name: p.stat().st_mtime_ns for p in frames.parent.rglob("*")} == before


def test_fault_network_drive_refusing_chmod_and_delete(tmp_path, monkeypatch):
    """SMB/NFS quirks: chmod refused (the file is still written); a staging folder that cannot be deleted does
    not hide the error that ended the run."""
    import shutil

    monkeypatch.setattr(os, "chmod", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EPERM, "chmod")))
    with atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "a.txt").read_text() == "x"

    real_rmtree = shutil.rmtree

    def busy_rmtree(path, ignore_errors=False, **kwargs):
        if not ignore_errors:
            raise OSError(errno.EBUSY, "Device or resource busy", str(path))
        return real_rmtree(path, ignore_errors=True)

    monkeypatch.setattr(shutil, "rmtree", busy_rmtree)
    with pytest.raises(ValueError, match="the real error"):
        with atomic_dir(tmp_path / "out") as stage:
            (stage / "00000.png").write_bytes(b"m")
            raise ValueError("the real error")
    assert _leftovers(tmp_path) == []


def test_fault_long_video_warnings_unbounded_memory_and_small_disk(tmp_path, monkeypatch):
    """A 2-hour video (180,000 frames at 25 fps): warned about the unbounded DeAOT memory policy and about a
    disk too small for its masks, before anything runs; the bounded released policy gives no memory warning."""
    import shutil
    import warnings

    from hqtrack_core.inference.memory import memory_policy
    from hqtrack_core.validate import check_long_run

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_long_run(180_000, (480, 854), "released", tmp_path, memory_policy("released"))  # silent
    with pytest.warns(UserWarning, match="unbounded"):
        check_long_run(180_000, (480, 854), "deaot", tmp_path, memory_policy("deaot"))
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 10**6, 10**6))
    with pytest.warns(UserWarning, match="1 MB free"):
        check_long_run(180_000, (480, 854), "released", tmp_path, memory_policy("released"))
