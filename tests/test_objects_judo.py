"""Objects added and removed mid-video, on a real clip: Cutie's ``judo`` example (16 frames, prompt masks at
frames 0, 5, 8, 13, each adding one object, ids 1..4; ``masks/judo/00005.png`` is one column short).

Mechanics only (randomly initialised DeAOT-T and HQTrack's multi-scale teaching preset, at a quarter of 480p):
which ids the tracker knows after each prompt, that its label maps hold only known ids, and that a removed
id disappears from the output.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from hqtrack_core.data.datasets import folder_video
from hqtrack_core.data.masks import fit_mask_to, read_mask
from hqtrack_core.inference.engine import VMOSTracker
from hqtrack_core.inference.memory import memory_policy
from hqtrack_core.model.build import vmos_from_preset

SCALE = 0.25  # 854x480 -> 214x120: the mechanics do not depend on the size
PROMPTS = {0: {1}, 5: {2}, 8: {3}, 13: {4}}


@pytest.fixture(scope="module")
def judo(shared_data):
    root = shared_data / "cutie_examples"
    video = folder_video(root / "images" / "judo", root / "masks" / "judo")
    frames = [image for _, image in video.frames()]
    h, w = frames[0].shape[:2]
    size = (round(w * SCALE), round(h * SCALE))
    small = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    prompts = {}
    for index, stem in enumerate(video.stems):
        if stem in video.annotated:
            prompts[index] = cv2.resize(video.mask(stem), size, interpolation=cv2.INTER_NEAREST).astype(np.int64)
    return small, prompts


def test_judo_layout_and_short_mask(shared_data):
    """The known defect: 00005.png is 853 wide; fit_mask_to pads it to the frame (one background column)."""
    root = shared_data / "cutie_examples"
    raw = read_mask(root / "masks" / "judo" / "00005.png")
    assert raw.shape == (480, 853)
    with pytest.warns(UserWarning, match="853x480"):
        fixed = fit_mask_to(raw, (480, 854))
    assert fixed.shape == (480, 854) and not fixed[:, -1].any()
    np.testing.assert_array_equal(fixed[:, :853], raw)


def _tracker(preset: str = "deaot_t") -> VMOSTracker:
    torch.manual_seed(0)
    net = vmos_from_preset(preset).eval()
    return VMOSTracker(net, policy=memory_policy("released", long_term_gap=4))


@pytest.mark.parametrize("preset", ["deaot_t", "hqtrack_teach"])
def test_judo_objects_added_mid_video(judo, preset):
    frames, prompts = judo
    assert sorted(prompts) == sorted(PROMPTS)
    for index, ids in PROMPTS.items():
        assert set(np.unique(prompts[index]).tolist()) - {0} == ids, f"prompt {index}"
    torch.set_num_threads(1)
    tracker = _tracker(preset)
    known: set[int] = set()
    for index, image in enumerate(frames):
        mask = prompts.get(index)
        out = tracker.step(image, mask)
        if mask is not None:
            known |= PROMPTS[index]
            # the prompt's object is exactly where the prompt put it
            new = next(iter(PROMPTS[index]))
            np.testing.assert_array_equal(out.labels == new, mask == new)
        assert set(tracker.object_ids) == known, f"frame {index}"
        assert out.object_ids == sorted(known)  # output order = order of addition (= id order here)
        assert out.labels.shape == image.shape[:2]
        assert set(np.unique(out.labels).tolist()) <= known | {0}, f"frame {index}: unknown id in output"
        assert out.probs.shape == (len(known) + 1, *image.shape[:2])
    assert known == {1, 2, 3, 4}
    # every prompt frame became a pinned reference (one group: all ids fit in 10 slots)
    assert len(tracker.memory) == 1
    assert [e.frame_index for e in tracker.memory[0].references] == [13, 8, 5, 0]


def test_judo_removed_object_disappears(judo):
    frames, prompts = judo
    torch.set_num_threads(1)
    tracker = _tracker()
    for index in range(9):  # objects 1, 2, 3 known after frame 8
        tracker.step(frames[index], prompts.get(index))
    assert tracker.object_ids == [1, 2, 3]
    tracker.remove_object(2)
    assert tracker.object_ids == [1, 3]
    with pytest.raises(KeyError, match="unknown object id 2"):
        tracker.remove_object(2)
    for index in range(9, 12):
        out = tracker.step(frames[index])
        assert out.object_ids == [1, 3]
        assert 2 not in np.unique(out.labels)
        assert out.probs.shape[0] == 3
        np.testing.assert_allclose(out.probs.sum(0).numpy(), 1.0, atol=1e-5)
    # a removed id cannot come back under the same id; a new id can be added
    with pytest.raises(ValueError, match="removed"):
        tracker.step(frames[12], np.where(prompts[8] == 3, 2, 0))
    out = tracker.step(frames[13], prompts[13])
    assert out.object_ids == [1, 3, 4]
    assert set(np.unique(out.labels).tolist()) <= {0, 1, 3, 4}


def test_load_judo_pads_the_short_mask_and_keeps_prompts(shared_data):
    """The package's judo loader (notebooks 03 and 14): 16 frames, one new id per prompt frame, the short mask
    padded and reported."""
    from hqtrack_core.data.demo import load_judo

    clip = load_judo(shared_data, scale=0.25)
    assert len(clip) == 16 and clip.frames[0].shape == (120, 214, 3)
    assert {t: sorted(int(i) for i in np.unique(p) if i) for t, p in clip.prompts.items()} == \
        {t: sorted(ids) for t, ids in PROMPTS.items()}
    assert all(p.shape == (120, 214) for p in clip.prompts.values())
    assert clip.first_prompt == {1: 0, 2: 5, 3: 8, 4: 13}
    assert len(clip.warnings) == 1 and "00005.png: 853x480 -> 854x480" in clip.warnings[0]


def test_track_prompted_joint_and_separate_on_judo(judo):
    """Joint: one tracker learns each id at its prompt frame; separate: one tracker per object from its prompt
    frame; both output only known ids, and only separate tracking can have objects claiming the same pixel."""
    from hqtrack_core.ablation.runner import track_prompted

    frames, prompts = judo
    frames, prompts = frames[:10], {t: p for t, p in prompts.items() if t < 10}
    runs = {mode: track_prompted(_tracker, frames, prompts, mode) for mode in ("joint", "separate")}
    for run in runs.values():
        assert run.known[0] == [1] and run.known[5] == [1, 2] and run.known[9] == [1, 2, 3]
        assert all(set(np.unique(lab).tolist()) <= set(k) | {0} for lab, k in zip(run.labels, run.known))
        for t, prompt in prompts.items():  # a prompt frame outputs its own new object where prompted
            assert (run.labels[t][prompt > 0] == prompt[prompt > 0]).mean() > 0.99
    assert runs["joint"].conflicts == [0] * 10
    assert len(runs["separate"].conflicts) == 10 and min(runs["separate"].conflicts) >= 0
    with pytest.raises(ValueError, match="first frame needs a prompt"):
        track_prompted(_tracker, frames, {5: prompts[5]})
    with pytest.raises(ValueError, match="mode must be"):
        track_prompted(_tracker, frames, prompts, "both")
