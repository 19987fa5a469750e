"""The IoU selector, the overlap rules and box prompts of the refiner (pure numpy; fast)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hqtrack_core.refine import mask_iou, masks_to_boxes, parse_box, select_masks
from hqtrack_core.refine.base import Proposals, Refiner


def _box(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


class FixedRefiner(Refiner):
    """Proposes given masks (by object order) and records what it was asked."""

    def __init__(self, proposals, **kw):
        super().__init__(**kw)
        self.fixed = proposals
        self.calls = []

    def propose(self, image, masks):
        self.calls.append(masks.copy())
        return Proposals(self.fixed[: len(masks)], np.full(len(masks), np.nan))

    def segment_boxes(self, image, boxes):
        raise NotImplementedError


def test_refiner_selector_threshold_keeps_or_replaces():
    labels = np.zeros((20, 20), np.uint8)
    labels[5:15, 5:15] = 1  # 100 px
    close = _box(20, 20, 5, 15, 5, 16)  # IoU 100/110
    far = _box(20, 20, 0, 2, 0, 2)  # IoU 0
    sel = select_masks(labels, [1], close[None], np.array([True]), threshold=0.1)
    assert sel.accepted.tolist() == [True]
    assert sel.iou[0] == pytest.approx(100 / 110)
    assert np.array_equal(sel.labels == 1, close)
    sel = select_masks(labels, [1], far[None], np.array([True]), threshold=0.1)
    assert sel.accepted.tolist() == [False] and sel.iou[0] == 0.0
    assert np.array_equal(sel.labels, labels)
    # exactly at the threshold: accepted (>=)
    sel = select_masks(labels, [1], close[None], np.array([True]), threshold=100 / 110)
    assert sel.accepted[0]


def test_refiner_selector_overlap_lowest_id_and_vmos_rule():
    labels = np.zeros((10, 10), np.int32)
    labels[:, :5] = 2
    labels[:, 5:] = 1
    grow = np.stack([_box(10, 10, 0, 10, 3, 10), _box(10, 10, 0, 10, 0, 7)])  # ids 1, 2 overlap on cols 3..6
    sel = select_masks(labels, [1, 2], grow, np.array([True, True]), threshold=0.1, overlap="lowest_id")
    assert (sel.labels[:, 3:7] == 1).all() and (sel.labels[:, :3] == 2).all()
    sel = select_masks(labels, [1, 2], grow, np.array([True, True]), threshold=0.1, overlap="vmos")
    assert (sel.labels[:, 3:5] == 2).all() and (sel.labels[:, 5:7] == 1).all()
    assert sel.labels.dtype == np.int32


def test_refiner_base_skips_empty_objects_and_keeps_unlisted():
    labels = np.zeros((12, 12), np.uint8)
    labels[2:6, 2:6] = 1
    labels[8:11, 8:11] = 7  # not listed: untouched
    proposal = np.stack([_box(12, 12, 2, 7, 2, 7), _box(12, 12, 8, 11, 8, 11)])
    ref = FixedRefiner(proposal)
    image = np.zeros((12, 12, 3), np.uint8)
    res = ref.refine(image, labels, object_ids=[1, 3])  # id 3 absent -> not refined
    assert len(ref.calls) == 1 and ref.calls[0].shape == (1, 12, 12)
    assert res.refined.tolist() == [True, False]
    assert np.isnan(res.iou[1]) and not res.accepted[1]
    assert res.accepted[0] and (res.labels[2:7, 2:7] == 1).all()
    assert (res.labels[8:11, 8:11] == 7).all()
    # reselect: same proposals, stricter threshold -> VMOS mask back, no model call
    strict = res.reselect(0.99)
    assert len(ref.calls) == 1 and np.array_equal(strict.labels, labels)
    # default ids: all non-zero present
    assert ref.refine(image, labels).object_ids == (1, 7) and ref.calls[-1].shape == (2, 12, 12)


def test_refiner_base_validates_inputs():
    ref = FixedRefiner(np.zeros((1, 4, 4), bool))
    img = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        ref.refine(img.astype(np.float32), np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="differ in size"):
        ref.refine(img, np.zeros((5, 4), np.uint8))
    with pytest.raises(ValueError, match="integer"):
        ref.refine(img, np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="positive"):
        ref.refine(img, np.zeros((4, 4), np.uint8), object_ids=[0])
    with pytest.raises(ValueError, match="threshold"):
        FixedRefiner(None, threshold=1.5)
    with pytest.raises(ValueError, match="overlap"):
        FixedRefiner(None, overlap="area")


@st.composite
def _frames(draw):
    h = draw(st.integers(4, 12))
    w = draw(st.integers(4, 12))
    n = draw(st.integers(1, 4))
    labels = draw(arrays(np.uint8, (h, w), elements=st.integers(0, n)))
    proposals = draw(arrays(np.bool_, (n, h, w)))
    threshold = draw(st.floats(0.0, 1.0))
    return labels, list(range(1, n + 1)), proposals, threshold


@settings(max_examples=150, deadline=None)
@given(_frames(), st.sampled_from(["lowest_id", "vmos"]))
def test_refiner_selector_properties(frame, overlap):
    labels, ids, proposals, threshold = frame
    refined = np.array([(labels == i).any() for i in ids])
    sel = select_masks(labels, ids, proposals, refined, threshold, overlap)
    out = sel.labels
    assert out.shape == labels.shape and out.dtype == labels.dtype
    assert set(np.unique(out)) <= {0, *ids}
    for k, i in enumerate(ids):
        vmos = labels == i
        if not vmos.any():  # empty VMOS masks are never refined and stay empty
            assert not refined[k] and np.isnan(sel.iou[k]) and not sel.accepted[k]
            assert not (out == i).any()
            continue
        assert sel.iou[k] == pytest.approx(mask_iou(proposals[k], vmos))
        assert sel.accepted[k] == (sel.iou[k] >= threshold)
        final = proposals[k] if sel.accepted[k] else vmos
        assert not ((out == i) & ~final).any()  # an object only appears inside its kept mask
        if overlap == "lowest_id":
            # a pixel of the kept mask is lost only to a lower id claiming it
            lost = final & (out != i)
            assert ((out[lost] < i) & (out[lost] > 0)).all()
    # threshold 0 accepts every refined object; threshold above 1 is refused
    assert select_masks(labels, ids, proposals, refined, 0.0).accepted.tolist() == refined.tolist()


def test_refiner_boxes_tight_margin_and_errors():
    m = _box(20, 30, 4, 10, 5, 25)
    assert masks_to_boxes(m[None]).tolist() == [[5, 4, 24, 9]]
    grown = masks_to_boxes(m[None], margin=0.5)[0]
    assert grown.tolist() == [0.0, 1.5, 30.0, 11.5]
    with pytest.raises(ValueError, match="empty"):
        masks_to_boxes(np.zeros((1, 5, 5), bool))
    assert parse_box("1, 2,30,40") == (1.0, 2.0, 30.0, 40.0)
    for bad in ("1,2,3", "a,b,c,d", "5,5,1,1"):
        with pytest.raises(ValueError):
            parse_box(bad)


def _released_merge(labels, proposals, threshold):
    """HQTrack's released merge, restated: per object of ``np.unique(labels)`` (0 first, an empty mask) keep the
    proposal when IoU(proposal, VMOS) >= threshold, else the VMOS mask; contested pixels get the argmax *position*
    in that stack, the others the sum of mask * id."""
    present = np.unique(labels)
    stack, weighted = [], np.zeros(labels.shape, np.int64)
    for position, object_id in enumerate(present):
        vmos = labels == object_id
        if object_id == 0:
            stack.append(np.zeros(labels.shape, np.int64))
            continue
        kept = proposals[object_id - 1] if mask_iou(proposals[object_id - 1], vmos) >= threshold else vmos
        stack.append(kept.astype(np.int64))
        weighted += kept * int(object_id)
    stack = np.stack(stack)
    return np.where(stack.sum(0) > 1, np.argmax(stack, axis=0), weighted)


@st.composite
def _consecutive_frames(draw):
    """Label maps whose ids are exactly 0..N, every one present (the case the released merge is written for)."""
    h, w = draw(st.integers(4, 10)), draw(st.integers(4, 10))
    n = draw(st.integers(1, 4))
    labels = draw(arrays(np.uint8, (h, w), elements=st.integers(0, n)))
    labels.flat[: n + 1] = np.arange(n + 1)  # every id, and background, appears
    return labels, list(range(1, n + 1)), draw(arrays(np.bool_, (n, h, w))), draw(st.floats(0.0, 1.0))


@settings(max_examples=200, deadline=None)
@given(_consecutive_frames())
def test_refiner_selector_lowest_id_equals_released_merge(frame):
    labels, ids, proposals, threshold = frame
    ours = select_masks(labels, ids, proposals, np.ones(len(ids), bool), threshold, "lowest_id").labels
    assert np.array_equal(ours, _released_merge(labels, proposals, threshold))


def test_refiner_selector_absent_object_gets_no_contested_pixel():
    """Where the released merge is wrong (documented in the selector): objects 1, 3, 4 present, 2 absent from
    this frame; a pixel claimed by objects 3 and 4 is given 3 here, and 2 (the absent object) by the released
    formula."""
    labels = np.array([[0, 1, 3, 4]], np.uint8)
    proposals = np.zeros((4, 1, 4), bool)
    proposals[0, 0, 1] = True
    proposals[2, 0, 2:] = True  # object 3 claims both its pixel and object 4's
    proposals[3, 0, 2:] = True  # object 4 too: the two pixels are contested
    ours = select_masks(labels, [1, 3, 4], proposals[[0, 2, 3]], np.ones(3, bool), 0.1).labels
    assert ours.tolist() == [[0, 1, 3, 3]]
    assert _released_merge(labels, proposals, 0.1).tolist() == [[0, 1, 2, 2]]
