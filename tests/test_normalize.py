"""One ImageNet normalisation and one frame resize (hqtrack_core.data.transforms / data.frames): the encoders'
input made in data/ is what the tracker feeds the network (inference.engine uses that one function), equals
(pixel / 255 - mean) / std on uint8 frames and float tensors, with and without the bicubic resize; training's
normalize agrees with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hqtrack_core.data.frames import resize_frame, resize_to
from hqtrack_core.data.transforms import denormalize, normalize, normalize_image
from hqtrack_core.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from hqtrack_core.inference import engine


@pytest.mark.parametrize("size", [None, (33, 49), (17, 17)])
def test_normalize_image_is_the_trackers(size):
    assert engine.normalize_image is normalize_image  # one implementation: the tracker imports this one
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    ours = normalize_image(frame, size)
    assert ours.shape == (1, 3) + (size or (24, 40)) and ours.dtype == torch.float32
    tensor = torch.from_numpy(frame).permute(2, 0, 1).float() / 255
    assert torch.allclose(normalize_image(tensor, size), ours, atol=1e-4)  # cv2 and torch bicubic agree closely
    if size is None:  # by hand
        mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
        assert torch.allclose(ours[0], (tensor - mean) / std, atol=1e-6)
    if size is None:  # training's normalize of the same pixels
        assert torch.equal(normalize(torch.from_numpy(frame).permute(2, 0, 1))[None], ours)
        back = denormalize(ours[0]).permute(1, 2, 0).numpy()
        assert np.abs(back.astype(int) - frame).max() <= 1


def test_normalize_image_refuses_a_bad_frame():
    with pytest.raises(ValueError, match="HxWx3"):
        normalize_image(np.zeros((3, 8, 8), np.uint8))


def test_resize_to_modes_and_resize_frame():
    labels = np.zeros((10, 20), np.uint8)
    labels[:, 10:] = 7
    out = resize_to(labels, (5, 8), "nearest")
    assert out.shape == (5, 8) and set(np.unique(out)) == {0, 7}  # ids never blend
    frame = np.full((10, 20, 3), 200, np.uint8)
    assert resize_to(frame, (21, 41), "cubic").shape == (21, 41, 3)
    assert resize_frame(frame, scale=0.5).shape == (5, 10, 3)
    with pytest.raises(ValueError, match="resize mode must be one of"):
        resize_to(frame, (5, 5), "lanczos")
