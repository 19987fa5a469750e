"""``training.evaluate.evaluate_davis_sequences`` runs the inference engine (no second tracker): on the shipped
clip, a bare network and an explicit VMOSTracker with the same policy give the same masks; the run draws its
overlay figure; unknown sequences are clear errors."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from hqtrack_core.data.demo_clip import DEMO_RESOLUTION, DEMO_SEQUENCE, demo_davis_root  # noqa: E402
from hqtrack_core.inference.engine import VMOSTracker  # noqa: E402
from hqtrack_core.inference.memory import memory_policy  # noqa: E402
from hqtrack_core.training.evaluate import evaluate_davis_sequences, load_trained_vmos  # noqa: E402


@pytest.fixture(scope="module")
def net():
    return load_trained_vmos()


def test_bare_network_is_tracked_by_the_engine_with_the_deaot_policy(net):
    kwargs = dict(resolution=DEMO_RESOLUTION, max_frames=3, max_short_edge=64)  # small: a cheap test
    run = evaluate_davis_sequences(net, demo_davis_root(), [DEMO_SEQUENCE], **kwargs)
    same = evaluate_davis_sequences(VMOSTracker(net, policy=memory_policy("deaot")), demo_davis_root(),
                                    [DEMO_SEQUENCE], **kwargs)
    preds = run.predictions[DEMO_SEQUENCE]
    assert len(preds) == 3 and preds[0].shape == (240, 427)
    for a, b in zip(preds, same.predictions[DEMO_SEQUENCE]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(KeyError, match="unknown memory policy"):
        evaluate_davis_sequences(net, demo_davis_root(), [DEMO_SEQUENCE], memory="nope", **kwargs)
    jf = run.score.measures()["JF"]
    assert 0.0 <= jf <= 1.0
    assert DEMO_SEQUENCE in run.table()
    fig = run.overlay_figure(DEMO_SEQUENCE, n=3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith(f"{DEMO_SEQUENCE} frame 00000: J 1.00") and len(titles) == 3
    with pytest.raises(KeyError, match="was not evaluated"):
        run.overlay_figure("parkour")


def test_unknown_sequence_is_a_clear_error(net):
    with pytest.raises(KeyError, match=r"\['nope'\] not found"):
        evaluate_davis_sequences(net, demo_davis_root(), ["nope"], resolution=DEMO_RESOLUTION)
