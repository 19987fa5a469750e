"""The failure-aimed augmentations (issue 34): off by default (old presets make the same clips bit for bit), image
and label map stay aligned, deterministic under a seed, and the next recipe's presets."""

from __future__ import annotations

import dataclasses
import hashlib

import cv2
import numpy as np
import pytest
import torch

from hqtrack_core.data.clips import VideoClips, davis_sequences
from hqtrack_core.data.hard_augment import (HardAugment, apply_clip_augment, motion_blur, motion_blur_kernel,
                                            thin_structures, zoom_clip, zoom_scales)
from hqtrack_core.training.config import PRESETS, TrainConfig, get_train_config
from hqtrack_core.training.trainer import build_dataset

from _train_helpers import make_davis_folder

# The first batch of the old presets on make_davis_folder(), computed with the code before the augmentations
# existed (commit 9aca1fa): per preset the object counts, the SHA-256 of the label maps (bit for bit) and the mean
# of every normalised frame (to 4 decimals: a CPU kind may round the colour jitter or the Gaussian blur of a few
# pixels by one grey level, which moves a frame's mean by < 1e-3; a changed random draw moves it by 0.05 or more).
_OLD_FIRST_BATCH = {
    "cpu_teach_stage1": ([2, 2], "9eee70c42b267ae8722456c768d644e4493bfa4f62fc55e0d2bda2676cfaa06b",
                         [0.4977, -0.3919, -0.3572, -0.5174, -0.5018, -0.2696, 0.1891, 0.3087, 0.7055, 0.3112]),
    "cpu_teach_stage2": ([2, 1], "5d4f44fe5a0fc514ce0a9d312e91dd414683cf06b143913d4282f2d4c809f307",
                         [-0.0572, -0.1955, 0.4285, -0.2968, 0.3202, -0.4388, 0.4173, 0.8624, 0.3909, -0.4874]),
}
_OLD_PRESETS = ("paper_stage1", "paper_stage2", "cpu_teach_stage1", "cpu_teach_stage2", "ci_smoke")


@pytest.mark.parametrize("name", sorted(_OLD_FIRST_BATCH))
def test_old_preset_first_batch_is_unchanged(tmp_path, name):
    cfg = get_train_config(name)
    ds = build_dataset(cfg, make_davis_folder(tmp_path))
    batch = [ds[i] for i in range(cfg.batch_size)]  # step 0's sample ids (StepBatchSampler, one rank)
    counts, labels_sha, means = _OLD_FIRST_BATCH[name]
    assert [b["n_objects"] for b in batch] == counts
    assert hashlib.sha256(b"".join(b["labels"].numpy().tobytes() for b in batch)).hexdigest() == labels_sha
    got = [float(b["frames"][t].mean()) for b in batch for t in range(len(b["frames"]))]
    np.testing.assert_allclose(got, means, atol=5e-3)


def test_augmentations_are_off_by_default_and_in_old_presets():
    off = HardAugment()
    assert not off.any_clip_level and off.fast_gap_prob == 0 and off.static_translate == 0.1
    assert TrainConfig().hard_augment() == off
    for name in _OLD_PRESETS + tuple(n for n in PRESETS if n.startswith("cpu_teach_stage")):
        assert get_train_config(name).hard_augment() == off, name
    # off draws no random number and returns the clip as it is
    rng = np.random.default_rng(1)
    state = rng.bit_generator.state
    images = [torch.full((3, 9, 9), 7, dtype=torch.uint8)]
    labels = [torch.ones(9, 9, dtype=torch.uint8)]
    out = apply_clip_augment(images, labels, 1, off, rng, 10, 0)
    assert out[0][0] is images[0] and out[1][0] is labels[0] and out[2] == 1
    assert rng.bit_generator.state == state


def test_bad_augmentation_settings_name_the_field():
    with pytest.raises(ValueError, match="motion_blur_prob"):
        TrainConfig(motion_blur_prob=1.5)
    with pytest.raises(ValueError, match="zoom_range"):
        TrainConfig(zoom_range=(0.0, 2.0))
    with pytest.raises(ValueError, match="thin_width"):
        TrainConfig.from_dict({"thin_width": [3, 1]})


def test_motion_blur_kernel_is_a_line_of_the_given_length_and_angle():
    for length in (1, 5, 9):
        k = motion_blur_kernel(length, 0.0)
        assert k.shape == (length, length) and k.sum() == pytest.approx(1.0)
        assert np.count_nonzero(k[length // 2]) == length  # one row: a horizontal streak
    vertical = motion_blur_kernel(9, 90.0)
    assert np.count_nonzero(vertical[:, 4] > 0.05) == 9 and np.count_nonzero(vertical[4] > 0.05) == 1
    image = torch.zeros(3, 21, 21, dtype=torch.uint8)
    image[:, 10, 10] = 255
    streak = motion_blur(image, 7, 0.0)
    assert streak.shape == image.shape and streak.dtype == torch.uint8
    assert torch.nonzero(streak[0]).tolist() == [[10, x] for x in range(7, 14)]


def test_motion_blur_changes_frames_not_masks_and_is_deterministic(tmp_path):
    seqs = davis_sequences(make_davis_folder(tmp_path), "train", "240p")
    kwargs = dict(crop=(65, 65), seq_len=3, short_edge=96, merge_prob=0.3, min_object_pixels=20, seed=5,
                  normalize=False)
    plain = VideoClips(seqs, **kwargs)
    blurred = VideoClips(seqs, **kwargs, augment=HardAugment(motion_blur_prob=1.0, motion_blur_length=(9, 9)))
    for i in range(3):
        a, b = plain[i], blurred[i]
        assert torch.equal(a["labels"], b["labels"]) and a["n_objects"] == b["n_objects"]  # the same clip ...
        assert not torch.equal(a["frames"], b["frames"])  # ... with blurred frames
        # blur only mixes neighbouring pixels: each frame's mean colour barely moves
        assert (a["frames"].float().mean((2, 3)) - b["frames"].float().mean((2, 3))).abs().max() < 8
        again = blurred[i]
        assert torch.equal(again["frames"], b["frames"]) and torch.equal(again["labels"], b["labels"])


def test_zoom_scales_magnify_every_frame_towards_the_factor():
    assert zoom_scales(5, 2.0) == pytest.approx([1.0, 2 ** 0.25, 2 ** 0.5, 2 ** 0.75, 2.0])
    assert zoom_scales(5, 0.5) == pytest.approx([2.0, 2 ** 0.75, 2 ** 0.5, 2 ** 0.25, 1.0])
    assert min(zoom_scales(7, 0.6)) >= 1.0 and zoom_scales(1, 2.0) == [1.0]


def test_zoomed_clip_keeps_image_and_mask_aligned():
    h, w = 60, 80
    lb = torch.zeros(h, w, dtype=torch.uint8)
    lb[22:34, 30:46] = 1
    image = (lb * 200)[None].repeat(3, 1, 1)  # the image shows exactly the mask
    images, labels, n = zoom_clip([image] * 5, [lb] * 5, 1, np.random.default_rng(0), (2.0, 2.0), 10, 10)
    assert n == 1 and torch.equal(labels[0], lb) and torch.equal(images[0], image)  # frame 0 at scale 1
    areas = [int(m.sum()) for m in labels]
    assert areas == sorted(areas) and areas[-1] == pytest.approx(4 * areas[0], rel=0.1)  # 2x per side
    ys, xs = torch.nonzero(labels[-1], as_tuple=True)
    assert float(ys.float().mean()) == pytest.approx(27.5, abs=1) and float(xs.float().mean()) == pytest.approx(
        37.5, abs=1)  # zoomed about the object's centre
    for im, m in zip(images, labels):
        # away from the mask's edge (where bilinear mixes), the image is bright exactly where the mask is set
        pad = torch.nn.functional.pad(m[None, None].float(), (1, 1, 1, 1), mode="replicate")
        window = torch.nn.functional.unfold(pad, 3)[0].view(9, h, w)
        uniform = (window == window[:1]).all(0)
        assert torch.equal((im[0] > 100)[uniform], (m > 0)[uniform])


def test_zoom_drops_objects_pushed_out_of_the_reference_frame():
    lb = torch.zeros(40, 40, dtype=torch.uint8)
    lb[18:22, 18:22] = 1  # zoom centre
    lb[0:6, 0:6] = 2  # in the corner: leaves the frame when frame 0 is magnified
    images = [torch.zeros(3, 40, 40, dtype=torch.uint8)] * 3
    for seed in range(20):  # whichever object the centre is drawn on
        _, labels, n = zoom_clip(images, [lb] * 3, 2, np.random.default_rng(seed), (0.5, 0.5), 10, 5)
        present = set(torch.unique(labels[0]).tolist()) - {0}
        assert present == set(range(1, n + 1))  # every kept object is in the reference frame, ids 1..n
        assert set().union(*(torch.unique(m).tolist() for m in labels)) <= set(range(n + 1))


def test_thin_structures_draw_thin_objects_and_parts_where_the_masks_say():
    h, w = 64, 64
    lb = torch.zeros(h, w, dtype=torch.uint8)
    lb[24:40, 24:40] = 1
    images = [torch.zeros(3, h, w, dtype=torch.uint8) for _ in range(4)]
    seen_new = seen_part = False
    for seed in range(30):
        out_images, labels, n = thin_structures(images, [lb] * 4, 1, np.random.default_rng(seed), (2, 3), 1, 10, 20)
        for im, m in zip(out_images, labels):
            changed = (im != 0).any(0)
            # every drawn pixel carries a label; the image is untouched where no curve is
            assert (m[changed] > 0).all()
            assert torch.equal(changed, changed & ((m != lb) | (lb > 0)))
        if n == 2:
            seen_new = True
            thin = (labels[0] == 2).numpy().astype(np.uint8)
            # a few pixels wide, not a blob (padded: OpenCV counts the image border as foreground)
            assert cv2.distanceTransform(np.pad(thin, 1), cv2.DIST_L2, 5).max() <= 3.0
            assert thin.sum() > 20
        elif int((labels[0] == 1).sum()) > int((lb == 1).sum()):
            seen_part = True  # a curve grown out of object 1 as its part
    assert seen_new and seen_part
    a = thin_structures(images, [lb] * 4, 1, np.random.default_rng(3), (1, 4), 2, 10, 20)
    b = thin_structures(images, [lb] * 4, 1, np.random.default_rng(3), (1, 4), 2, 10, 20)
    assert all(torch.equal(x, y) for x, y in zip(a[0] + a[1], b[0] + b[1])) and a[2] == b[2]


def test_fast_motion_draws_larger_frame_gaps(tmp_path):
    seqs = davis_sequences(make_davis_folder(tmp_path, n_seq=2, n_frames=80, size=(24, 32)), "train", "240p")
    common = dict(crop=(17, 17), seq_len=5, max_gap=12, random_reverse=False, short_edge=24, seed=0)

    def largest_gap(ds):
        gaps = []
        for i in range(40):
            item, rng = ds.index.locate(i)
            idx = ds.choose_frames(ds.sequences[item % 2], rng, ds.index.augment_rng(i))
            gaps += [abs(b - a) for a, b in zip(idx, idx[1:])]
        return max(gaps)

    assert largest_gap(VideoClips(seqs, **common)) <= 12
    assert 12 < largest_gap(VideoClips(seqs, **common, augment=HardAugment(fast_gap_prob=1.0, fast_max_gap=25))) <= 25


@pytest.mark.parametrize("name", ["cpu_teach3_stage1", "cpu_teach3_stage2"])
def test_teach3_presets_make_valid_deterministic_clips(tmp_path, name):
    cfg = get_train_config(name)
    assert cfg.hard_augment().any_clip_level and cfg.data_split == "train_fit"
    assert (cfg.stage, cfg.steps) == ((1, 2000) if name.endswith("stage1") else (2, 1000))
    cfg = cfg.replace(data_split="train", crop=(65, 65), short_edge=96, zoom_prob=1.0, thin_prob=1.0)
    ds = build_dataset(cfg, make_davis_folder(tmp_path))
    for i in range(4):
        s = ds[i]
        n = s["n_objects"]
        assert s["frames"].shape == (cfg.seq_len, 3, 65, 65) and 1 <= n <= cfg.max_objects
        assert set(torch.unique(s["labels"][0]).tolist()) == set(range(n + 1))
        assert int(s["labels"].max()) <= n
        again = ds[i]
        assert torch.equal(s["frames"], again["frames"]) and torch.equal(s["labels"], again["labels"])


def test_teach3_split_is_settable_from_the_cli():
    from hqtrack_core.commands.train import resolve_config

    args = type("Args", (), dict(config="cpu_teach3_stage2", steps=None, model=None, init=None, precision=None,
                                 set=["data_split=train"]))()
    cfg = resolve_config(args)
    assert cfg.data_split == "train"
    assert dataclasses.replace(cfg, data_split="train_fit") == get_train_config("cpu_teach3_stage2")
