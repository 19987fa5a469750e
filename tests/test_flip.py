"""Test-time flip (aot-benchmark TEST_FLIP) in VMOSTracker: two views per frame, probabilities averaged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hqtrack_core.inference import MemoryPolicy, VMOSTracker
from hqtrack_core.model.build import vmos_from_preset

H, W = 65, 97


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return vmos_from_preset("deaot_t").eval()


def _video(n=6, seed=1):
    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(n)]
    mask = np.zeros((H, W), np.int64)
    mask[5:30, 4:40] = 2
    mask[35:60, 50:90] = 5
    return frames, mask


def _run(tracker, frames, mask, extra=None):
    outs = [tracker.step(frames[0], mask)]
    for t, image in enumerate(frames[1:], start=1):
        outs.append(tracker.step(image, extra) if (extra is not None and t == 3) else tracker.step(image))
    return outs


@pytest.mark.parametrize("flip_memory", ["fused", "own"])
def test_flip_is_mirror_symmetric(model, flip_memory):
    """Tracking the mirrored video gives the mirrored probabilities: the two views are swapped, nothing else."""
    frames, mask = _video()
    policy = MemoryPolicy(long_term_gap=2)
    a = _run(VMOSTracker(model, policy, flip=True, flip_memory=flip_memory), frames, mask)
    b = _run(VMOSTracker(model, policy, flip=True, flip_memory=flip_memory),
             [np.ascontiguousarray(f[:, ::-1]) for f in frames], np.ascontiguousarray(mask[:, ::-1]))
    for x, y in zip(a[1:], b[1:]):
        torch.testing.assert_close(x.probs, y.probs.flip(-1), atol=1e-5, rtol=0)
        assert (x.labels == y.labels[:, ::-1]).mean() > 0.999


def test_flip_averages_two_different_views(model):
    frames, mask = _video()
    plain = _run(VMOSTracker(model, MemoryPolicy(long_term_gap=2)), frames, mask)
    flipped = VMOSTracker(model, MemoryPolicy(long_term_gap=2), flip=True)
    outs = _run(flipped, frames, mask)
    assert flipped.num_views == 2 and flipped.memory[0].short_term.keys[0].shape[0] == 2
    for x, y in zip(outs[1:], plain[1:]):
        assert x.probs.shape == y.probs.shape == (3, H, W)
        torch.testing.assert_close(x.probs.sum(0), torch.ones(H, W))
        torch.testing.assert_close(torch.softmax(x.logits, 0), x.probs)
        assert set(np.unique(x.labels)) <= {0, 2, 5}
    assert max(float((x.probs - y.probs).abs().max()) for x, y in zip(outs[1:], plain[1:])) > 1e-3


def test_own_memory_keeps_view_zero_as_the_plain_tracker(model):
    """flip_memory='own' (the official evaluator): view 0 writes its own prediction, so its memory is exactly the
    memory of a tracker without the flip; 'fused' writes the fused labels and differs."""
    frames, mask = _video(7)
    policy = MemoryPolicy(long_term_gap=2)
    plain = VMOSTracker(model, policy)
    own = VMOSTracker(model, policy, flip=True, flip_memory="own")
    fused = VMOSTracker(model, policy, flip=True, flip_memory="fused")
    for tracker in (plain, own, fused):
        _run(tracker, frames, mask)
    ref = plain.memory[0]
    assert own.memory[0].frame_indices == ref.frame_indices
    for layer in range(len(ref.short_term.keys)):
        torch.testing.assert_close(own.memory[0].short_term.values[layer][:1], ref.short_term.values[layer],
                                   atol=1e-5, rtol=0)
        lk, lv = own.memory[0].long_term_tokens(layer)
        rk, rv = ref.long_term_tokens(layer)
        torch.testing.assert_close(lv[:1], rv, atol=1e-5, rtol=0)
    diff = max(float((fused.memory[0].short_term.values[i][:1] - ref.short_term.values[i]).abs().max())
               for i in range(len(ref.short_term.values)))
    assert diff > 1e-4


@pytest.mark.parametrize("flip_memory", ["fused", "own"])
def test_flip_with_a_mask_mid_video(model, flip_memory):
    """A mask adding object 9 on frame 3: both views take it (the mirrored view mirrored), the output keeps it."""
    frames, mask = _video()
    extra = np.zeros((H, W), np.int64)
    extra[40:60, 5:30] = 9
    tracker = VMOSTracker(model, MemoryPolicy(long_term_gap=2), flip=True, flip_memory=flip_memory)
    outs = _run(tracker, frames, mask, extra)
    assert tracker.object_ids == [2, 5, 9]
    assert np.all(outs[3].labels[extra == 9] == 9)
    assert outs[4].probs.shape == (4, H, W)
    # the mirrored view's reference holds the mirrored mask: the same run on the mirrored video is its mirror
    mirrored = VMOSTracker(model, MemoryPolicy(long_term_gap=2), flip=True, flip_memory=flip_memory)
    back = _run(mirrored, [np.ascontiguousarray(f[:, ::-1]) for f in frames], np.ascontiguousarray(mask[:, ::-1]),
                np.ascontiguousarray(extra[:, ::-1]))
    torch.testing.assert_close(outs[5].probs, back[5].probs.flip(-1), atol=1e-5, rtol=0)


def test_bad_flip_settings_are_refused(model):
    with pytest.raises(ValueError, match="flip must be True or False"):
        VMOSTracker(model, flip="yes")
    with pytest.raises(ValueError, match="flip_memory must be one of"):
        VMOSTracker(model, flip=True, flip_memory="mean")


def test_own_memory_keeps_edits_to_the_fused_labels(model):
    """flip_memory='own': where the labels written differ from the fused prediction (a refiner's or a user's change)
    both views take them (the mirrored view mirrored); elsewhere each view keeps its own prediction."""
    frames, mask = _video(3)
    tracker = VMOSTracker(model, MemoryPolicy(long_term_gap=2), flip=True, flip_memory="own")
    tracker.step(frames[0], mask)
    out = tracker.propagate(frames[1])
    pending = tracker._pending
    own, mirrored = pending.view_labels
    assert own.shape == mirrored.shape == (H, W)
    edited = out.labels.copy()
    edited[10:20, 60:80] = 5
    changed = edited != out.labels
    assert changed.any()
    views = tracker._view_labels(edited, pending)
    np.testing.assert_array_equal(views[0], np.where(changed, edited, own))
    np.testing.assert_array_equal(views[1], np.where(changed[:, ::-1], edited[:, ::-1], mirrored))
    tracker.remember(edited)  # and the write itself goes through
    assert tracker.memory[0].short_term.frame_index == 1
