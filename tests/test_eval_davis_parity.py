"""DAVIS J&F vs vos-benchmark (which reproduces davis2017-evaluation's J and F): on the real OSVOS predictions of
the 4 dev sequences (binarised) against DAVIS-2016 ground truth, and on generated multi-object label maps.
Per-sequence values must agree to 1e-6."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hqtrack_core.evaluation.davis import disk, evaluate_davis, score_sequence
from hqtrack_core.evaluation.official import vos_benchmark_scores

vos_benchmark = pytest.importorskip("vos_benchmark", reason="vos-benchmark (test extra) not installed")
from vos_benchmark.evaluator import Evaluator  # noqa: E402

TOL = 1e-6


def test_disk_matches_skimage():
    morphology = pytest.importorskip("skimage.morphology")
    for radius in (1, 2, 3, 8, 9.0):
        np.testing.assert_array_equal(disk(radius), morphology.disk(radius).astype(np.uint8))


@pytest.mark.shared_data
def test_davis_jf_parity_with_vos_benchmark_on_osvos(shared_data, tmp_path):
    gt_root = shared_data / "davis2016" / "Annotations" / "480p"
    pred_root = shared_data / "osvos_davis2017_predictions"
    sequences = (shared_data / "davis2016" / "ImageSets" / "dev.txt").read_text().split()
    # vos-benchmark compares raw PNG values: give it the binarised predictions as 0/255 like the 2016 ground truth
    binary_root = tmp_path / "binary"
    for seq in sequences:
        (binary_root / seq).mkdir(parents=True)
        for png in sorted((pred_root / seq).glob("*.png")):
            labels = np.array(Image.open(png))
            Image.fromarray(np.where(labels > 0, 255, 0).astype(np.uint8), mode="L").save(binary_root / seq / png.name)
    ours = evaluate_davis(gt_root, pred_root, sequences=sequences, binarize=True)
    worst_j = worst_f = 0.0
    reference = vos_benchmark_scores(gt_root, binary_root, sequences)
    for seq in sequences:
        assert list(reference[seq]) == [255]
        ref_j, ref_f = reference[seq][255]
        s = ours.sequences[seq]
        worst_j, worst_f = max(worst_j, abs(s.J - ref_j)), max(worst_f, abs(s.F - ref_f))
        print(f"\n{seq:<11} J {s.J:.6f} (vos-benchmark {ref_j:.6f})  F {s.F:.6f} (vos-benchmark {ref_f:.6f})", end="")
    print(f"\nworst |ours - vos-benchmark| over 4 dev sequences: J {worst_j:.1e}, F {worst_f:.1e}")
    assert worst_j <= TOL and worst_f <= TOL
    # a realistic method: the scores must be neither trivial nor perfect
    assert 0.5 < ours.measures()["J"] < 0.99


def _toy_sequence(seed: int, frames: int = 8, size=(60, 90)):
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    gt, pred = [], []
    for t in range(frames):
        g = np.zeros(size, np.uint8)
        p = np.zeros(size, np.uint8)
        for obj in (1, 2, 3):
            cy, cx = 15 + 4 * obj + t, 10 + 20 * obj + 2 * t
            g[(yy - cy) ** 2 / 64 + (xx - cx) ** 2 / 100 <= 1] = obj
            if t % 5 == 4 and obj == 2:
                continue  # a miss: empty prediction for object 2
            dy, dx = rng.integers(-3, 4, size=2)
            noise = rng.random(size) < 0.02
            p[((yy - cy - dy) ** 2 / 64 + (xx - cx - dx) ** 2 / 100 <= 1) ^ noise] = obj
        if t == 3:
            g[0, :] = 3  # thin structure on the border
        gt.append(g)
        pred.append(p)
    return gt, pred


@pytest.mark.parametrize("seed", [0, 1])
def test_davis_jf_parity_with_vos_benchmark_multiobject(seed):
    gt, pred = _toy_sequence(seed)
    ours = score_sequence("toy", gt, pred)
    evaluator = Evaluator()
    for g, p in zip(gt[1:-1], pred[1:-1]):
        evaluator.feed_frame(p, g)
    iou, boundary = evaluator.conclude()
    assert sorted(iou) == sorted(ours.objects) == [1, 2, 3]
    for obj, o in ours.objects.items():
        assert abs(o.J - iou[obj] / 100) <= TOL and abs(o.F - boundary[obj] / 100) <= TOL, (obj, o.J, iou[obj], o.F, boundary[obj])
        per_frame_j = np.array(evaluator.object_iou[obj])
        np.testing.assert_allclose(o.J_frames, per_frame_j, atol=1e-12)
        np.testing.assert_allclose(o.F_frames, np.array(evaluator.boundary_f[obj]), atol=1e-12)
