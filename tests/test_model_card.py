"""The model card stored in our checkpoints sets the defaults of ``InferenceConfig.from_card`` and ``hqtrack track``;
the derived DAVIS splits (train_fit / train_holdout) partition the train split."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from hqtrack_core.cli import main
from hqtrack_core.data.masks import read_mask
from hqtrack_core.data.splits import DERIVED_SPLITS, TRAIN_HOLDOUT
from hqtrack_core.data.toy_video import make_toy_video
from hqtrack_core.inference.memory import memory_policy
from hqtrack_core.api import InferenceConfig, build_tracker, default_checkpoint, model_card_of
from hqtrack_core.model.card import ModelCard, read_model_card, write_model_card
from hqtrack_core.model.checkpoint import load_vmos, save_vmos
from hqtrack_core.model.build import vmos_from_preset

from _toy_helpers import write_toy_clip


def vmos_tracker(**settings):
    """VMOS through the front door, ``(VMOSTracker, description)``: ``build_tracker(InferenceConfig.from_card(...))``
    on the CPU (a setting not given is the card's)."""
    pipeline = build_tracker(InferenceConfig.from_card(**settings), device="cpu")
    return pipeline.tracker, pipeline.description


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    """A random deaot_t saved with a card preferring a 97-pixel short edge, the classical refiner and the paper's
    memory policy."""
    torch.manual_seed(5)
    path = tmp_path_factory.mktemp("card") / "small.safetensors"
    card = ModelCard(name="deaot_t", train_short_edge=97, preferred_short_edge=97, preferred_refiner="classical",
                     preferred_memory="paper", preferred_precision="fp32", data="none (random)", steps="0")
    save_vmos(vmos_from_preset("deaot_t"), path, preset="deaot_t", card=card)
    return path, card


def test_model_card_round_trip_and_rewrite_keeps_weights(small_checkpoint, tmp_path):
    path, card = small_checkpoint
    assert read_model_card(path) == card
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes(path.read_bytes())
    new = card.replace(preferred_short_edge=129, notes="changed")
    write_model_card(copy, new)
    assert read_model_card(copy) == new
    a, b = load_vmos(path).state_dict(), load_vmos(copy).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("bad", [dict(preferred_precision="fp8"), dict(preferred_refiner="hqsam"),
                                 dict(preferred_short_edge=8), dict(train_short_edge="240"),
                                 dict(preferred_memory=3), dict(preferred_memory=""), dict(preferred_flip="yes")])
def test_model_card_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="model card"):
        ModelCard(name="x", **bad)


def test_tracker_takes_short_edge_from_the_card(small_checkpoint):
    path, _ = small_checkpoint
    tracker, info = vmos_tracker(checkpoint=path)
    assert tracker.resize is not None and tracker.resize.size_for(160, 224)[0] == 97
    assert "short edge 97 (model card)" in info
    tracker, info = vmos_tracker(checkpoint=path, short_edge=None)
    assert tracker.resize.size_for(160, 224) == (161, 225) and "input size" in info  # snapped to 16k+1 only
    with pytest.raises(ValueError, match="short_edge"):
        vmos_tracker(checkpoint=path, short_edge=0)


def test_tracker_takes_the_memory_policy_from_the_card(small_checkpoint, tmp_path):
    path, _ = small_checkpoint
    tracker, info = vmos_tracker(checkpoint=path)
    assert tracker.policy == memory_policy("paper") and "memory policy 'paper' (model card)" in info
    tracker, info = vmos_tracker(checkpoint=path, memory="released")  # the caller's choice wins
    assert tracker.policy == memory_policy("released") and "memory policy 'released'," in info
    # a card written before the field existed (no preferred_memory key) means the released policy
    old = {k: v for k, v in read_model_card(path).to_dict().items() if k != "preferred_memory"}
    assert ModelCard.from_dict(old).preferred_memory == "released"
    no_card = tmp_path / "no_card.safetensors"
    save_vmos(vmos_from_preset("deaot_t"), no_card, preset="deaot_t")
    tracker, info = vmos_tracker(checkpoint=no_card)
    assert tracker.policy == memory_policy("released") and "memory policy 'released'," in info
    with pytest.raises(KeyError, match="unknown memory policy 'banana'"):
        vmos_tracker(checkpoint=path, memory="banana")
    # a card naming an unknown policy (the model layer does not know the presets) is refused where the card is
    # resolved, before the weights load
    odd = tmp_path / "odd_card.safetensors"
    odd.write_bytes(path.read_bytes())
    write_model_card(odd, read_model_card(path).replace(preferred_memory="banana"))
    with pytest.raises(KeyError, match="unknown memory policy 'banana'"):
        vmos_tracker(checkpoint=odd)


def test_tracker_takes_the_flip_from_the_card(small_checkpoint, tmp_path):
    path, card = small_checkpoint
    tracker, info = vmos_tracker(checkpoint=path)  # the fixture's card: no flip
    assert tracker.flip is False and "test-time flip off (model card)" in info
    flipped = tmp_path / "flipped.safetensors"
    flipped.write_bytes(path.read_bytes())
    write_model_card(flipped, card.replace(preferred_flip=True))
    tracker, info = vmos_tracker(checkpoint=flipped)
    assert tracker.flip is True and tracker.num_views == 2 and "test-time flip on (model card)" in info
    tracker, info = vmos_tracker(checkpoint=flipped, flip=False)  # the caller's choice wins
    assert tracker.flip is False and "test-time flip off," in info
    # a card written before the field existed (no preferred_flip key) means no flip
    old = {k: v for k, v in card.to_dict().items() if k != "preferred_flip"}
    assert ModelCard.from_dict(old).preferred_flip is False
    with pytest.raises(ValueError, match="flip must be True or False"):
        vmos_tracker(checkpoint=path, flip="yes")


def test_committed_teaching_checkpoint_has_a_card():
    if not default_checkpoint().is_file():
        pytest.skip("no committed teaching checkpoint in this checkout")
    card = model_card_of()
    assert card is not None and card.name == "hqtrack_teach"
    assert card.preferred_short_edge == card.train_short_edge  # run at the scale it was trained at
    assert card.licence.startswith("CC BY-NC 4.0")


def test_shipped_teaching_model_records_its_lineage_and_log():
    """The committed teaching model is one training line (a long stage 1, stage 2 and its continuations): its
    readable .json carries the card of the file's metadata and the config of every run before the last, and the
    committed metrics log holds those runs in order, each starting where the one before ended."""
    import json

    from hqtrack_core.model.soup import read_averaged_from
    from hqtrack_core.training.records import read_metrics, run_segments

    path = default_checkpoint()
    if not path.is_file():
        pytest.skip("no committed teaching checkpoint in this checkout")
    info = json.loads(path.with_suffix(".json").read_text())
    assert read_model_card(path) == ModelCard.from_dict(info["model_card"])
    assert read_averaged_from(path) is None  # not a weight average
    earlier = info["continued_from"]["runs"]
    assert [r["train_config"]["stage"] for r in earlier][:2] == [1, 2]
    parts = run_segments(read_metrics(path.parent / "hqtrack_teach_train_log.jsonl"))
    assert [p[0]["run"] for p in parts] == [r["run"] for r in earlier] + [parts[-1][0]["run"]]
    assert [p[-1]["step"] + 1 for p in parts] == [r["train_config"]["steps"] for r in earlier] + [info["step"]]
    for before, after in zip(parts, parts[1:]):
        assert after[0]["run_step"] == before[-1]["run_step"] + 1


def _budget(steps: str) -> str:
    return re.sub(r", \d+ CPU threads?", "", steps)


def test_committed_ablation_checkpoints_load_into_their_presets():
    """Rows 1-2's committed variants: each file loads strictly into the preset it is named after, carries a card of
    that name with the teaching recipe, and all of them stay within the 100 MB budget."""
    from hqtrack_core.api import build_vmos
    from hqtrack_core.api.checkpoints import ablation_baseline_checkpoint, ablation_checkpoint

    folder = ablation_checkpoint("x").parent
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    if not files:
        pytest.skip("no committed ablation checkpoints in this checkout")
    assert sum(f.stat().st_size for f in files) <= 100e6
    for path in files:
        card = read_model_card(path)
        assert card is not None and card.name == path.stem and card.licence.startswith("CC BY-NC 4.0")
        # the budget of the teaching model the study runs, v2 (the thread count it ran with is not part of it)
        assert _budget(card.steps) == _budget(read_model_card(ablation_baseline_checkpoint()).steps)
        net, description = build_vmos(model=path.stem, checkpoint=path)
        assert path.name in description and sum(p.numel() for p in net.parameters()) > 1e6


def test_track_cli_defaults_come_from_the_card(small_checkpoint, tmp_path, capsys):
    path, _ = small_checkpoint
    video = make_toy_video(num_frames=3, height=160, width=224, num_objects=1, seed=2)
    frames, mask = write_toy_clip(tmp_path, video, name="{t:05d}.png")
    code = main(["track", str(frames), "--mask", str(mask), "--checkpoint", str(path),
                 "--out", str(tmp_path / "out"), "--device", "cpu"])
    assert code == 0
    first_line = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("hqtrack track: model")][0]
    assert "short edge 97 (model card)" in first_line and "refiner classical (model card default)" in first_line
    assert "memory policy 'paper' (model card)" in first_line and "test-time flip off (model card)" in first_line
    assert len(list((tmp_path / "out").glob("*.png"))) == 3


def test_track_cli_flip_switch_overrides_the_card(small_checkpoint, tmp_path, capsys):
    """``--flip`` turns the test-time flip on over a card without it; the masks differ from the plain run's."""
    path, _ = small_checkpoint
    video = make_toy_video(num_frames=4, height=160, width=224, num_objects=1, seed=3)
    frames, mask = write_toy_clip(tmp_path, video, name="{t:05d}.png")
    outs = {}
    for switch in ("--no-flip", "--flip"):
        out = tmp_path / switch.strip("-")
        assert main(["track", str(frames), "--mask", str(mask), "--checkpoint", str(path), "--out", str(out),
                     "--device", "cpu", "--refiner", "none", switch]) == 0
        first_line = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("hqtrack track: model")][0]
        assert f"test-time flip {'on' if switch == '--flip' else 'off'}," in first_line
        outs[switch] = [np.array(read_mask(p)) for p in sorted(out.glob("*.png"))]
    assert len(outs["--flip"]) == 4
    assert any(not np.array_equal(a, b) for a, b in zip(outs["--flip"][1:], outs["--no-flip"][1:]))


def test_derived_splits_partition_train():
    names = [f"s{i}" for i in range(10)] + list(TRAIN_HOLDOUT)
    fit = DERIVED_SPLITS["train_fit"].select(names)
    hold = DERIVED_SPLITS["train_holdout"].select(names)
    assert sorted(fit + hold) == sorted(names) and not set(fit) & set(hold)
    assert hold == [n for n in names if n in TRAIN_HOLDOUT]
    with pytest.raises(ValueError, match="does not hold"):
        DERIVED_SPLITS["train_holdout"].select(names[:5])


@pytest.mark.shared_data
def test_derived_splits_on_davis(shared_data):
    from hqtrack_core.data.datasets import davis_videos

    root = shared_data / "davis2016"
    fit = [v.name for v in davis_videos(root, "240p", split="train_fit")]
    hold = [v.name for v in davis_videos(root, "240p", split="train_holdout")]
    assert len(fit) == 24 and sorted(hold) == sorted(TRAIN_HOLDOUT)
    assert np.isin(hold, (root / "ImageSets" / "train.txt").read_text().split()).all()
