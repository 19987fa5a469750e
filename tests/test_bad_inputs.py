"""Issue 14: every bad input ends in one line naming the problem and the fix (exit code 2, no traceback), or in
the correct result. Cheap: tiny generated frames, random ``deaot_t`` weights (``--checkpoint none``) where a
model must run; most cases must fail *before* a model loads, which ``no_model`` makes a test failure.

``pytest -k "bad_input or fault"`` selects these and the fault tests (signals, full disk, read-only folders:
``test_faults.py``).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from hqtrack_core.atomic import write_json_atomic
from hqtrack_core.cli import glue_negative_values, main
from hqtrack_core.data.frames import list_frames, natural_key, open_frames
from hqtrack_core.data.masks import read_mask, read_prompt_mask, write_mask
from hqtrack_core.data.toy_video import make_toy_video

from _toy_helpers import write_toy_clip

N_FRAMES = 5
TINY = ["--model", "deaot_t", "--checkpoint", "none"]  # random small weights: mechanics only


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """5 JPEG frames (64x80) named 1..5 (natural order matters), the first mask, and the video."""
    root = tmp_path_factory.mktemp("toy")
    video = make_toy_video(num_frames=N_FRAMES, height=64, width=80, num_objects=2, seed=5)
    frames, mask = write_toy_clip(root, video, name="{n}.jpg")  # named 1..N: natural order matters
    return frames, mask, video


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if a VMOS model is loaded: input problems must be reported before that."""
    import hqtrack_core.commands.tracker_options as tracker_options

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the bad input was reported")

    monkeypatch.setattr(tracker_options, "build_tracker", refuse)


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err


def _track(frames, mask, out, *extra) -> list[str]:
    return ["track", str(frames), "--mask", str(mask), "--out", str(out), *extra]


# --- frames -------------------------------------------------------------------------------------------------
def test_bad_input_frames_in_natural_order(tmp_path):
    for name in ("10.jpg", "2.jpg", "1.jpg", "11.jpg", "frame_3.png", "frame_20.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    assert [p.name for p in list_frames(tmp_path)] == ["1.jpg", "2.jpg", "10.jpg", "11.jpg", "frame_3.png",
                                                       "frame_20.png"]
    assert sorted(["00010", "00002"], key=natural_key) == ["00002", "00010"]  # zero-padded names unchanged


def test_bad_input_duplicate_frame_stems_are_refused(tmp_path, toy, capsys, no_model):
    frames, mask, _ = toy
    dup = tmp_path / "dup"
    dup.mkdir()
    for p in frames.iterdir():
        (dup / p.name).write_bytes(p.read_bytes())
    Image.open(frames / "2.jpg").save(dup / "2.png")
    assert main(_track(dup, mask, tmp_path / "out")) == 2
    err = _error(capsys)
    assert "2.jpg and 2.png" in err and "keep one" in err


def test_bad_input_truncated_video_says_how_many_frames_decoded(tmp_path):
    import cv2

    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(20):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # an interrupted download
    source = open_frames(path)
    with pytest.warns(UserWarning, match=r"decoded \d+ of the 20 frames"):
        decoded = sum(1 for _ in source)
    assert 0 < decoded < 20


def test_bad_input_video_is_streamed_not_decoded_up_front(tmp_path, monkeypatch):
    """A 2-hour video: opening it decodes one frame (not the whole file), iterating decodes as it goes."""
    import cv2

    path = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 32))
    for t in range(30):
        writer.write(np.full((32, 32, 3), t * 8, np.uint8))
    writer.release()
    reads = []
    real = cv2.VideoCapture

    class Counting:
        def __init__(self, *a):
            self._c = real(*a)

        def read(self):
            reads.append(1)
            return self._c.read()

        def grab(self):
            reads.append(1)
            return self._c.grab()

        def __getattr__(self, name):
            return getattr(self._c, name)

    monkeypatch.setattr(cv2, "VideoCapture", Counting)
    source = open_frames(path)
    assert len(source) == 30 and len(reads) == 1
    frames = iter(source)
    next(frames)
    next(frames)
    assert len(reads) == 3


# --- first mask ---------------------------------------------------------------------------------------------
def test_bad_input_void_255_is_background_not_an_object(tmp_path):
    labels = np.zeros((20, 30), np.uint8)
    labels[2:8, 2:8] = 1
    labels[10:15, 10:20] = 2
    labels[8, :] = 255  # VOC/DAVIS void boundary
    write_mask(tmp_path / "m.png", labels)
    with pytest.warns(UserWarning, match="void"):
        got = read_prompt_mask(tmp_path / "m.png", (20, 30))
    assert set(np.unique(got)) == {0, 1, 2} and (got[8] == 0).all()
    binary = np.where(labels == 1, 255, 0).astype(np.uint8)  # DAVIS-2016 binary: still object 1
    Image.fromarray(binary, mode="L").save(tmp_path / "b.png")
    assert set(np.unique(read_prompt_mask(tmp_path / "b.png", (20, 30)))) == {0, 1}


@pytest.mark.parametrize("name", ["first.jpg", "first_really_a_jpeg.png"])
def test_bad_input_jpeg_first_mask_is_refused(tmp_path, toy, capsys, no_model, name):
    frames, mask, _ = toy
    bad = tmp_path / name
    Image.fromarray((read_mask(mask) * 100).astype(np.uint8), mode="L").save(bad, format="JPEG", quality=75)
    assert main(_track(frames, bad, tmp_path / "out")) == 2
    err = _error(capsys)
    assert "JPEG" in err and "PNG" in err


def test_bad_input_lossy_png_first_mask_is_refused(tmp_path, toy, capsys, no_model):
    """A PNG saved from a JPEG'd mask: compression noise = many objects of a few pixels each."""
    frames, mask, _ = toy
    labels = read_mask(mask).astype(np.int16) * 100
    noise = np.random.default_rng(0).integers(-6, 7, labels.shape)
    noisy = np.clip(labels + np.where(np.random.default_rng(1).random(labels.shape) < 0.05, noise, 0), 0, 254)
    Image.fromarray(noisy.astype(np.uint8), mode="L").save(tmp_path / "noisy.png")
    assert main(_track(frames, tmp_path / "noisy.png", tmp_path / "out")) == 2
    assert "looks lossy" in _error(capsys)


def test_bad_input_empty_first_mask(tmp_path, toy, capsys, no_model):
    frames, _, video = toy
    write_mask(tmp_path / "empty.png", np.zeros(video.labels[0].shape, np.uint8))
    assert main(_track(frames, tmp_path / "empty.png", tmp_path / "out")) == 2
    assert "no object" in _error(capsys)


# --- options ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra,expected", [
    (["--max-frames", "0"], "--max-frames 0"),
    (["--max-frames", "-3"], "--max-frames -3"),
    (["--short-edge", "8"], "too small"),
    (["--short-edge", "0"], "too small"),
    (["--short-edge", "-5"], "too small"),
    (["--device", "banana"], "unknown device 'banana'"),
    (["--refiner", "hqsam"], "needs --refiner-checkpoint"),
    (["--refiner", "sam"], "needs --refiner-checkpoint"),
])
def test_bad_input_options_refused_before_the_model_loads(toy, tmp_path, capsys, no_model, extra, expected):
    frames, mask, _ = toy
    assert main(_track(frames, mask, tmp_path / "out", *extra)) == 2
    err = _error(capsys)
    assert expected in err and err.count("\n") == 0, err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_bad_input_cuda_without_a_gpu(toy, tmp_path, capsys, no_model):
    frames, mask, _ = toy
    assert main(_track(frames, mask, tmp_path / "out", "--device", "cuda")) == 2
    assert "no CUDA GPU" in _error(capsys)


@pytest.mark.parametrize("box,expected", [
    ("0,0,inf,40", "not a finite number"),
    ("0,0,nan,40", "not a finite number"),
    ("-5,0,40,40", "x0 and y0 are pixels, >= 0"),
    ("-5.5,0,40,40", "x0 and y0 are pixels, >= 0"),
])
def test_bad_input_box_values(toy, tmp_path, capsys, no_model, box, expected):
    """Including a negative first value, which argparse used to take for an option ("expected one argument")."""
    frames, _, _ = toy
    with pytest.raises(SystemExit) as exit_info:
        main(["track", str(frames), "--box", box, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = _error(capsys)
    assert expected in err and "expected one argument" not in err and err.count("\n") == 0


def test_bad_input_negative_values_reach_their_option():
    assert glue_negative_values(["track", "f", "--box", "-5,0,9,9", "--out", "o"]) == \
        ["track", "f", "--box=-5,0,9,9", "--out", "o"]
    assert glue_negative_values(["--short-edge", "-5"]) == ["--short-edge=-5"]
    assert glue_negative_values(["--out", "-dir"]) == ["--out", "-dir"]  # not a number: left to argparse


@pytest.mark.parametrize("same", [True, False])
def test_bad_input_out_is_or_is_inside_the_input_folder(toy, tmp_path, capsys, no_model, same):
    frames, mask, _ = toy
    before = sorted(p.name for p in frames.iterdir())
    out = frames if same else frames / "masks"
    assert main(_track(frames, mask, out)) == 2
    assert "input folder" in _error(capsys)
    assert sorted(p.name for p in frames.iterdir()) == before


# --- weight files -------------------------------------------------------------------------------------------
def _teach():
    from hqtrack_core.api import default_checkpoint

    path = default_checkpoint()
    if not path.is_file():
        pytest.skip("no committed teaching checkpoint")
    return path


@pytest.mark.parametrize("kind", ["truncated_safetensors", "truncated_pth", "empty", "text_as_pth",
                                  "garbage_safetensors"])
def test_bad_input_damaged_weight_files(toy, tmp_path, capsys, no_model, kind):
    frames, mask, _ = toy
    if kind == "truncated_safetensors":
        path = tmp_path / "w.safetensors"
        path.write_bytes(_teach().read_bytes()[:200_000])
    elif kind == "truncated_pth":
        path = tmp_path / "w.pth"
        torch.save({"state_dict": {"a": torch.zeros(1000)}}, path)
        path.write_bytes(path.read_bytes()[:2000])
    elif kind == "empty":
        path = tmp_path / "w.pth"
        path.write_bytes(b"")
    elif kind == "text_as_pth":
        path = tmp_path / "w.pth"
        path.write_text("<html>404 Not Found</html>")
    else:
        path = tmp_path / "w.safetensors"
        path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    for option in ("--checkpoint", "--refiner-checkpoint"):
        extra = [option, str(path), "--model", "deaot_l"] if option == "--checkpoint" else \
            ["--refiner", "hqsam", option, str(path)]
        assert main(_track(frames, mask, tmp_path / "out", *extra)) == 2
        err = _error(capsys)
        assert str(path.name) in err and ("again" in err or "check the path" in err), err


def test_bad_input_damaged_weight_file_api_is_a_value_error(tmp_path):
    """Past the header check (a pickle whose body is cut off): still a ValueError, never a raw unpickling error."""
    from hqtrack_core.weights import load_torch_file

    path = tmp_path / "legacy.pth"
    torch.save({"a": torch.zeros(100)}, path, _use_new_zipfile_serialization=False)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ValueError, match="again"):
        load_torch_file(path)


def test_bad_input_model_conflicts_with_teaching_safetensors(toy, tmp_path, capsys, no_model):
    frames, mask, _ = toy
    assert main(_track(frames, mask, tmp_path / "out", "--model", "deaot_t", "--checkpoint", str(_teach()))) == 2
    err = _error(capsys)
    assert "conflicts" in err and "hqtrack_teach" in err


# --- outputs ------------------------------------------------------------------------------------------------
def test_bad_input_stale_outputs_refused_then_replaced_with_overwrite(toy, tmp_path, capsys):
    frames, mask, _ = toy
    out = tmp_path / "out"
    out.mkdir()
    (out / "99.png").write_bytes(b"an older run's mask")
    (out / "notes.txt").write_text("mine")
    assert main(_track(frames, mask, out, *TINY)) == 2
    err = _error(capsys)
    assert "99.png" in err and "--overwrite" in err
    assert main(_track(frames, mask, out, *TINY, "--max-frames", "2", "--overwrite")) == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["1.png", "2.png", "notes.txt"]  # stale mask gone, notes kept
    assert not list(tmp_path.glob(".out.partial*"))
    # frames 1.jpg .. 5.jpg in natural order: the first mask belongs to "1"
    assert set(np.unique(read_mask(out / "1.png"))) == {0, 1, 2}


def test_bad_input_output_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_mask(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
        os.umask(0o022)
        write_mask(tmp_path / "b.png", np.zeros((4, 4), np.uint8))
        write_json_atomic(tmp_path / "c.json", {})
    finally:
        os.umask(old)
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "b.png").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "c.json").stat().st_mode & 0o777 == 0o644


def test_bad_input_debug_shows_the_traceback(toy, tmp_path, no_model):
    frames, mask, _ = toy
    with pytest.raises(ValueError, match="--max-frames 0"):
        main(["--debug", *_track(frames, mask, tmp_path / "out", "--max-frames", "0")])


# --- training -----------------------------------------------------------------------------------------------
def test_bad_input_train_set_with_a_wrong_type(tmp_path, capsys):
    assert main(["train", "--config", "ci_smoke", "--out", str(tmp_path / "run"), "--set", "batch_size=banana"]) == 2
    err = _error(capsys)
    assert "batch_size" in err and "banana" in err
    assert main(["train", "--config", "ci_smoke", "--out", str(tmp_path / "run"), "--set", "crop=[65]"]) == 2
    assert "crop" in _error(capsys)
    assert main(["train", "--config", "ci_smoke", "--out", str(tmp_path / "run"), "--set", "nope=1"]) == 2
    assert "unknown TrainConfig fields" in _error(capsys)


def test_bad_input_resume_skips_a_damaged_newest_checkpoint_and_refuses_another_model(tmp_path):
    from hqtrack_core.data.synthetic import SyntheticClips, pairs_from_folders
    from hqtrack_core.training.checkpoints import list_checkpoints
    from hqtrack_core.training.config import TrainConfig
    from hqtrack_core.training.trainer import Trainer

    from _train_helpers import make_static_folder

    torch.set_num_threads(1)
    cfg = TrainConfig(name="tiny", model="deaot_t", stage=1, seq_len=3, crop=(49, 49), batch_size=2, steps=4,
                      merge_prob=1.0, pretrained_backbone=False, min_object_pixels=10, save_every=1, log_every=1,
                      keep_checkpoints=3)
    data = make_static_folder(tmp_path / "data", n=3)
    ds = SyntheticClips(pairs_from_folders(data / "images", data / "masks"), cfg.crop, cfg.seq_len,
                        cfg.max_objects, cfg.min_object_pixels, cfg.merge_prob, cfg.seed)
    run = tmp_path / "run"
    Trainer(cfg, run, dataset=ds, progress=False, stop_after=2).run()
    newest = list_checkpoints(run)[-1][1]
    assert newest.name == "step_0000002.pt"
    newest.write_bytes(newest.read_bytes()[:4096])  # killed while copying / disk full
    with pytest.warns(UserWarning, match="step_0000002.pt.*resuming from step_0000001.pt"):
        resumed = Trainer(cfg, run, dataset=ds, progress=False, resume=True)
    assert resumed.step == 1 and resumed.resumed_from.name == "step_0000001.pt"
    with pytest.raises(ValueError, match="model deaot_t, not deaot_s"), pytest.warns(UserWarning):
        Trainer(cfg.replace(model="deaot_s"), run, dataset=ds, progress=False, resume=True)
    for _, path in list_checkpoints(run):
        path.write_bytes(b"")
    with pytest.raises(ValueError, match="no intact checkpoint"):
        Trainer(cfg, run, dataset=ds, progress=False, resume=True)


# --- Python API ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pipeline():
    from hqtrack_core.inference.engine import VMOSTracker
    from hqtrack_core.model.build import vmos_from_preset
    from hqtrack_core.pipeline import HQTrackPipeline

    torch.manual_seed(0)
    return HQTrackPipeline(VMOSTracker(vmos_from_preset("deaot_t").eval(), device="cpu"))


def test_bad_input_api_boolean_mask_and_remove_object(pipeline, toy):
    _, _, video = toy
    pipeline.tracker.reset()
    first = pipeline.step(video.frames[0], mask=video.labels[0] > 0)  # gt > 0: one object, id 1
    assert first.object_ids == (1,)
    pipeline.tracker.reset()
    pipeline.step(video.frames[0], mask=video.labels[0])
    pipeline.remove_object(2)
    out = pipeline.step(video.frames[1])
    assert out.object_ids == (1,) and 2 not in np.unique(out.labels)
    with pytest.raises(KeyError, match="unknown object id 7"):
        pipeline.remove_object(7)


def test_bad_input_api_tensor_images(pipeline, toy):
    _, _, video = toy
    chw = torch.from_numpy(video.frames[0]).permute(2, 0, 1).float()  # 0..255, not divided
    pipeline.tracker.reset()
    with pytest.raises(ValueError, match=r"expected \[0, 1\]: divide by 255"):
        pipeline.step(chw, mask=video.labels[0])
    pipeline.tracker.reset()
    with pytest.raises(ValueError, match=r"looks like HxWx3: use image.permute\(2, 0, 1\)"):
        pipeline.step(chw.permute(1, 2, 0) / 255, mask=video.labels[0])
    pipeline.tracker.reset()
    with pytest.raises(ValueError, match="uint8"):
        pipeline.step(video.frames[0].astype(np.float32), mask=video.labels[0])
    pipeline.tracker.reset()
    out = pipeline.step(chw / 255, mask=video.labels[0])  # the right layout works
    assert out.object_ids == (1, 2)


def test_bad_input_api_refiner_without_weights_warns():
    from hqtrack_core.refine import build_refiner

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_refiner("sam", model_type="vit_tiny")
    assert any("random weights" in str(w.message) for w in caught)
