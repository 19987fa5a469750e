"""The weight-free GrabCut refiner and prompt -> first mask."""

from __future__ import annotations

import numpy as np
import pytest

from hqtrack_core.refine import (
    GrabCutRefiner,
    build_refiner,
    grabcut_mask,
    labels_from_boxes,
    mask_from_box,
    mask_from_points,
    mask_iou,
)
from hqtrack_core.refine.perturb import PERTURBATIONS


def _scene(h=120, w=160, seed=0):
    """Textured grey background, a saturated red disk (id 1) and a blue square (id 2)."""
    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal(110, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[:h, :w]
    disk = (yy - 45) ** 2 + (xx - 50) ** 2 <= 25**2
    square = np.zeros((h, w), bool)
    square[60:105, 100:145] = True
    image[disk] = (220, 30, 30)
    image[square] = (30, 40, 210)
    gt = np.zeros((h, w), np.uint8)
    gt[disk], gt[square] = 1, 2
    return image, gt


@pytest.mark.parametrize("perturbation", ["dilate7", "erode7", "shift8x5"])
def test_refiner_classical_recovers_boundary(perturbation):
    image, gt = _scene()
    raw = np.zeros_like(gt)
    for i in (1, 2):
        raw[PERTURBATIONS[perturbation](gt == i) & (raw == 0)] = i
    # band wider than the 7-8 px error; no thin-object guard (the eroded disk's core is small)
    result = GrabCutRefiner(min_band=9, max_band=9, min_core=0.0).refine(image, raw)
    assert result.object_ids == (1, 2) and result.accepted.all()
    for i in (1, 2):
        before, after = mask_iou(raw == i, gt == i), mask_iou(result.labels == i, gt == i)
        assert after > before + 0.05 and after > 0.9, (i, before, after)


def test_refiner_classical_selector_rejects_a_grossly_wrong_proposal(monkeypatch):
    image, gt = _scene()
    import hqtrack_core.refine.classical as classical

    monkeypatch.setattr(classical, "grabcut_mask", lambda img, m, *a: np.roll(m, 80, axis=1))
    result = GrabCutRefiner(threshold=0.1).refine(image, gt)
    assert not result.accepted.any() and np.array_equal(result.labels, gt)
    assert GrabCutRefiner(threshold=0.0).refine(image, gt).accepted.all()


def test_refiner_classical_edge_cases():
    image, gt = _scene()
    empty = np.zeros(gt.shape, bool)
    assert not grabcut_mask(image, empty).any()
    full = np.ones(gt.shape, bool)  # no background to learn from: unchanged
    assert grabcut_mask(image, full).all()
    thin = np.zeros(gt.shape, bool)  # a 4-px wide bar shifted off a red stripe: no sure core -> unchanged
    thin[10:100, 60:64] = True
    striped = image.copy()
    striped[10:100, 62:68] = (220, 30, 30)
    assert np.array_equal(grabcut_mask(striped, thin), thin)
    assert not np.array_equal(grabcut_mask(striped, thin, min_core=0.0), thin)
    with pytest.raises(ValueError, match="band"):
        GrabCutRefiner(min_band=5, max_band=2)
    with pytest.raises(ValueError, match="min_core"):
        GrabCutRefiner(min_core=2.0)
    refiner = build_refiner("classical", threshold=0.3, iterations=2)
    assert isinstance(refiner, GrabCutRefiner) and refiner.threshold == 0.3 and refiner.iterations == 2


def test_refiner_prompt_box_to_first_mask():
    image, gt = _scene()
    labels = labels_from_boxes(image, {1: (24, 19, 76, 71), 2: (99, 59, 145, 105)})
    assert labels.dtype == np.uint8 and set(np.unique(labels)) == {0, 1, 2}
    for i in (1, 2):
        assert mask_iou(labels == i, gt == i) > 0.85
    assert mask_iou(mask_from_box(image, (24, 19, 76, 71)), gt == 1) > 0.85
    with pytest.raises(ValueError, match="outside"):
        mask_from_box(image, (500, 500, 600, 600))
    with pytest.raises(ValueError, match="x1 >= x0"):
        mask_from_box(image, (50, 50, 10, 10))
    with pytest.raises(ValueError, match="no boxes"):
        labels_from_boxes(image, [])
    with pytest.raises(ValueError, match="point prompts need"):
        mask_from_points(image, [[50, 45]], [1], GrabCutRefiner())


@pytest.mark.shared_data
def test_refiner_classical_on_davis_frame(shared_data):
    """Real frame: a dilated ground truth (over-segmentation) is pulled back towards the true boundary."""
    import cv2

    root = shared_data / "davis2016"
    image = cv2.cvtColor(cv2.imread(str(root / "JPEGImages/480p/car-shadow/00020.jpg")), cv2.COLOR_BGR2RGB)
    gt = cv2.imread(str(root / "Annotations/480p/car-shadow/00020.png"), cv2.IMREAD_GRAYSCALE) > 127
    raw = PERTURBATIONS["dilate7"](gt)
    result = GrabCutRefiner().refine(image, raw.astype(np.uint8))
    assert mask_iou(result.labels == 1, gt) > mask_iou(raw, gt) + 0.05


@pytest.mark.shared_data
def test_refiner_offline_measure_table(shared_data, tmp_path):
    """The measurement module end to end on one frame: every raw-mask kind gets four rows, JSON written."""
    from hqtrack_core.atomic import write_json_atomic
    from hqtrack_core.refine.measure import format_table, measure

    result = measure(shared_data / "davis2016", stride=100, sequences=["car-shadow"])
    rows = {(r["perturbation"], r["mask"]): r for r in result["rows"]}
    kinds = {p for p, _ in rows}
    assert set(PERTURBATIONS) <= kinds and "osvos (real)" in kinds
    assert all((k, m) in rows for k in kinds for m in ("raw", "refined + selector 0.1"))
    assert rows[("none", "raw")]["J"] == 100.0
    assert rows[("dilate7", "refined + selector 0.1")]["J"] > rows[("dilate7", "raw")]["J"]
    assert "dilate7" in format_table(result)
    assert write_json_atomic(tmp_path / "t.json", result).read_text().startswith("{")


def test_shift_out_of_the_frame_is_empty():
    """A translation by the frame's size or more leaves nothing (it raised a broadcast error before); the
    failing refiner of the ablation study (refine/faulty.py) translates proposals with it."""
    from hqtrack_core.refine.perturb import shift

    mask = np.ones((23, 31), bool)
    for dx, dy in ((0, 23), (31, 0), (-40, -30)):
        assert not shift(mask, dx=dx, dy=dy).any()
    assert shift(mask, dx=-7, dy=5).sum() == (23 - 5) * (31 - 7)
