"""The shipped demo clip (data/demo): checksums, size, licence note, the loader's one meaning of data_root,
and that ``--make`` rebuilds the same clip from the shared data."""

from __future__ import annotations

import numpy as np
import pytest

from hqtrack_core.data.demo import davis_roots, load_clip, open_sequence, osvos_prediction
from hqtrack_core.data.demo_clip import SIZE_LIMIT, check_clip, demo_davis_root, demo_dir, make_clip
from hqtrack_core.data.frames import read_frame, resize_frame
from hqtrack_core.data.masks import read_mask


def test_shipped_clip_matches_its_checksums_and_size_limit():
    assert check_clip() == []
    total = sum(p.stat().st_size for p in demo_dir().rglob("*") if p.is_file())
    assert total <= SIZE_LIMIT, f"data/demo holds {total} bytes, over the 2 MB limit"
    readme = (demo_dir() / "README.md").read_text()
    assert "CC BY-NC 4.0" in readme and "Perazzi" in readme and "demo_clip --make" in readme


def test_check_clip_reports_a_changed_file(tmp_path):
    import shutil

    shutil.copytree(demo_dir(), tmp_path / "demo")
    frame = next((tmp_path / "demo" / "davis2016" / "JPEGImages").rglob("00003.jpg"))
    frame.write_bytes(frame.read_bytes() + b"\0")
    (tmp_path / "demo" / "davis2016" / "extra.txt").write_text("x")
    problems = check_clip(tmp_path / "demo")
    assert any("checksum differs" in p and "00003.jpg" in p for p in problems)
    assert any("extra.txt" in p for p in problems)


def test_demo_clip_loads_without_shared_data(tmp_path, monkeypatch):
    monkeypatch.setenv("HQTRACK_DATA", str(tmp_path))  # an empty "shared data" folder
    assert davis_roots("") == [tmp_path / "davis2016", demo_davis_root()]
    clip = load_clip("", max_frames=5)
    assert "shipped clip" in clip.source and len(clip) == 5 and clip.size == (240, 427)
    assert [m.shape for m in clip.masks] == [(240, 427)] * 5
    assert all(set(np.unique(m)) <= {0, 1} and m.any() for m in clip.masks)
    assert clip.prompts.keys() == {"00000"}
    assert len(open_sequence("demo")) == 50
    with pytest.raises(KeyError, match="shipped clip has only 'blackswan'"):
        load_clip("", "parkour")
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_clip(tmp_path / "nowhere")
    assert osvos_prediction("blackswan", "00003") is None and osvos_prediction("blackswan", "00003", "demo") is None
    half = load_clip("demo", max_frames=2, scale=0.5)
    assert half.size == (120, 214) and half.masks[0].shape == (120, 214)


def test_resize_frame_rules():
    image = np.random.default_rng(0).integers(0, 256, (480, 854, 3), dtype=np.uint8)
    assert resize_frame(image, short_edge=240).shape == (240, 427, 3)
    assert resize_frame(image, scale=1.0) is image
    labels = np.zeros((480, 854), np.uint8)
    labels[100:300, 200:500] = 3
    small = resize_frame(labels, scale=0.5, nearest=True)
    assert small.shape == (240, 427) and set(np.unique(small)) == {0, 3}  # ids never blended
    with pytest.raises(ValueError, match="exactly one"):
        resize_frame(image)
    with pytest.raises(ValueError, match="exactly one"):
        resize_frame(image, scale=0.5, short_edge=10)


def _davis(shared_data):
    if not (shared_data / "davis2016").is_dir():
        pytest.skip(f"no davis2016 in {shared_data}")


@pytest.mark.shared_data
def test_make_rebuilds_the_shipped_clip(shared_data, tmp_path):
    _davis(shared_data)
    files = make_clip(shared_data, tmp_path)
    shipped = demo_dir()
    assert [str(f) for f in files] == sorted(str(p.relative_to(shipped)) for p in demo_davis_root().rglob("*")
                                             if p.is_file())
    for name in files:
        new, old = tmp_path / name, shipped / name
        if name.suffix == ".png":  # masks are lossless: identical labels
            np.testing.assert_array_equal(read_mask(new), read_mask(old))
        elif name.suffix == ".jpg":  # another libjpeg may round differently
            diff = np.abs(read_frame(new).astype(int) - read_frame(old).astype(int))
            assert diff.mean() < 1.0
    assert check_clip(tmp_path) == []  # its own SHA256SUMS describe it
    clip = load_clip("", max_frames=3, short_edge=240)  # the shared 480p original
    shipped_clip = load_clip("demo", max_frames=3)
    assert "shared data" in clip.source
    for a, b in zip(clip.masks, shipped_clip.masks):
        np.testing.assert_array_equal(a, b)


@pytest.mark.shared_data
def test_osvos_prediction_from_the_shared_data(shared_data):
    if not (shared_data / "osvos_davis2017_predictions").is_dir():
        pytest.skip(f"no osvos_davis2017_predictions in {shared_data}")
    pred = osvos_prediction("blackswan", "00003")
    assert pred is not None and pred.shape == (480, 854) and pred.max() >= 1
    assert osvos_prediction("blackswan", "99999") is None
