"""Readers and writers: masks, frames, VOTS layout, dataset layouts -- round trips and clear errors."""

from __future__ import annotations


import cv2
import numpy as np
import pytest
from PIL import Image

from hqtrack_core.data.datasets import davis_videos, folder_video, video_file, vots_video, write_davis_masks, youtube_vos_videos
from hqtrack_core.data.frames import list_frames, open_frames, read_frame
from hqtrack_core.data.masks import DAVIS_PALETTE, fit_mask_to, read_mask, write_mask
from hqtrack_core.data.vot_format import INITIALIZATION, Special, write_trajectory
from hqtrack_core.data.vots import (
    list_vots_sequences, read_vots_results, read_vots_sequence, result_path, write_vots_results, write_vots_sequence,
)


def _labels(h=12, w=16, seed=0):
    return np.random.default_rng(seed).integers(0, 4, size=(h, w)).astype(np.uint8)


# ------------------------------------------------------------------------------------------------- masks
def test_mask_round_trip_and_layouts(tmp_path):
    labels = _labels()
    path = write_mask(tmp_path / "a" / "m.png", labels)
    with Image.open(path) as image:
        assert image.mode == "P"
        assert np.array(image.getpalette()[:12]).reshape(4, 3).tolist() == DAVIS_PALETTE[:4].tolist()
    np.testing.assert_array_equal(read_mask(path), labels)
    assert not [p for p in path.parent.iterdir() if p.name != "m.png"]  # no temporary file left behind
    Image.fromarray((labels > 0).astype(np.uint8) * 255, mode="L").save(tmp_path / "binary.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "binary.png"), (labels > 0).astype(np.uint8))
    Image.fromarray(labels, mode="L").save(tmp_path / "grey.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "grey.png"), labels)
    Image.fromarray(DAVIS_PALETTE[labels], mode="RGB").save(tmp_path / "rgb.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "rgb.png"), labels)


def test_mask_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_mask(tmp_path / "none.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read mask"):
        read_mask(tmp_path / "bad.png")
    Image.fromarray(np.full((4, 4, 3), (1, 2, 3), np.uint8), mode="RGB").save(tmp_path / "odd.png")
    with pytest.raises(ValueError, match="not in the DAVIS palette"):
        read_mask(tmp_path / "odd.png")
    with pytest.raises(ValueError, match="2-D"):
        write_mask(tmp_path / "x.png", np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        write_mask(tmp_path / "x.png", np.full((2, 2), 300))
    assert not (tmp_path / "x.png").exists()


def test_fit_mask_to():
    labels = _labels(5, 7)
    with pytest.warns(UserWarning, match="padding/cropping"):
        padded = fit_mask_to(labels, (5, 8))
    assert padded.shape == (5, 8) and (padded[:, 7] == 0).all()
    with pytest.warns(UserWarning):
        assert fit_mask_to(labels, (4, 7)).shape == (4, 7)
    with pytest.raises(ValueError, match="does not match frame size"):
        fit_mask_to(labels, (5, 10))


@pytest.mark.shared_data
def test_judo_mask_one_column_short(shared_data):
    video = folder_video(shared_data / "cutie_examples" / "images" / "judo", shared_data / "cutie_examples" / "masks" / "judo")
    assert video.annotated == ["00000", "00005", "00008", "00013"]
    with pytest.warns(UserWarning, match="853x480"):
        mask = video.mask("00005")
        assert video.object_ids() == [1, 2, 3, 4]
    assert mask.shape == video.size == (480, 854)


# ------------------------------------------------------------------------------------------------ frames
def test_frames_folder_and_video(tmp_path):
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"{i:05d}.png"), np.full((8, 10, 3), (10 * i, 20, 30), np.uint8))
    (tmp_path / "notes.txt").write_text("x")
    assert [p.stem for p in list_frames(tmp_path)] == ["00000", "00001", "00002"]
    image = read_frame(tmp_path / "00001.png")
    assert image.shape == (8, 10, 3) and image[0, 0].tolist() == [30, 20, 10]  # RGB
    source = open_frames(tmp_path)
    assert len(source) == 3 and source.size == (8, 10) and [s for s, _ in source] == ["00000", "00001", "00002"]
    writer = cv2.VideoWriter(str(tmp_path / "v.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 5, (32, 24))
    for i in range(4):
        writer.write(np.full((24, 32, 3), 60 * i, np.uint8))
    writer.release()
    video = open_frames(tmp_path / "v.avi")
    assert video.is_video and len(video) == 4 and video.size == (24, 32)
    assert [s for s, _ in video] == ["00000", "00001", "00002", "00003"]


def test_frame_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        list_frames(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no frames"):
        list_frames(tmp_path)
    (tmp_path / "00000.jpg").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot decode"):
        read_frame(tmp_path / "00000.jpg")
    with pytest.raises(FileNotFoundError):
        open_frames(tmp_path / "missing.mp4")
    (tmp_path / "v.mp4").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot open video|no decodable"):
        open_frames(tmp_path / "v.mp4")
    sizes = tmp_path / "sizes"
    sizes.mkdir()
    cv2.imwrite(str(sizes / "0.png"), np.zeros((4, 4, 3), np.uint8))
    cv2.imwrite(str(sizes / "1.png"), np.zeros((5, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="one size"):
        list(open_frames(sizes))


# ----------------------------------------------------------------------------------------- VOTS layout
def _toy_vots(tmp_path, n_objects=2, length=5):
    h, w = 12, 16
    frames = [np.full((h, w, 3), 10 * t, np.uint8) for t in range(length)]
    gts = {}
    for o in range(1, n_objects + 1):
        masks = []
        for t in range(length):
            m = np.zeros((h, w), bool)
            m[o : o + 3, t + o : t + o + 4] = True
            masks.append(m)
        gts[str(o)] = masks
    write_vots_sequence(tmp_path / "seqs", "toy", frames, gts)
    return gts


def test_vots_layout_round_trip(tmp_path):
    gts = _toy_vots(tmp_path)
    seq = read_vots_sequence(tmp_path / "seqs" / "toy")
    assert seq.size == (16, 12) and len(seq) == 5 and sorted(seq.objects) == ["1", "2"] and seq.multiobject
    assert (tmp_path / "seqs" / "toy" / "color" / "00000001.jpg").is_file()
    np.testing.assert_array_equal(seq.object_mask("2", 3), gts["2"][3])
    assert list_vots_sequences(tmp_path / "seqs") == ["toy"]
    paths = write_vots_results(tmp_path / "res", "toy", gts, binary=True)
    assert sorted(p.name for p in paths) == ["toy_1_001.bin", "toy_2_001.bin"]
    results = read_vots_results(tmp_path / "res", seq)
    assert results["1"][0] == Special(INITIALIZATION)
    np.testing.assert_array_equal(results["1"][4].to_image_mask((12, 16)), gts["1"][4])
    # the toolkit reads the .txt when both exist
    write_vots_results(tmp_path / "res", "toy", {"1": [Special(0)] * 5, "2": gts["2"]}, binary=False)
    assert result_path(tmp_path / "res", "toy", "1", True).suffix == ".txt"
    assert read_vots_results(tmp_path / "res", seq)["1"][3] == Special(0)


def test_vots_single_object_naming_and_errors(tmp_path):
    gts = _toy_vots(tmp_path, n_objects=1)
    seq = read_vots_sequence(tmp_path / "seqs" / "toy")
    assert not seq.multiobject
    with pytest.raises(FileNotFoundError, match="toy_001"):
        read_vots_results(tmp_path / "res", seq)
    (path,) = write_vots_results(tmp_path / "res", "toy", gts)
    assert path.name == "toy_001.bin"
    write_trajectory(path, [Special(1)] * 3)
    with pytest.raises(ValueError, match="3 frames"):
        read_vots_results(tmp_path / "res", seq)
    # a short ground truth is padded with "unknown"; a missing frame is an error naming it
    gt_file = tmp_path / "seqs" / "toy" / "groundtruth_1.txt"
    gt_file.write_text("\n".join(gt_file.read_text().splitlines()[:3]) + "\n")
    assert read_vots_sequence(tmp_path / "seqs" / "toy").objects["1"][3:] == [Special(0), Special(0)]
    (tmp_path / "seqs" / "toy" / "color" / "00000004.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="00000004.jpg"):
        read_vots_sequence(tmp_path / "seqs" / "toy")
    with pytest.raises(FileNotFoundError, match="not a VOTS sequence"):
        read_vots_sequence(tmp_path)


# ----------------------------------------------------------------------------------------- datasets
def test_folder_youtube_vots_and_video_readers(tmp_path):
    root = tmp_path / "ytvos" / "valid"
    for vid in ("a", "b"):
        (root / "JPEGImages" / vid).mkdir(parents=True)
        for t in range(4):
            cv2.imwrite(str(root / "JPEGImages" / vid / f"{5 * t:05d}.jpg"), np.zeros((12, 16, 3), np.uint8))
        write_davis_masks(root / "Annotations" / vid, {"00000": _labels(12, 16) % 2, "00010": _labels(12, 16)})
    videos = youtube_vos_videos(tmp_path / "ytvos")
    assert [v.name for v in videos] == ["a", "b"] and videos[0].annotated == ["00000", "00010"]
    assert videos[0].mask("00005") is None and videos[0].object_ids() == [1, 2, 3]
    write_mask(root / "Annotations" / "a" / "00003.png", _labels(12, 16))
    with pytest.raises(FileNotFoundError, match="00003.png has no frame"):
        youtube_vos_videos(tmp_path / "ytvos")
    write_mask(root / "Annotations" / "b" / "00015.png", _labels(9, 16))
    (root / "Annotations" / "a" / "00003.png").unlink()
    with pytest.raises(ValueError, match="00015.png.*does not match"):
        youtube_vos_videos(tmp_path / "ytvos")[1].mask("00015")
    _toy_vots(tmp_path)
    video, ids = vots_video(tmp_path / "seqs" / "toy")
    assert ids == {1: "1", 2: "2"} and len(video) == 5 and video.mask("00000003").max() == 2
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 5, (16, 12))
    for _ in range(3):
        writer.write(np.zeros((12, 16, 3), np.uint8))
    writer.release()
    write_davis_masks(tmp_path / "clip_masks", [_labels(12, 16)])
    clip = video_file(tmp_path / "clip.avi", tmp_path / "clip_masks")
    assert len(clip) == 3 and clip.annotated == ["00000"]


@pytest.mark.shared_data
def test_davis_reader_on_shared_data(shared_data):
    videos = davis_videos(shared_data / "davis2016", "480p", split="dev")
    assert [v.name for v in videos] == ["blackswan", "bmx-trees", "car-shadow", "parkour"]
    v = videos[0]
    assert v.size == (480, 854) and len(v) == len(v.annotated) == 50
    assert set(np.unique(v.mask("00000")).tolist()) == {0, 1}  # DAVIS-2016 0/255 -> object 1
    with pytest.raises(FileNotFoundError, match="split 'nope'"):
        davis_videos(shared_data / "davis2016", split="nope")
