"""Issue 35: evaluations whose inputs do not match (``hqtrack eval davis|vots``), and the Python API with the
inputs people pass (mask dtypes, tensors on another device, a first call without a mask, a size change).

Evaluation reference: davis2017-evaluation raises on a missing sequence or frame; vot-toolkit reports a tracker
with missing results as not computed. Both are refused here unless ``--partial``, which marks the output.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hqtrack_core.cli import main
from hqtrack_core.data.vots import write_vots_results, write_vots_sequence

from _toy_helpers import write_davis_results


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.count("\n") == 0, err
    return err


# --- DAVIS --------------------------------------------------------------------------------------------------
@pytest.fixture
def davis(tmp_path):
    """gt/ and pred/ with sequences a, b, c (two objects, 6 frames of 30x40); pred = gt with a little noise."""
    return write_davis_results(tmp_path, {"a": 2, "b": 2, "c": 2}, noise=0.03)


def _davis(gt, pred, *extra) -> list[str]:
    return ["eval", "davis", "--gt", str(gt), "--pred", str(pred), *extra]


@pytest.mark.parametrize("case,expected", [
    ("missing_sequence", "no predictions for 1 of the 3 sequences"),
    ("missing_frame", "missing 1 of 6 mask(s), e.g. 00003.png"),
    ("other_size", "ground truth is 40x30 (WxH), prediction 80x60"),
    ("id_only_in_prediction", "prediction has object id 3 but the first ground-truth frame only has objects 1..2"),
])
def test_bad_input_davis_mismatch_refused(davis, capsys, case, expected):
    from hqtrack_core.data.masks import read_mask, write_mask

    gt, pred = davis
    if case == "missing_sequence":
        for f in (pred / "b").iterdir():
            f.unlink()
        (pred / "b").rmdir()
    elif case == "missing_frame":
        (pred / "b" / "00003.png").unlink()
    elif case == "other_size":
        m = read_mask(pred / "b" / "00002.png")
        write_mask(pred / "b" / "00002.png", np.kron(m, np.ones((2, 2), np.uint8)))
    else:
        m = read_mask(pred / "b" / "00002.png")
        m[0, 0] = 3
        write_mask(pred / "b" / "00002.png", m)
    assert main(_davis(gt, pred)) == 2
    err = _err(capsys)
    assert expected in err, err
    if case in ("missing_sequence", "missing_frame"):
        assert "--partial" in err


def test_bad_input_davis_object_only_in_ground_truth_scores_zero(davis, capsys, tmp_path):
    """As davis2017-evaluation: an object the prediction never shows is an empty mask, J = 0 (not left out)."""
    from hqtrack_core.data.masks import read_mask, write_mask

    gt, pred = davis
    for f in (pred / "b").iterdir():
        m = read_mask(f)
        m[m == 2] = 0
        write_mask(f, m)
    out = tmp_path / "s.json"
    assert main(_davis(gt, pred, "--json", str(out))) == 0
    data = json.loads(out.read_text())
    assert data["sequences"]["b"]["objects"]["2"]["J"] == 0.0 and len(data["sequences"]["b"]["objects"]) == 2
    assert "partial" not in data


def test_fault_davis_partial_is_marked_in_table_and_json(davis, capsys, tmp_path):
    gt, pred = davis
    (pred / "b" / "00004.png").unlink()  # an unfinished run: b incomplete, c not started
    for f in (pred / "c").iterdir():
        f.unlink()
    (pred / "c").rmdir()
    out = tmp_path / "s.json"
    assert main(_davis(gt, pred, "--partial", "--json", str(out))) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    banner = "PARTIAL: 1 of 3 sequences scored; not scored: b, c. Not comparable with a full evaluation."
    assert lines[0] == banner and lines[-2] == banner  # header and footer (then "wrote ...")
    assert lines[-3].startswith("PARTIAL") and not any(line.startswith("global") for line in lines)
    data = json.loads(out.read_text())
    assert set(data["sequences"]) == {"a"}
    assert data["partial"]["scored_sequences"] == 1 and data["partial"]["total_sequences"] == 3
    assert set(data["partial"]["missing"]) == {"b", "c"} and "00004.png" in data["partial"]["missing"]["b"]
    for f in (pred / "a").iterdir():
        f.unlink()
    assert main(_davis(gt, pred, "--partial")) == 2  # nothing complete: nothing to score
    assert "nothing to score" in _err(capsys)


# --- VOTS ---------------------------------------------------------------------------------------------------
@pytest.fixture
def vots(tmp_path):
    """Sequences one (1 object) and two (2 objects), 12 frames of 16x20, and matching results."""
    h, w, n = 16, 20, 12
    frames = [np.zeros((h, w, 3), np.uint8)] * n
    for name, count in (("one", 1), ("two", 2)):
        gts, preds = {}, {}
        for o in range(1, count + 1):
            g = [np.zeros((h, w), bool) for _ in range(n)]
            for t, m in enumerate(g):
                m[o: o + 4, t % 8: t % 8 + 5] = True
            gts[str(o)], preds[str(o)] = g, [np.roll(m, 1, axis=1) for m in g]
        write_vots_sequence(tmp_path / "seqs", name, frames, gts)
        write_vots_results(tmp_path / "res", name, preds)
    return tmp_path / "seqs", tmp_path / "res"


def _vots(seqs, res, *extra) -> list[str]:
    return ["eval", "vots", "--sequences", str(seqs), "--results", str(res), *extra]


@pytest.mark.parametrize("case,expected", [
    ("missing_sequence", "no results folder"),
    ("missing_object", "no result for object '2' of sequence 'two'"),
    ("short_trajectory", "5 frames, sequence 'two' has 12"),
])
def test_bad_input_vots_mismatch_refused(vots, capsys, case, expected):
    from hqtrack_core.data.vot_format import read_trajectory, write_trajectory

    seqs, res = vots
    if case == "missing_sequence":
        for f in (res / "two").iterdir():
            f.unlink()
        (res / "two").rmdir()
    elif case == "missing_object":
        (res / "two" / "two_2_001.bin").unlink()
    else:
        path = res / "two" / "two_2_001.bin"
        write_trajectory(path, read_trajectory(path)[:5])
    assert main(_vots(seqs, res)) == 2
    err = _err(capsys)
    assert expected in err and "--partial" in err, err


def test_fault_vots_partial_and_extra_object_file(vots, capsys, tmp_path):
    seqs, res = vots
    (res / "two" / "two_2_001.bin").unlink()
    (res / "one" / "one_7_001.bin").write_bytes((res / "one" / "one_001.bin").read_bytes())  # object 7: no truth
    out = tmp_path / "v.json"
    assert main(_vots(seqs, res, "--partial", "--json", str(out))) == 0
    captured = capsys.readouterr()
    assert "1 result file(s) for objects the ground truth does not have were ignored (e.g. one_7_001.bin)" \
        in captured.err
    lines = captured.out.strip().splitlines()
    assert lines[0].startswith("PARTIAL: 1 of 2 sequences scored; not scored: two.") and lines[0] == lines[-2]
    data = json.loads(out.read_text())
    assert set(data["sequences"]) == {"one"} and "two" in data["partial"]["missing"]


# --- Python API ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tracker():
    from hqtrack_core.inference.engine import VMOSTracker
    from hqtrack_core.model.build import vmos_from_preset

    torch.manual_seed(0)
    torch.set_num_threads(1)
    return VMOSTracker(vmos_from_preset("deaot_t").eval(), device="cpu")


@pytest.fixture(scope="module")
def clip():
    from hqtrack_core.data.toy_video import make_toy_video

    video = make_toy_video(num_frames=3, height=64, width=80, num_objects=2, seed=4)
    return video.frames, video.labels[0].astype(np.int64)


@pytest.mark.parametrize("kind", ["uint8", "int64", "int32", "float32_ids", "float64_ids", "torch_int64",
                                  "torch_uint8", "torch_float", "torch_requires_grad"])
def test_bad_input_api_mask_dtypes_give_the_same_result(tracker, clip, kind):
    """Every container / dtype of the same ids gives the first-frame labels and the propagated frame of int64."""
    frames, ids = clip
    tracker.reset()
    tracker.step(frames[0], ids)
    expected = tracker.step(frames[1]).labels
    mask = {"uint8": lambda: ids.astype(np.uint8), "int64": lambda: ids, "int32": lambda: ids.astype(np.int32),
            "float32_ids": lambda: ids.astype(np.float32), "float64_ids": lambda: ids.astype(np.float64),
            "torch_int64": lambda: torch.from_numpy(ids), "torch_uint8": lambda: torch.from_numpy(ids.astype(np.uint8)),
            "torch_float": lambda: torch.from_numpy(ids).float(),
            "torch_requires_grad": lambda: torch.from_numpy(ids).float().requires_grad_()}[kind]()
    tracker.reset()
    first = tracker.step(frames[0], mask)
    assert first.object_ids == [1, 2] and np.array_equal(first.labels, ids)
    assert np.array_equal(tracker.step(frames[1]).labels, expected)


def test_bad_input_api_boolean_masks_are_object_1(tracker, clip):
    frames, ids = clip
    for mask in (ids > 0, torch.from_numpy(ids > 0)):
        tracker.reset()
        assert tracker.step(frames[0], mask).object_ids == [1]


@pytest.mark.parametrize("mask,expected", [
    (lambda ids: ids * 0.5, r"fractional values \(e.g. 0.5\).*threshold them, e.g. \(prob > 0.5\)"),
    (lambda ids: np.where(ids > 0, np.nan, 0.0), "NaN/inf"),
    (lambda ids: ids[None], r"got shape \(1, 64, 80\) \(use mask.squeeze\(\)\)"),
    (lambda ids: ids.tolist(), r"got list: use np.asarray\(mask\)"),
    (lambda ids: __import__("PIL.Image").Image.fromarray(ids.astype(np.uint8)), r"use np.array\(mask\)"),
    (lambda ids: torch.from_numpy(ids).to("meta"), "device 'meta', which holds no data"),
    (lambda ids: ids - 1, "ids must be >= 0"),
])
def test_bad_input_api_masks_refused_with_the_fix(tracker, clip, mask, expected):
    frames, ids = clip
    tracker.reset()
    with pytest.raises(ValueError, match=expected):
        tracker.step(frames[0], mask(ids))
    assert tracker.object_ids == [] and tracker.frame_index == -1  # nothing half-set: a good mask works next
    assert tracker.step(frames[0], ids).object_ids == [1, 2]


def test_bad_input_api_images_first_call_and_size_change(tracker, clip):
    from PIL import Image

    from hqtrack_core.pipeline import HQTrackPipeline

    frames, ids = clip
    tracker.reset()
    with pytest.raises(ValueError, match="the first frame needs a mask"):
        tracker.step(frames[0])
    with pytest.raises(ValueError, match="the first frame needs a mask"):
        HQTrackPipeline(tracker).step(frames[0])
    with pytest.raises(ValueError, match="device 'meta', which holds no data"):
        tracker.step(torch.rand(3, 64, 80, device="meta"), ids)
    with pytest.raises(ValueError, match=r"PIL image: use np.asarray\(image.convert\('RGB'\)\)"):
        tracker.step(Image.fromarray(frames[0]), ids)
    tracker.reset()
    tracker.step(frames[0], ids)
    at = tracker.frame_index
    with pytest.raises(ValueError, match=r"image size changed mid-video: \(32, 40\) != \(64, 80\); call reset"):
        tracker.step(np.ascontiguousarray(frames[1][::2, ::2]))
    assert tracker.frame_index == at  # the refused frame left no trace: the video goes on
    assert tracker.step(frames[1]).labels.shape == (64, 80)
