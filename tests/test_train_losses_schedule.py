"""Losses (bootstrapped CE ramp, soft Jaccard, aux decay), schedule (warm-up, poly, encoder ratio), EMA."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from hqtrack_core.training.config import PRESETS, TrainConfig, get_train_config
from hqtrack_core.training.ema import ModelEMA
from hqtrack_core.training.losses import (SegmentationLoss, aux_weight_at, bootstrapped_cross_entropy,
                                          soft_jaccard, top_k_fraction)
from hqtrack_core.training.schedule import apply_lr, build_optimizer, lr_at


def test_top_k_ramp_goes_from_all_pixels_to_hardest_15_percent():
    assert top_k_fraction(0, 0.15, 1000) == 1.0
    assert top_k_fraction(500, 0.15, 1000) == pytest.approx(0.575)
    assert top_k_fraction(1000, 0.15, 1000) == pytest.approx(0.15)
    assert top_k_fraction(5000, 0.15, 1000) == pytest.approx(0.15)


def test_bootstrapped_ce_keeps_the_hardest_pixels():
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 16, 16)
    labels = torch.randint(0, 3, (16, 16))
    full = nn.functional.cross_entropy(logits, labels[None])
    assert bootstrapped_cross_entropy(logits, labels, 1.0) == pytest.approx(full.item(), rel=1e-6)
    hard = bootstrapped_cross_entropy(logits, labels, 0.15)
    assert hard > full
    per_pixel = nn.functional.cross_entropy(logits, labels[None], reduction="none").flatten()
    k = int(0.15 * 256)
    assert hard.item() == pytest.approx(per_pixel.sort(descending=True).values[:k].mean().item(), rel=1e-6)


def test_soft_jaccard_is_zero_for_a_perfect_prediction_and_ignores_255():
    labels = torch.zeros(8, 8, dtype=torch.long)
    labels[2:5, 2:5] = 1
    perfect = torch.nn.functional.one_hot(labels, 2).permute(2, 0, 1)[None].float() * 50
    assert soft_jaccard(perfect, labels).item() < 1e-4
    wrong = perfect.flip(1)
    assert soft_jaccard(wrong, labels).item() > 0.99
    ignored = labels.clone()
    ignored[0, 0] = 255
    assert torch.isfinite(soft_jaccard(wrong, ignored))


def test_segmentation_loss_only_sees_present_identities():
    loss = SegmentationLoss(0.15, 100)
    labels = torch.zeros(2, 9, 9, dtype=torch.long)
    labels[0, :4] = 1
    logits = torch.zeros(2, 11, 9, 9)
    logits[:, 5] = 100.0  # a huge logit on an unused slot must not matter for clip 0 with 1 object
    out = loss(logits, labels, [1, 0], step=0)
    assert out.shape == (2,)
    assert out[0].item() == pytest.approx(loss(logits[:, :2], labels, [1, 0], 0)[0].item())
    with pytest.raises(ValueError, match="batch mismatch"):
        loss(logits, labels, [1], 0)


def test_aux_weight_decays_linearly_to_zero():
    assert aux_weight_at(0, 1.0, 100) == 1.0
    assert aux_weight_at(50, 1.0, 100) == pytest.approx(0.5)
    assert aux_weight_at(100, 1.0, 100) == 0.0
    assert aux_weight_at(10, 1.0, 0) == 0.0


def test_lr_warms_up_then_decays_to_the_minimum():
    cfg = TrainConfig(steps=1000, lr=2e-4, lr_min=1e-5, warmup_ratio=0.05)
    assert lr_at(0, cfg) == pytest.approx(1e-5)
    assert lr_at(50, cfg) == pytest.approx(2e-4)
    assert lr_at(25, cfg) == pytest.approx((1e-5 + 2e-4) / 2)
    assert lr_at(999, cfg) < 1e-5 + 2e-6
    lrs = [lr_at(s, cfg) for s in range(50, 1000, 50)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.patch_wise_id_bank = nn.Conv2d(11, 4, 3)
        self.head = nn.Linear(4, 2)


def test_optimizer_groups_encoder_ratio_freeze_and_weight_decay():
    cfg = TrainConfig(steps=100, lr=1e-3, lr_min=1e-5, warmup_ratio=0.0, encoder_lr_ratio=0.1, weight_decay=0.07)
    opt = build_optimizer(_Tiny(), cfg)
    groups = {g["name"]: g for g in opt.param_groups}
    assert groups["head.bias"]["weight_decay"] == 0.0
    assert groups["head.weight"]["weight_decay"] == 0.07
    assert groups["encoder.1.weight"]["weight_decay"] == 0.07  # frozen-BN encoder norms keep decay (official)
    base = apply_lr(opt, 0, cfg, freeze=("patch_wise_id_bank",))
    assert groups["head.weight"]["lr"] == pytest.approx(base)
    assert groups["encoder.0.weight"]["lr"] == pytest.approx((base - 1e-5) * 0.1 + 1e-5)
    assert groups["patch_wise_id_bank.weight"]["lr"] == 0.0
    apply_lr(opt, 0, cfg)  # unfrozen again: weight decay restored
    assert groups["patch_wise_id_bank.weight"]["weight_decay"] == 0.07


def test_ema_tracks_and_round_trips():
    model = nn.Linear(2, 2)
    ema = ModelEMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)  # warm-up decay min(0.9, 2/11)
    d = 2 / 11
    expected = model.weight - 1.0 + (1 - d) * 1.0
    assert torch.allclose(ema.shadow["weight"], expected)
    other = ModelEMA(nn.Linear(2, 2), decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert other.num_updates == 1 and torch.equal(other.shadow["weight"], ema.shadow["weight"])
    with pytest.raises(ValueError):
        ModelEMA(model, decay=1.5)


def test_presets_are_complete_and_round_trip_through_json(tmp_path):
    for name in ("paper_stage1", "paper_stage2", "cpu_teach_stage1", "cpu_teach_stage2", "ci_smoke"):
        assert name in PRESETS
    s1, s2 = get_train_config("paper_stage1"), get_train_config("paper_stage2")
    assert (s1.lr, s1.weight_decay, s1.merge_prob, s1.aux_ratio) == (4e-4, 0.03, 1.0, 0.1)
    assert (s2.lr, s2.weight_decay, s2.merge_prob, s2.seq_training_start_ratio) == (2e-4, 0.07, 0.3, 0.5)
    path = tmp_path / "c.json"
    path.write_text(s2.to_json())
    assert TrainConfig.from_json(path) == s2
    with pytest.raises(KeyError, match="unknown training preset"):
        get_train_config("nope")
    with pytest.raises(KeyError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="stage"):
        TrainConfig(stage=3)
    with pytest.raises(ValueError, match="long_term_gap must be >= 1"):
        TrainConfig(long_term_gap=0)
    assert math.isfinite(lr_at(0, s1))
