"""The ablation study: row definitions, clip generators, and ``hqtrack ablate`` on a DAVIS-layout folder it has
never seen (generated here: an unusual resolution folder name, a split file, binary and multi-object masks)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hqtrack_core.ablation.generators import LabelledClip, composite_clip, pingpong_indices, pingpong_video
from hqtrack_core.ablation.rows import ROW_NAMES, get_row
from hqtrack_core.cli import main
from hqtrack_core.api.checkpoints import ablation_checkpoint
from hqtrack_core.data.datasets import davis_videos

from _toy_helpers import toy_clip, write_toy_davis


@pytest.fixture(scope="module")
def tiny_davis(tmp_path_factory) -> Path:
    return write_toy_davis(tmp_path_factory.mktemp("davis") / "heldout_davis",
                           [("alpha", 8, 1, 0), ("beta", 9, 1, 1), ("gamma", 8, 2, 2)], size=(48, 64),
                           resolution="Full-Resolution")


def test_ablation_pingpong_indices_and_ground_truth():
    assert pingpong_indices(3, 9) == [0, 1, 2, 1, 0, 1, 2, 1, 0]
    clip = toy_clip("c", 5, 1, 3)
    long = pingpong_video(clip, factor=4)
    assert len(long) == 20
    index = pingpong_indices(5, 20)
    for t in (0, 4, 5, 8, 13, 19):
        assert np.array_equal(long.frames[t], clip.frames[index[t]])
        assert np.array_equal(long.masks[t], clip.masks[index[t]])
    with pytest.raises(ValueError, match="at least 2 frames"):
        pingpong_indices(1, 4)


def test_ablation_composite_is_exact_and_deterministic():
    background = LabelledClip("bg", *(lambda c: (c.frames, [(m > 0).astype(np.uint8) for m in c.masks]))(
        toy_clip("bg", 10, 1, 4, size=(72, 96))))
    foregrounds = [toy_clip("f1", 10, 1, 5), toy_clip("f2", 6, 1, 6)]
    a = composite_clip(background, foregrounds, seed=7)
    b = composite_clip(background, foregrounds, seed=7)
    c = composite_clip(background, foregrounds, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a.masks, b.masks))
    assert not all(np.array_equal(x, y) for x, y in zip(a.masks, c.masks))
    assert sorted(int(v) for v in np.unique(a.masks[0])) == [0, 1, 2, 3]
    for t in range(len(a)):
        # only pasted pixels (ids >= 2) may differ from the background clip: the ground truth is exact
        changed = np.any(a.frames[t] != background.frames[t], axis=-1)
        assert not np.any(changed & (a.masks[t] < 2))
        # where the background object is not covered, its label is kept
        assert np.array_equal(a.masks[t] == 1, (background.masks[t] > 0) & (a.masks[t] < 2))


def test_ablation_davis_folder_round_trip(tiny_davis):
    videos = {v.name: v for v in davis_videos(tiny_davis, "Full-Resolution", split="heldout")}
    assert sorted(videos) == ["alpha", "beta", "gamma"]
    assert videos["alpha"].object_ids() == [1]  # written 0/255, read as object 1
    assert videos["gamma"].object_ids() == [1, 2]


def test_ablation_rows_are_data():
    for name in ROW_NAMES:
        for scale in ("teach", "paper"):
            row = get_row(name, scale)
            names = [v.name for v in row.variants]
            assert len(set(names)) == len(names)
            assert row.expected_best is None or row.expected_best in names
    from hqtrack_core.model.config import PRESETS as MODELS
    from hqtrack_core.training.config import PRESETS as TRAINING

    for name in ("backbone", "multiscale"):
        for variant in get_row(name, "teach").variants:
            assert variant.model in MODELS and variant.train_preset in TRAINING
            assert TRAINING[variant.train_preset].model == variant.model
    with pytest.raises(KeyError, match="unknown ablation row"):
        get_row("nonsense")


TINY = ["--checkpoint", "none", "--precision", "fp32", "--short-edge", "33", "--max-frames", "5"]


@pytest.mark.parametrize("row", ["joint", "threshold"])
def test_ablation_cli_on_unseen_davis_folder(tiny_davis, tmp_path, row):
    out = tmp_path / "out"
    assert main(["ablate", row, "--data", str(tiny_davis), "--split", "heldout", "--out", str(out), *TINY]) == 0
    result = json.loads((out / f"{row}.json").read_text())
    assert result["row"] == row and result["settings"]["resolution"] is None
    run = [v for v in result["variants"] if v["status"] == "run"]
    assert len(run) == len(get_row(row).variants)
    for v in run:
        for key in ("J", "F", "JF", "Q", "A"):
            assert 0.0 <= v[key] <= 1.0
        assert v["latency_s_per_frame"] > 0 and v["memory_state_peak_mb"] > 0
        assert set(v["sequences"]) == {c["name"] for c in result["clips"]}
    assert result["settings"]["checkpoints"]["vmos"]["sha256"] is None  # random weights, said so
    assert not list(out.glob(".*tmp"))  # written atomically, nothing left behind


def test_ablation_memory_row_changes_the_memory(tiny_davis, tmp_path):
    """Gap 10 keeps more long-term entries than gap 100 on a ping-pong video: the variants really differ."""
    out = tmp_path / "out"
    args = ["ablate", "memory", "--data", str(tiny_davis), "--sequences", "alpha", "--pingpong", "8",
            "--out", str(out), "--checkpoint", "none", "--precision", "fp32", "--short-edge", "33"]
    assert main(args) == 0
    variants = {v["name"]: v for v in json.loads((out / "memory.json").read_text())["variants"]}
    assert variants["gap10"]["memory_state_peak_mb"] > variants["gap100"]["memory_state_peak_mb"]
    from hqtrack_core.ablation.report import memory_schedule
    from hqtrack_core.inference.memory import memory_policy

    held = {n: memory_schedule(memory_policy("released", **get_row("memory").variant(n).memory_overrides()), 64)[-1]
            for n in ("gap10", "gap10_len8")}
    assert len(held["gap10_len8"]) == 7 and len(held["gap10"]) == 6  # length 8 keeps what length 6 evicts
    assert variants["gap10"]["sequences"]["alpha-pingpong8x"]["frames"] == 64


def test_ablation_trained_rows_report_size_and_speed_not_accuracy(tiny_davis, tmp_path):
    out = tmp_path / "out"
    assert main(["ablate", "multiscale", "--data", str(tiny_davis), "--sequences", "gamma", "--out", str(out),
                 "--precision", "fp32", "--short-edge", "33", "--max-frames", "4"]) == 0
    result = json.loads((out / "multiscale.json").read_text())
    row = get_row("multiscale")
    for v in result["variants"]:
        assert v["parameters"] > 1e6 and v["latency_s_per_frame"] > 0
        model = row.variant(v["name"]).model
        committed = ablation_checkpoint(model)
        if committed.is_file():  # a committed checkpoint of this variant is evaluated
            assert "JF" in v and result["settings"]["checkpoints"][v["name"]]["path"] == str(committed)
        else:
            assert v["status"].startswith("not run: needs a trained checkpoint") and "JF" not in v


def test_ablation_trained_row_without_checkpoints_says_not_run(tiny_davis, tmp_path, monkeypatch):
    """No committed checkpoint of any variant (a partial checkout): every variant is timed, none is scored."""
    import hqtrack_core.api.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "artefacts_dir", lambda: tmp_path / "empty")
    out = tmp_path / "out"
    assert main(["ablate", "multiscale", "--data", str(tiny_davis), "--sequences", "gamma", "--out", str(out),
                 "--precision", "fp32", "--short-edge", "33", "--max-frames", "4"]) == 0
    result = json.loads((out / "multiscale.json").read_text())
    assert all(v["status"].startswith("not run: needs a trained checkpoint") and "JF" not in v
               for v in result["variants"])
    assert result["verdict"] == "inconclusive" and "was not run" in result["verdict_reason"]
    assert all("jf_ci95" not in v for v in result["variants"])


def test_ablation_cli_errors(tiny_davis, tmp_path, capsys):
    base = ["--out", str(tmp_path), *TINY]
    assert main(["ablate", "joint", "--data", str(tiny_davis), "--sequences", "nope", *base]) == 2
    assert "['nope']" in capsys.readouterr().err
    assert main(["ablate", "joint", "--data", str(tmp_path / "missing"), *base]) == 2
    assert main(["ablate", "backbone", "--data", str(tiny_davis), "--checkpoint", "x.pth"]
                + ["--out", str(tmp_path)]) == 2
    assert main(["ablate", "memory", "--data", str(tiny_davis), "--checkpoint", "gap10=x.pth", *base[:2]]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert not (tmp_path / "joint.json").exists()
