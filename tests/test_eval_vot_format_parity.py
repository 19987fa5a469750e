"""VOT text and binary trajectory formats: byte-identical to vot-toolkit 0.9.0's writer, and reading
the toolkit's files gives the toolkit's regions (pixels, offsets, special codes)."""

from __future__ import annotations


import numpy as np
import pytest

from hqtrack_core.data.vot_format import (
    MaskRegion, Special, decode_trajectory_binary, decode_trajectory_text, encode_trajectory_binary,
    encode_trajectory_text, read_trajectory, rle_decode, rle_encode, write_trajectory,
)

pytest.importorskip("vot", reason="vot-toolkit (test extra) not installed")
from vot.region import Special as VotSpecial  # noqa: E402
from vot.region.io import mask_to_rle, read_trajectory as vot_read, write_trajectory as vot_write  # noqa: E402
from vot.region.shapes import Mask as VotMask  # noqa: E402


def _regions(seed: int):
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i in range(40):
        kind = i % 6
        if kind == 0:
            code = int(rng.choice([0, 1, 2]))
            ours.append(Special(code)), theirs.append(VotSpecial(code))
            continue
        if kind == 1:
            mask = np.zeros((0, 0), np.uint8)  # empty
        elif kind == 2:
            mask = np.ones((int(rng.integers(1, 5)), 1), np.uint8)  # 1 px wide
        elif kind == 3:
            mask = np.ones((1, int(rng.integers(1, 5))), np.uint8)  # 1 px tall
        elif kind == 4:
            mask = (rng.random((300, 400)) > 0.001).astype(np.uint8)  # long runs (> 255*255 once split)
            mask[:200] = 1
        else:
            mask = (rng.random((int(rng.integers(1, 30)), int(rng.integers(1, 30)))) > 0.5).astype(np.uint8)
        offset = (int(rng.integers(-20, 500)), int(rng.integers(-20, 300)))
        ours.append(MaskRegion(mask, offset)), theirs.append(VotMask(mask, offset))
    return ours, theirs


def _same(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(b, VotSpecial):
            assert isinstance(a, Special) and a.code == b.code
        else:
            assert isinstance(a, MaskRegion), a
            assert tuple(a.offset) == tuple(int(v) for v in b.offset)
            np.testing.assert_array_equal(a.mask, b.mask)
            assert a.is_empty() == b.is_empty()


@pytest.mark.parametrize("seed", [0, 1])
def test_vot_formats_parity_with_toolkit(tmp_path, seed):
    ours, theirs = _regions(seed)
    for suffix in (".txt", ".bin"):
        vot_path, our_path = tmp_path / f"vot{suffix}", tmp_path / f"ours{suffix}"
        vot_write(str(vot_path), theirs)
        write_trajectory(our_path, ours)
        assert our_path.read_bytes() == vot_path.read_bytes(), suffix
        # read the toolkit's file both ways: same regions (text reading crops masks as the toolkit does)
        _same(read_trajectory(vot_path), vot_read(str(vot_path)))
    # toolkit's own binary reader through a binary handle, as its Results do
    with open(tmp_path / "vot.bin", "rb") as handle:
        _same(decode_trajectory_binary((tmp_path / "vot.bin").read_bytes()), vot_read(handle))


def test_rle_parity_with_toolkit():
    rng = np.random.default_rng(3)
    for _ in range(300):
        mask = (rng.random((int(rng.integers(0, 9)), int(rng.integers(0, 9)))) > rng.random()).astype(np.uint8)
        for stride in (2, 5, 100_000_000):
            assert rle_encode(mask, stride) == list(mask_to_rle(mask, stride))
        if mask.size:
            np.testing.assert_array_equal(rle_decode(rle_encode(mask), mask.shape[1], mask.shape[0]), mask)


def test_text_round_trip_and_text_crop_rule():
    full = np.zeros((10, 12), bool)
    full[2:5, 3:9] = True
    region = MaskRegion.from_image_mask(full)
    assert region.offset == (3, 2) and region.mask.shape == (3, 6)
    text = encode_trajectory_text([Special(1), region])
    assert text.splitlines()[0] == "1" and text.splitlines()[1].startswith("m3,2,6,3,")
    back = decode_trajectory_text(text)
    np.testing.assert_array_equal(back[1].to_image_mask((10, 12)), full)
    # a one-pixel-wide mask reads back empty from text (toolkit "optimize"), but not from .bin
    thin = MaskRegion(np.ones((4, 1), np.uint8), (5, 5))
    assert decode_trajectory_text(encode_trajectory_text([thin]))[0].mask.size == 0
    assert decode_trajectory_binary(encode_trajectory_binary([thin]))[0].mask.sum() == 4


@pytest.mark.parametrize("bad, message", [
    ("m1,2,3", "needs x0,y0,w,h"),
    ("m0,0,2,2,1,9", "more than its 2x2 box"),
    ("1,2,3,4", "only masks and special codes"),
    ("hello", "malformed"),
])
def test_text_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        decode_trajectory_text(bad + "\n")


def test_binary_errors(tmp_path):
    data = encode_trajectory_binary([Special(1), MaskRegion(np.ones((2, 2), np.uint8))])
    with pytest.raises(ValueError, match="truncated"):
        decode_trajectory_binary(data[:-1])
    with pytest.raises(ValueError, match="version"):
        decode_trajectory_binary(b"\x02\x00" + data[2:])
    with pytest.raises(FileNotFoundError):
        read_trajectory(tmp_path / "missing.bin")
    path = tmp_path / "broken.bin"
    path.write_bytes(data[:7])
    with pytest.raises(ValueError, match="broken.bin"):
        read_trajectory(path)
