"""HQTrackPipeline (VMOS + refiner) on a tiny random VMOS: refinement per frame and the memory policy."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from hqtrack_core.inference.engine import VMOSTracker
from hqtrack_core.model.build import vmos_from_preset
from hqtrack_core.pipeline import HQTrackPipeline
from hqtrack_core.refine import build_refiner
from hqtrack_core.refine.base import Proposals, Refiner

from _toy_helpers import noise_video

H, W = 65, 97


class GrowRefiner(Refiner):
    """Deterministic stand-in refiner: every proposal is the VMOS mask dilated by 2 px."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.calls = 0

    def propose(self, image, masks):
        self.calls += 1
        kernel = np.ones((5, 5), np.uint8)
        grown = np.stack([cv2.dilate(m.astype(np.uint8), kernel).astype(bool) for m in masks])
        return Proposals(grown, np.full(len(masks), np.nan))

    def segment_boxes(self, image, boxes):
        raise NotImplementedError


def _video(n=4):
    return noise_video(n, H, W, np.int64)


def _tracker():
    torch.manual_seed(0)
    return VMOSTracker(vmos_from_preset("deaot_t", embed_dim=32, att_dim=16))


@pytest.mark.parametrize("memory_write", ["raw", "refined"])
def test_refiner_pipeline_memory_policy(memory_write, monkeypatch):
    frames, mask = _video()
    tracker = _tracker()
    written = []
    original = tracker.remember
    monkeypatch.setattr(tracker, "remember", lambda labels: (written.append(np.array(labels)), original(labels)))
    refiner = GrowRefiner()
    pipe = HQTrackPipeline(tracker, refiner, memory_write=memory_write)
    first = pipe.step(frames[0], mask)
    assert first.refinement is None and np.array_equal(first.labels, mask) and refiner.calls == 0
    for t, image in enumerate(frames[1:], start=1):
        out = pipe.step(image)
        assert out.frame_index == t and out.object_ids == (1, 2)
        assert out.labels.shape == (H, W) and out.refinement is not None
        expected = refiner.refine(image, out.raw_labels, out.object_ids).labels
        assert np.array_equal(out.labels, expected)
        assert not np.array_equal(out.labels, out.raw_labels)  # the policy below is observable
        assert np.array_equal(written[-1], out.raw_labels if memory_write == "raw" else out.labels)
    assert len(written) == len(frames) - 1


def test_refiner_pipeline_without_refiner_matches_tracker():
    frames, mask = _video(3)
    plain, piped = _tracker(), HQTrackPipeline(_tracker(), None)
    plain.step(frames[0], mask)
    piped.step(frames[0], mask)
    for image in frames[1:]:
        a, b = plain.step(image), piped.step(image)
        assert np.array_equal(a.labels, b.labels) and b.refinement is None
    with pytest.raises(ValueError, match="memory_write"):
        HQTrackPipeline(plain, None, memory_write="both")
    with pytest.raises(TypeError, match="Refiner"):
        HQTrackPipeline(plain, object())


def test_refiner_pipeline_with_classical_refiner_and_new_object():
    frames, mask = _video(4)
    pipe = HQTrackPipeline(_tracker(), build_refiner("classical"))
    pipe.step(frames[0], mask)
    out = pipe.step(frames[1])
    assert out.refinement.object_ids == (1, 2)
    added = np.zeros((H, W), np.int64)
    added[2:8, 70:90] = 5
    out = pipe.step(frames[2], added, objects=[5])  # object added mid-video: taken as given
    assert out.refinement is None and (out.labels[2:8, 70:90] == 5).all()
    out = pipe.step(frames[3])
    assert out.object_ids == (1, 2, 5) and out.refinement.object_ids == (1, 2, 5)
