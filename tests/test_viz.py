"""Notebook renderings (hqtrack_core.viz): shapes, untouched background, window placement, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from hqtrack_core.data.masks import DAVIS_PALETTE
from hqtrack_core.inference.memory import MemoryEntry, MemoryState, memory_policy
from hqtrack_core.viz import (feature_rgb, heatmap_overlay, memory_snapshot, memory_timeline, overlay_labels,
                              png_bytes, window_to_grid)


def _image(h=20, w=30, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_overlay_labels_colours_objects_only():
    image = _image()
    labels = np.zeros((20, 30), np.int64)
    labels[5:15, 5:15] = 1
    labels[2:6, 20:28] = 3
    out = overlay_labels(image, labels, alpha=1.0, outline=False)
    assert out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[labels == 0], image[labels == 0])
    np.testing.assert_array_equal(out[labels == 1], np.broadcast_to(DAVIS_PALETTE[1], (100, 3)))
    np.testing.assert_array_equal(out[labels == 3], np.broadcast_to(DAVIS_PALETTE[3], (32, 3)))
    half = overlay_labels(image, labels, alpha=0.5, outline=True)
    assert (half[10, 10] != image[10, 10]).any()  # interior blended
    np.testing.assert_array_equal(half[5, 5], DAVIS_PALETTE[1])  # boundary drawn in full colour
    np.testing.assert_array_equal(half[0, 0], image[0, 0])


def test_overlay_labels_rejects_bad_input():
    image = _image()
    with pytest.raises(ValueError, match="does not match"):
        overlay_labels(image, np.zeros((10, 10), np.int64))
    with pytest.raises(ValueError, match="integer"):
        overlay_labels(image, np.zeros((20, 30), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        overlay_labels(image.astype(np.float32), np.zeros((20, 30), np.int64))
    with pytest.raises(ValueError, match="alpha"):
        overlay_labels(image, np.zeros((20, 30), np.int64), alpha=2.0)


def test_heatmap_overlay_upsamples_and_skips_nan():
    image = _image(32, 48)
    heat = np.full((4, 6), np.nan, np.float32)
    heat[1, 2] = 1.0
    heat[2, 3] = 0.0
    out = heatmap_overlay(image, heat)
    assert out.shape == image.shape
    np.testing.assert_array_equal(out[:8, :8], image[:8, :8])  # NaN cell untouched
    assert (out[8:16, 16:24] != image[8:16, 16:24]).any()
    with pytest.raises(ValueError, match="2-D"):
        heatmap_overlay(image, np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        heatmap_overlay(image, np.full((4, 6), 3.0), normalize=False)


def test_window_to_grid_places_offsets_and_clips_at_borders():
    window = np.arange(25, dtype=np.float32).reshape(5, 5)  # max distance 2
    grid = window_to_grid(window, (4, 4), (9, 9))
    np.testing.assert_array_equal(grid[2:7, 2:7], window)
    assert np.isnan(grid[0, 0]) and np.isnan(grid[8, 8])
    corner = window_to_grid(window, (0, 0), (3, 4), fill=-1.0)
    # token (0, 0): offsets dy, dx in 0..2 are inside the grid -> window[2:, 2:]
    np.testing.assert_array_equal(corner[:3, :3], window[2:, 2:])
    assert corner[0, 3] == -1.0
    with pytest.raises(ValueError, match="odd square"):
        window_to_grid(np.zeros((4, 4)), (0, 0), (5, 5))
    with pytest.raises(ValueError, match="outside the grid"):
        window_to_grid(window, (5, 0), (5, 5))


def test_feature_rgb_is_pca_and_reusable():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 8, 10))
    mix = rng.normal(size=(16, 3))
    feats = np.einsum("kc,chw->khw", mix, base) + 1e-3 * rng.normal(size=(16, 8, 10))
    rgb, basis = feature_rgb(feats)
    assert rgb.shape == (8, 10, 3) and rgb.min() >= 0 and rgb.max() <= 1
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-8)
    rgb2, _ = feature_rgb(feats, basis)
    np.testing.assert_allclose(rgb, rgb2)
    flipped, _ = feature_rgb(-feats)  # deterministic sign convention
    assert flipped.shape == rgb.shape
    with pytest.raises(ValueError, match="basis"):
        feature_rgb(feats, np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"\(C, h, w\)"):
        feature_rgb(np.zeros((3, 4)))


def test_memory_snapshot_and_timeline():
    import torch

    state = MemoryState(memory_policy("released", long_term_gap=2, max_long_term=3, short_term_skip=2))

    def entry(i):
        return MemoryEntry(i, [torch.zeros(1, 4, 2)], [torch.zeros(1, 4, 3)])

    state.add_reference(entry(0))
    snaps = [memory_snapshot(state)]
    for i in range(1, 7):
        state.add_frame(entry(i))
        snaps.append(memory_snapshot(state))
    assert snaps[0] == {"reference": [0], "long_term": [], "short_term": [0]}
    # gap 2: long-term entries at 2, 4, 6; bound 3 (with the reference) keeps the newest two
    assert snaps[-1] == {"reference": [0], "long_term": [6, 4], "short_term": [5]}
    rows = memory_timeline(snaps)
    assert (6, 6, "long_term") in rows and (6, 2, "long_term") not in rows and (0, 0, "reference") in rows


def test_png_bytes_round_trip():
    import cv2

    image = _image(9, 13)
    data = png_bytes(image)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    np.testing.assert_array_equal(decoded, image)
    with pytest.raises(ValueError, match="HxWx3"):
        png_bytes(np.zeros((4, 4), np.uint8))


def test_heatmap_colorbar_spans_what_the_overlay_colours_stand_for():
    """The colour bar of a normalised overlay spans the map's finite min..max (NaN cells ignored); of an
    unnormalised one, 0..1; its label is set (issue 31: heatmaps without colour bars)."""
    import matplotlib

    matplotlib.use("Agg")  # this test process only
    import matplotlib.pyplot as plt

    from hqtrack_core.viz import heatmap_colorbar

    heat = np.array([[0.2, np.nan], [0.5, 0.9]])
    fig, ax = plt.subplots()
    bar = heatmap_colorbar(ax, heat, "attention weight")
    assert bar.mappable.norm.vmin == 0.2 and bar.mappable.norm.vmax == 0.9
    assert bar.ax.get_ylabel() == "attention weight"
    bar = heatmap_colorbar(ax, heat, "P", normalize=False)
    assert (bar.mappable.norm.vmin, bar.mappable.norm.vmax) == (0.0, 1.0)
    plt.close(fig)
