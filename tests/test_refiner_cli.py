"""``hqtrack track`` end to end with each refiner: box prompts, HQ-SAM from a checkpoint file, clear errors, and
no half-written output folder when a run fails.

Runs on the generated toy video with the committed teaching model (no shared data, no downloads); the HQ-SAM
checkpoint is a random vit_tiny saved in the official format (a plain state dict), so the file-loading path of
``--refiner-checkpoint`` is the one a user with ``sam_hq_vit_tiny.pth`` goes through.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hqtrack_core.cli import main
from hqtrack_core.data.masks import read_mask
from hqtrack_core.data.toy_video import make_toy_video
from hqtrack_core.refine import masks_to_boxes

from _toy_helpers import write_toy_clip

N_FRAMES = 4


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A folder of 4 JPEG frames (160x224), the first frame's label map, and each object's tight box."""
    root = tmp_path_factory.mktemp("toy")
    video = make_toy_video(num_frames=N_FRAMES, height=160, width=224, num_objects=2, seed=3)
    frames, mask = write_toy_clip(root, video)
    ids = [int(i) for i in np.unique(video.labels[0]) if i]
    boxes = masks_to_boxes(np.stack([video.labels[0] == i for i in ids]))
    return frames, mask, video, boxes


def _box_arg(box) -> str:
    return ",".join(str(int(v)) for v in box)


def _outputs(folder):
    return sorted(p.name for p in folder.iterdir())


def test_refiner_cli_classical_with_two_boxes(toy, tmp_path, capsys):
    frames, _, video, boxes = toy
    out = tmp_path / "out"
    code = main(["track", str(frames), "--box", _box_arg(boxes[0]), "--box", _box_arg(boxes[1]),
                 "--refiner", "classical", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert _outputs(out) == [f"{t:05d}.png" for t in range(N_FRAMES)]
    first = read_mask(out / "00000.png")
    assert first.shape == video.labels[0].shape
    assert set(np.unique(first)) <= {0, 1, 2} and {1, 2} <= set(np.unique(first))
    for k, (x0, y0, x1, y1) in enumerate(boxes.astype(int), start=1):
        ys, xs = np.nonzero(first == k)  # each object is segmented inside its own box
        assert xs.min() >= x0 - 1 and xs.max() <= x1 + 1 and ys.min() >= y0 - 1 and ys.max() <= y1 + 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.partial")]  # staging folder gone


@pytest.mark.parametrize("kind,options", [
    ("hqsam", []),
    ("hqsam", ["--refiner-hq-token-only", "--refiner-single-mask", "--refiner-box-margin", "0.1"]),
    ("sam", []),
])
def test_refiner_cli_sam_from_checkpoint_file(toy, random_hqsam_checkpoint, tmp_path, capsys, kind, options):
    """``--refiner hqsam|sam --refiner-checkpoint FILE``: an HQ-SAM file also serves the plain-SAM baseline."""
    frames, mask, video, _ = toy
    out = tmp_path / "out"
    code = main(["track", str(frames), "--mask", str(mask), "--refiner", kind,
                 "--refiner-checkpoint", str(random_hqsam_checkpoint), "--refiner-threshold", "0.0", *options,
                 "--max-frames", "2", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert _outputs(out) == ["00000.png", "00001.png"]
    assert read_mask(out / "00001.png").shape == video.labels[0].shape


def test_refiner_cli_errors_are_clear_and_write_nothing(toy, random_hqsam_checkpoint, tmp_path, capsys):
    frames, mask, _, boxes = toy
    out = tmp_path / "out"
    base = ["track", str(frames), "--mask", str(mask), "--out", str(out)]

    assert main([*base, "--refiner", "hqsam", "--refiner-checkpoint", str(tmp_path / "missing.pth")]) == 2
    assert "missing.pth" in capsys.readouterr().err

    assert main([*base, "--refiner", "hqsam", "--refiner-model", "vit_b",
                 "--refiner-checkpoint", str(random_hqsam_checkpoint)]) == 2  # a vit_tiny file for a vit_b model
    assert "does not match" in capsys.readouterr().err

    assert main([*base, "--refiner", "classical", "--refiner-checkpoint", str(random_hqsam_checkpoint)]) == 2
    assert "no checkpoint" in capsys.readouterr().err

    assert main([*base, "--refiner", "none", "--refiner-checkpoint", str(random_hqsam_checkpoint)]) == 2
    assert "the refiner is 'none'" in capsys.readouterr().err

    assert main([*base, "--refiner", "classical", "--refiner-threshold", "1.5"]) == 2
    assert "threshold" in capsys.readouterr().err

    assert main([*base, "--refiner", "classical", "--refiner-hq-token-only"]) == 2
    assert "need --refiner hqsam|sam" in capsys.readouterr().err

    assert main([*base, "--refiner", "sam", "--refiner-checkpoint", str(random_hqsam_checkpoint),
                 "--refiner-hq-token-only"]) == 2
    assert "HQ-SAM decoder" in capsys.readouterr().err

    outside = ["track", str(frames), "--box", "500,500,600,600", "--out", str(out)]
    assert main(outside) == 2
    assert "outside" in capsys.readouterr().err

    with pytest.raises(SystemExit):  # argparse: malformed box
        main(["track", str(frames), "--box", "1,2,3", "--out", str(out)])
    capsys.readouterr()
    assert not out.exists()
    assert not list(tmp_path.glob(".out.partial*"))


def test_refiner_cli_failed_run_leaves_no_partial_output(toy, tmp_path, capsys):
    """A frame of another size in the middle of the video: a clear error, and the output folder keeps only what
    it held before the run (no masks of the frames that did succeed)."""
    frames, mask, video, _ = toy
    broken = tmp_path / "frames"
    broken.mkdir()
    for p in sorted(frames.iterdir()):
        (broken / p.name).write_bytes(p.read_bytes())
    Image.fromarray(video.frames[2][:80]).save(broken / "00002.jpg", quality=95)  # half height
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("from an earlier run")
    code = main(["track", str(broken), "--mask", str(mask), "--out", str(out)])
    assert code == 2
    assert "00002.jpg" in capsys.readouterr().err
    assert _outputs(out) == ["keep.txt"]
    assert not list(tmp_path.glob(".out.partial*"))


def test_refiner_cli_box_prompt_through_hqsam(toy, random_hqsam_checkpoint, tmp_path, capsys):
    """``--box`` with ``--refiner hqsam``: the first mask comes from HQ-SAM (random weights: only the mechanics)."""
    frames, _, video, boxes = toy
    out = tmp_path / "out"
    code = main(["track", str(frames), "--box", _box_arg(boxes[0]), "--refiner", "hqsam",
                 "--refiner-checkpoint", str(random_hqsam_checkpoint), "--max-frames", "1", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    first = read_mask(out / "00000.png")
    assert first.shape == video.labels[0].shape and set(np.unique(first)) == {0, 1}


def test_refiner_cli_empty_box_mask_is_an_error(toy, tmp_path, capsys, monkeypatch):
    """A box the refiner finds nothing in: the command says so instead of tracking an empty mask."""
    from hqtrack_core.refine.base import Proposals
    from hqtrack_core.refine.classical import GrabCutRefiner

    def nothing(self, image, boxes):
        return Proposals(masks=np.zeros((len(boxes), *image.shape[:2]), bool), scores=np.full(len(boxes), np.nan))

    monkeypatch.setattr(GrabCutRefiner, "segment_boxes", nothing)
    frames, _, _, boxes = toy
    out = tmp_path / "out"
    assert main(["track", str(frames), "--box", _box_arg(boxes[0]), "--out", str(out)]) == 2
    assert "empty first mask" in capsys.readouterr().err
    assert not out.exists()
