"""The front door (``from hqtrack_core import InferenceConfig, build_tracker, track_video``): the model card resolved
once into a config, the same masks as the network assembled by hand, and the per-object mode of the one video loop
equal to the hand-written loops it replaced (the ablation runner's separate tracking)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from hqtrack_core import InferenceConfig, build_tracker, build_vmos, track_video
from hqtrack_core.ablation.generators import LabelledClip
from hqtrack_core.ablation.runner import track_prompted, track_separate
from hqtrack_core.api.checkpoints import default_checkpoint
from hqtrack_core.data.demo import load_clip
from hqtrack_core.inference.engine import ResizePolicy, StepOutput, VMOSTracker, channel_argmax, soft_aggregate
from hqtrack_core.inference.memory import memory_policy
from hqtrack_core.model.card import read_model_card
from hqtrack_core.model.checkpoint import load_vmos
from hqtrack_core.model.build import vmos_from_preset
from hqtrack_core.pipeline import PipelineOutput
from hqtrack_core.precision import resolve_precision

from _toy_helpers import noise_video

H, W = 65, 97


def _teaching_card():
    if not default_checkpoint().is_file():
        pytest.skip("no committed teaching checkpoint in this checkout")
    return read_model_card(default_checkpoint())


def test_front_door_example_equals_the_network_assembled_by_hand():
    """The README's example on the shipped clip (3 frames, fp32) gives the labels of the same weights, memory
    policy, short edge and flip put together by hand, frame for frame."""
    card = _teaching_card()
    clip = load_clip("", max_frames=3)
    config = InferenceConfig.from_card("hqtrack_teach")
    assert (config.short_edge, config.memory, config.flip, config.refiner) == (
        card.preferred_short_edge, card.preferred_memory, card.preferred_flip, card.preferred_refiner)
    assert config.chosen_by_card == {"short_edge", "memory", "precision", "flip", "refiner"}
    config = config.replace(precision="fp32", device="cpu")
    assert "precision" not in config.chosen_by_card and config.card is not None
    tracker = build_tracker(config)
    ours = [f.labels for f in track_video(tracker, clip.frames, {clip.frames[0][0]: clip.masks[0]})]

    edge = card.preferred_short_edge
    resize = None if edge is None else ResizePolicy(min_short_edge=edge, max_short_edge=edge)
    by_hand = VMOSTracker(load_vmos(default_checkpoint()).eval(), policy=memory_policy(card.preferred_memory),
                          device="cpu", resize=resize, precision="fp32", flip=card.preferred_flip)
    theirs = [by_hand.step(image, clip.masks[0] if t == 0 else None).labels for t, (_, image) in enumerate(clip.frames)]
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    assert np.mean(ours[-1] == clip.masks[-1]) > 0.9  # a real model tracking the swan, not an empty map
    assert tracker.description.startswith(f"model {default_checkpoint().name}")
    assert "memory policy" in tracker.description and "(model card)" in tracker.description


def test_config_settings_given_win_and_bad_names_fail_before_loading(tmp_path):
    config = InferenceConfig.from_card(checkpoint="none", memory="paper", flip=True)
    assert config.card is None and (config.memory, config.flip) == ("paper", True)
    assert config.chosen_by_card == {"short_edge", "precision", "refiner"}
    assert (config.short_edge, config.precision, config.refiner) == (None, "auto", "none")  # no card: defaults
    with pytest.raises(KeyError, match="unknown memory policy 'banana'"):
        InferenceConfig.from_card(checkpoint="none", memory="banana")
    with pytest.raises(KeyError, match="unknown refiner"):
        InferenceConfig(refiner="grabcut")
    with pytest.raises(ValueError, match="short_edge"):
        InferenceConfig(short_edge=8)
    with pytest.raises(ValueError, match="flip must be True or False"):
        InferenceConfig(flip="yes")
    with pytest.raises(TypeError, match="unknown settings"):
        InferenceConfig.from_card(flips=True)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        build_vmos(InferenceConfig(checkpoint=tmp_path / "missing.safetensors"))


def _tiny_tracker():
    return VMOSTracker(vmos_from_preset("deaot_t", embed_dim=32, att_dim=16).eval(), device="cpu")


def _video(n=5):
    return noise_video(n, H, W, np.uint8)


def _old_merge(outs, ids):
    merged = soft_aggregate([torch.log(o.probs.float().clamp_min(1e-8))[None] for o in outs])[0]
    return np.array([0, *ids], dtype=np.int64)[channel_argmax(merged).cpu().numpy()]


def _old_track_separate(make_tracker, frames, mask):
    """The ablation runner's hand-written per-object loop before it used track_video (the reference)."""
    ids = [int(i) for i in np.unique(mask) if i != 0]
    trackers = [make_tracker() for _ in ids]
    labels = [mask.astype(np.uint8)]
    for tracker, obj in zip(trackers, ids):
        tracker.step(frames[0], (mask == obj).astype(np.int64))
    for image in frames[1:]:
        labels.append(_old_merge([tracker.step(image) for tracker in trackers], ids).astype(np.uint8))
    return labels


def _factory(seed=0):
    torch.manual_seed(seed)
    net = vmos_from_preset("deaot_t", embed_dim=32, att_dim=16).eval()
    return lambda: VMOSTracker(net, device="cpu")


def test_per_object_track_video_equals_the_old_separate_loop():
    frames, mask = _video()
    reference = _old_track_separate(_factory(), frames, mask)
    named = [(f"{t:05d}", f) for t, f in enumerate(frames)]
    ours = [f.labels.astype(np.uint8) for f in track_video(_factory(), named, {"00000": mask}, per_object=True)]
    assert len(ours) == len(reference)
    for a, b in zip(ours, reference):
        np.testing.assert_array_equal(a, b)
    assert len(np.unique(ours[-1])) > 1  # something tracked
    run = track_separate(_factory(), LabelledClip("toy", frames, [mask] * len(frames)), resolve_precision("fp32"))
    for a, b in zip(run.labels, reference):
        np.testing.assert_array_equal(a, b)
    assert len(run.vmos_seconds) == len(frames) - 1 and run.memory_bytes > 0


def test_per_object_prompted_late_equals_the_old_loop_and_counts_conflicts():
    """Object 2 prompted on frame 2: a new tracker from there on (the old track_prompted loop, inlined here)."""
    frames, mask = _video()
    first, late = np.where(mask == 1, 1, 0).astype(np.uint8), np.where(mask == 2, 2, 0).astype(np.uint8)
    make = _factory()
    trackers, reference = [], []
    for t, image in enumerate(frames):
        prompt = {0: first, 2: late}.get(t)
        outs = [tracker.step(image) for _, tracker in trackers]
        for obj in ([int(i) for i in np.unique(prompt) if i] if prompt is not None else []):
            tracker = make()
            outs.append(tracker.step(image, (prompt == obj).astype(np.int64)))
            trackers.append((obj, tracker))
        reference.append(_old_merge(outs, [o for o, _ in trackers]).astype(np.uint8))
    run = track_prompted(_factory(), frames, {0: first, 2: late}, mode="separate")
    assert run.known == [[1], [1], [1, 2], [1, 2], [1, 2]]
    for a, b in zip(run.labels, reference):
        np.testing.assert_array_equal(a, b)
    assert all(c >= 0 for c in run.conflicts)


def test_per_object_refuses_a_tracker_and_corrections():
    frames, mask = _video(2)
    with pytest.raises(TypeError, match="function returning a fresh tracker"):
        next(track_video(_tiny_tracker(), [("a", frames[0])], {"a": mask}, per_object=True))
    named = [("a", frames[0]), ("b", frames[1])]
    with pytest.raises(ValueError, match="already tracked"):
        list(track_video(_factory(), named, {"a": mask, "b": mask}, per_object=True))


def test_step_outputs_are_one_type_and_frames_carry_timings():
    frames, mask = _video(3)
    pipeline = build_tracker(InferenceConfig(checkpoint="none", model="deaot_t", precision="fp32", device="cpu"))
    seen = []
    for frame in track_video(pipeline, [(str(t), f) for t, f in enumerate(frames)], {"0": mask}, outputs=True):
        assert isinstance(frame.output, PipelineOutput) and isinstance(frame.output, StepOutput)
        assert frame.output.probs is not None and np.array_equal(frame.output.raw_labels, frame.labels)
        seen.append((frame.seconds, frame.cpu_seconds))
        time.sleep(0.01)  # the caller's time between steps is not the step's
    assert len(seen) == 3 and all(s >= 0 and c >= 0 for s, c in seen)
    assert next(track_video(pipeline, [("0", frames[0])], {"0": mask})).output is None  # not kept unless asked


def test_the_readme_example_runs_as_written(monkeypatch, capsys):
    """The Python block of README.md, executed as it stands (on the first 2 frames of its clip, to stay cheap):
    a renamed or removed front-door name fails here."""
    import re
    from functools import partial
    from pathlib import Path

    import hqtrack_core.data.demo as demo

    _teaching_card()  # skips without the committed checkpoint
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert len(blocks) == 1, "README.md should hold one Python example"
    monkeypatch.setattr(demo, "load_clip", partial(demo.load_clip, max_frames=2))
    exec(compile(blocks[0], "README.md", "exec"), {})
    lines = capsys.readouterr().out.split("\n")
    assert lines[:2] == ["00000 (480, 854)", "00001 (480, 854)"]
