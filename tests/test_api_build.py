"""api.build_vmos / build_tracker(InferenceConfig.from_card(...)): one model-loading rule for the CLI and the notebooks
("" and "auto" mean the default model, random weights may start from the ImageNet encoder)."""

from __future__ import annotations

import warnings

import torch

from hqtrack_core.api import InferenceConfig, build_tracker, build_vmos, default_checkpoint


def test_empty_and_auto_mean_the_default_model():
    assert default_checkpoint().is_file()
    net, description = build_vmos(model="", checkpoint="")
    assert description.startswith(default_checkpoint().name) and net.cfg.multiscale
    config = InferenceConfig.from_card("auto", short_edge=240)  # (the notebooks' parameters: model "" or "auto")
    assert config.model is None and config.checkpoint == default_checkpoint()
    pipeline = build_tracker(config, device="cpu")
    info = pipeline.description
    assert info.startswith(f"model {default_checkpoint().name}") and "short edge 240," in info
    assert pipeline.tracker.model.cfg == net.cfg


def test_random_weights_with_the_imagenet_encoder():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # checkpoint "none" is on purpose: no warning
        torch.manual_seed(1)
        a, description = build_vmos(model="deaot_t", checkpoint="none", pretrained_encoder=True)
        torch.manual_seed(1)
        c, plain = build_vmos(model="deaot_t", checkpoint="none")
    assert description == "deaot_t (random weights, ImageNet encoder)" and plain == "deaot_t (random weights)"
    enc_a, enc_c = (dict(n.encoder.named_parameters()) for n in (a, c))
    name = next(iter(enc_a))
    assert not torch.equal(enc_a[name], enc_c[name])  # same seed: only the ImageNet weights differ
