"""hub.load_vmos_model / load_tracker: one model-loading rule for the CLI and the notebooks ("" and "auto" mean the
default model, random weights may start from the ImageNet encoder)."""

from __future__ import annotations

import warnings

import torch

from hqtrack_core.hub import default_checkpoint, load_tracker, load_vmos_model


def test_empty_and_auto_mean_the_default_model():
    assert default_checkpoint().is_file()
    net, description = load_vmos_model("", "")
    assert description.startswith(default_checkpoint().name) and net.cfg.multiscale
    tracker, info = load_tracker("auto", short_edge=240)
    assert info.startswith(default_checkpoint().name) and "short edge 240" in info
    assert tracker.model.cfg == net.cfg


def test_random_weights_with_the_imagenet_encoder():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # checkpoint "none" is on purpose: no warning
        torch.manual_seed(1)
        a, description = load_vmos_model("deaot_t", "none", pretrained_encoder=True)
        torch.manual_seed(1)
        c, plain = load_vmos_model("deaot_t", "none")
    assert description == "deaot_t (random weights, ImageNet encoder)" and plain == "deaot_t (random weights)"
    enc_a, enc_c = (dict(n.encoder.named_parameters()) for n in (a, c))
    name = next(iter(enc_a))
    assert not torch.equal(enc_a[name], enc_c[name])  # same seed: only the ImageNet weights differ
