"""Stage-1 synthetic clips and stage-2 video clips: shapes, object rules, determinism, frame sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hqtrack_core.data.clips import ClipIndex, VideoClips, _reflect, davis_sequences
from hqtrack_core.data.synthetic import SyntheticClips, pairs_from_davis, pairs_from_folders
from hqtrack_core.data.transforms import paste_clip, select_objects

from _train_helpers import make_static_folder


def test_synthetic_clip_shapes_objects_and_determinism(tmp_path):
    root = make_static_folder(tmp_path)
    pairs = pairs_from_folders(root / "images", root / "masks")
    ds = SyntheticClips(pairs, crop=(49, 65), seq_len=4, max_objects=3, min_object_pixels=20, merge_prob=1.0, seed=3)
    s = ds[5]
    assert s["frames"].shape == (4, 3, 49, 65) and s["frames"].dtype == torch.float32
    assert s["labels"].shape == (4, 49, 65)
    n = s["n_objects"]
    assert 1 <= n <= 3
    assert int(s["labels"].max()) <= n
    first_ids = set(torch.unique(s["labels"][0]).tolist())
    assert first_ids == set(range(n + 1))  # every kept object is visible in the reference frame
    again = ds[5]
    assert torch.equal(s["frames"], again["frames"]) and torch.equal(s["labels"], again["labels"])
    other = ds[6]
    assert not torch.equal(s["frames"], other["frames"])
    # later frames are warped copies, not the reference
    assert not torch.equal(s["labels"][0], s["labels"][1]) or not torch.equal(s["frames"][0], s["frames"][1])


def test_synthetic_needs_two_images_and_matching_folders(tmp_path):
    root = make_static_folder(tmp_path, n=2)
    pairs = pairs_from_folders(root / "images", root / "masks")
    with pytest.raises(ValueError, match="at least 2"):
        SyntheticClips(pairs[:1], crop=(33, 33))
    with pytest.raises(FileNotFoundError):
        pairs_from_folders(root / "images", tmp_path / "missing")


def test_select_objects_caps_count_and_drops_small_objects():
    rng = np.random.default_rng(0)
    lb = torch.zeros(20, 20, dtype=torch.uint8)
    for k in range(1, 13):  # 12 objects of 10 px, plus one tiny object
        lb[k, :10] = k
    lb[19, 0] = 13
    out, n = select_objects([lb, lb], rng, max_objects=10, min_pixels=5)
    assert n == 10
    assert set(torch.unique(out[0]).tolist()) == set(range(11))
    assert torch.equal(out[0], out[1])


def test_paste_puts_the_second_clip_on_top():
    rng = np.random.default_rng(0)
    im1 = [torch.zeros(3, 8, 8, dtype=torch.uint8)]
    im2 = [torch.full((3, 8, 8), 200, dtype=torch.uint8)]
    lb1 = [torch.zeros(8, 8, dtype=torch.uint8)]
    lb1[0][:, :4] = 1
    lb2 = [torch.zeros(8, 8, dtype=torch.uint8)]
    lb2[0][:4, :] = 1
    images, labels, n = paste_clip(im1, lb1, 1, im2, lb2, 1, rng, max_objects=10, min_pixels=0)
    assert n == 2
    assert (images[0][:, :4] == 200).all() and (images[0][:, 4:] == 0).all()
    top = labels[0][:4]
    assert len(torch.unique(top)) == 1 and int(top[0, 0]) != 0  # pasted object covers the first one
    assert (labels[0][4:, :4] != 0).all() and (labels[0][4:, 4:] == 0).all()


def test_clip_index_visits_every_item_once_per_epoch():
    idx = ClipIndex(7, seed=1)
    items = [idx.locate(i)[0] for i in range(14)]
    assert sorted(items[:7]) == list(range(7)) and sorted(items[7:]) == list(range(7))
    assert items[:7] != items[7:]
    with pytest.raises(IndexError):
        idx.locate(-1)


def test_reflect_keeps_indices_in_range():
    assert [_reflect(i, 5) for i in (0, 4, 5, 6, 9, -2)] == [0, 4, 3, 2, 1, 2]
    assert _reflect(3, 1) == 0


def test_video_clips_from_davis_train(shared_data):
    root = shared_data / "davis2016"
    seqs = davis_sequences(root, "train", "240p")
    assert len(seqs) == 30
    dev = {ln.strip() for ln in (root / "ImageSets" / "dev.txt").read_text().splitlines() if ln.strip()}
    assert not dev & {s.name for s in seqs}  # never train on dev sequences
    ds = VideoClips(seqs[:3], crop=(97, 129), seq_len=4, max_gap=5, short_edge=120, merge_prob=0.0, seed=0)
    for i in range(3):
        s = ds[i]
        assert s["frames"].shape == (4, 3, 97, 129)
        assert s["n_objects"] in (0, 1)
    frames = ds.choose_frames(seqs[0], np.random.default_rng(0))
    steps = np.abs(np.diff(frames))
    assert len(frames) == 4 and steps.max() <= 5
    s1 = ds[2]
    assert torch.equal(s1["labels"], ds[2]["labels"])


def test_static_pairs_from_davis_frames(shared_data):
    pairs = pairs_from_davis(shared_data / "davis2016", "train", "240p", frame_stride=20)
    assert len(pairs) > 30
    assert all(p.image.stem == p.mask.stem for p in pairs)
