"""The failure strip (issue 34): per-frame J, lost frames, memory snapshots while tracking, and the figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from hqtrack_core.failure_figure import failure_strip, lost_frames, per_frame_jaccard, track_with_memory


def _clip(t_count: int = 6, h: int = 24, w: int = 32):
    gt, pred, images = [], [], []
    for t in range(t_count):
        g = np.zeros((h, w), np.uint8)
        g[4:12, 4 + t:12 + t] = 1  # 64 pixels, moving right
        p = np.zeros((h, w), np.uint8)
        p[4:12, 4:12] = 1  # the prediction stays where the object started
        gt.append(g)
        pred.append(p)
        images.append(np.full((h, w, 3), 90, np.uint8))
    return images, gt, pred


def test_per_frame_jaccard_and_lost_frames():
    _, gt, pred = _clip()
    j = per_frame_jaccard(gt, pred)
    # overlap 8 x (8 - t) of a union 8 x (8 + t)
    np.testing.assert_allclose(j, [(8 - t) / (8 + t) for t in range(6)])
    assert lost_frames(j, 0.5) == [3, 4, 5]
    two = [np.where(g > 0, g, 0) for g in gt]
    two[0][20:22, 20:22] = 2  # a second object, never predicted: J 0 for it
    assert per_frame_jaccard(two, pred)[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="as many"):
        per_frame_jaccard(gt, pred[:-1])
    with pytest.raises(ValueError, match="no object"):
        per_frame_jaccard([np.zeros((4, 4), np.uint8)], [np.zeros((4, 4), np.uint8)])


def test_failure_strip_draws_frames_and_curves(tmp_path):
    images, gt, pred = _clip()
    snaps = [{"reference": [0], "long_term": [] if t < 3 else [3], "short_term": [max(0, t - 1)]} for t in range(6)]
    fig = failure_strip(images, gt, pred, frames=[0, 3, 5], snapshots=snaps, title="toy")
    titles = [ax.get_title() for ax in fig.axes[:3]]
    assert titles[0].startswith("frame 0  J 1.00") and "memory: [0], short 0" in titles[0]
    assert titles[2].startswith("frame 5  J 0.23") and "memory: [0, 3], short 4" in titles[2]
    curve = fig.axes[3].get_lines()[0].get_ydata()
    np.testing.assert_allclose(curve, per_frame_jaccard(gt, pred))
    other = failure_strip(images, gt, pred, others={"oracle": [1.0] * 6})
    assert [line.get_label() for line in other.axes[-2].get_lines()][-1] == "oracle"
    fig.savefig(tmp_path / "strip.png")
    assert (tmp_path / "strip.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="outside"):
        failure_strip(images, gt, pred, frames=[0, 9])
    with pytest.raises(ValueError, match="as many"):
        failure_strip(images, gt, pred[:2])


def test_track_with_memory_records_what_the_memory_holds():
    from hqtrack_core.inference.engine import VMOSTracker
    from hqtrack_core.inference.memory import memory_policy
    from hqtrack_core.model.build import vmos_from_preset
    import torch

    torch.manual_seed(0)
    images, gt, _ = _clip(t_count=4, h=33, w=33)
    tracker = VMOSTracker(vmos_from_preset("deaot_t", pretrained_encoder=False).eval(),
                          policy=memory_policy("deaot", long_term_gap=2))
    preds, snaps = track_with_memory(tracker, [(f"{t:05d}", im) for t, im in enumerate(images)], gt[0])
    assert len(preds) == 4 and preds[0].shape == (33, 33)
    np.testing.assert_array_equal(preds[0], gt[0])  # the prompt frame returns its mask
    assert [s["reference"] for s in snaps] == [[0]] * 4
    assert snaps[-1]["long_term"] and max(snaps[-1]["long_term"]) == 2  # gap 2: frame 2 written
    assert [s["short_term"] for s in snaps] == [[0], [1], [2], [3]]


def test_sequence_failure_figure_refuses_bad_correction_frames(shared_data):
    from hqtrack_core.failure_figure import sequence_failure_figure

    with pytest.raises(ValueError, match="outside 1..63"):
        sequence_failure_figure(shared_data / "davis2016", "drift-turn", corrections=(0,))
