"""Overlay videos and contact sheets (hqtrack_core.render) and ``hqtrack track --overlay / --preview`` on the
shipped real clip: the video reopens with OpenCV with every frame, the GIF has every frame, nothing is left behind
by a failed write, bad file names are refused before any tracking."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from hqtrack_core.cli import main
from hqtrack_core.data.demo_clip import DEMO_RESOLUTION, DEMO_SEQUENCE, demo_davis_root
from hqtrack_core.render import (OverlayVideoWriter, contact_sheet, preview_indices, write_contact_sheet,
                                 write_overlay_video)


def _clip(n=5, h=64, w=96):
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]
    labels = [np.zeros((h, w), np.uint8) for _ in range(n)]
    for t, label in enumerate(labels):
        label[10:30, 10 + 5 * t:40 + 5 * t] = 1
    return images, labels


def _count_video_frames(path) -> tuple[int, tuple[int, int]]:
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), f"OpenCV cannot reopen {path}"
    count, size = 0, None
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        count, size = count + 1, frame.shape[:2]
    capture.release()
    return count, size


def test_mp4_and_gif_hold_every_frame(tmp_path):
    images, labels = _clip()
    mp4 = write_overlay_video(tmp_path / "a.mp4", images, labels, fps=5)
    assert _count_video_frames(mp4) == (5, (64, 96))
    odd = write_overlay_video(tmp_path / "odd.mp4", [image[:63, :95] for image in images])
    assert _count_video_frames(odd) == (5, (64, 96))
    gif = write_overlay_video(tmp_path / "a.GIF", images, labels, fps=5)
    with Image.open(gif) as image:
        assert image.n_frames == 5 and image.size == (96, 64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.GIF", "a.mp4", "odd.mp4"]  # no temporary files left


def test_failed_or_empty_video_leaves_nothing(tmp_path):
    images, labels = _clip()
    with pytest.raises(ValueError, match="the first was"):
        with OverlayVideoWriter(tmp_path / "b.mp4") as writer:
            writer.add(images[0], labels[0])
            writer.add(images[1][:32], labels[1][:32])
    with pytest.raises(ValueError, match="no frames"):
        with OverlayVideoWriter(tmp_path / "c.gif"):
            pass
    with pytest.raises(ValueError, match="must end in .mp4 or .gif"):
        OverlayVideoWriter(tmp_path / "d.avi")
    assert list(tmp_path.iterdir()) == []


def test_contact_sheet_layout(tmp_path):
    images, labels = _clip(n=6)
    sheet = contact_sheet(images, [f"frame {i}" for i in range(6)], columns=4, width=48, gap=2)
    assert sheet.shape == (2 * 32 + 3 * 2, 4 * 48 + 5 * 2, 3)
    assert (sheet[-20:, -50:] == 255).all()  # the two empty cells stay white
    assert preview_indices(50, 8) == [0, 7, 14, 21, 28, 35, 42, 49] and preview_indices(3, 8) == [0, 1, 2]
    png = write_contact_sheet(tmp_path / "s.png", images[:2], labels[:2], ["a", "b"])
    assert cv2.imread(str(png)).shape == (64 + 8, 2 * 96 + 12, 3)
    with pytest.raises(ValueError, match="2 captions for 3 images"):
        contact_sheet(images[:3], ["a", "b"])


def test_track_cli_overlay_and_preview_on_the_demo_clip(tmp_path, capsys):
    frames = demo_davis_root() / "JPEGImages" / DEMO_RESOLUTION / DEMO_SEQUENCE
    mask = demo_davis_root() / "Annotations" / DEMO_RESOLUTION / DEMO_SEQUENCE / "00000.png"
    out, video, preview = tmp_path / "masks", tmp_path / "overlay.mp4", tmp_path / "preview.png"
    code = main(["track", str(frames), "--mask", str(mask), "--out", str(out), "--max-frames", "3",
                 "--short-edge", "96", "--overlay", str(video), "--preview", str(preview)])  # small: a cheap test
    assert code == 0, capsys.readouterr().err
    assert len(list(out.iterdir())) == 3
    assert _count_video_frames(video) == (3, (240, 428))  # 427 wide, padded to even for MPEG-4
    assert cv2.imread(str(preview)).shape[:2] == (240 + 8, 3 * 427 + 16)  # 3 frames in one row


@pytest.mark.parametrize("option, name, match", [
    ("--overlay", "x.avi", "--overlay .*x.avi: the file name must end in .mp4 or .gif"),
    ("--preview", "x.jpg", "--preview .*x.jpg: the file name must end in .png"),
])
def test_track_cli_refuses_bad_output_names(tmp_path, capsys, option, name, match):
    frames = demo_davis_root() / "JPEGImages" / DEMO_RESOLUTION / DEMO_SEQUENCE
    mask = demo_davis_root() / "Annotations" / DEMO_RESOLUTION / DEMO_SEQUENCE / "00000.png"
    code = main(["track", str(frames), "--mask", str(mask), "--out", str(tmp_path / "m"), option,
                 str(tmp_path / name)])
    assert code == 2
    err = capsys.readouterr().err
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    import re

    assert re.search(match, err), err
    assert list(tmp_path.iterdir()) == []
