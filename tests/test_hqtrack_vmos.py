"""HQTrack multi-scale VMOS: presets and switches, official checkpoint import, memory policies, tracker."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hqtrack_core.inference.engine import VMOSTracker
from hqtrack_core.inference.memory import memory_policy
from hqtrack_core.model.checkpoint import load_official_checkpoint
from hqtrack_core.model.config import get_config
from hqtrack_core.model.identification import one_hot_labels
from hqtrack_core.model.init_rules import name_rule_state_dict
from hqtrack_core.model.build import vmos_from_preset
from hqtrack_core.model.multiscale import MultiScaleIDs, MultiScaleVMOS
from hqtrack_core.model.vmos import VMOS
from hqtrack_core.paths import artefacts_dir

SHAPES = artefacts_dir() / "fixtures" / "hqtrack_vmos_parity" / "official_state_dict_shapes.json"


@pytest.fixture(scope="module")
def teach():
    torch.manual_seed(0)
    return vmos_from_preset("hqtrack_teach").eval()


def _clip(t: int = 6, size: int = 65):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (t, size, size, 3), dtype=np.uint8)
    mask = np.zeros((size, size), np.int64)
    mask[5:25, 5:30] = 1
    mask[35:60, 30:60] = 2
    return frames, mask


def test_presets_registered_and_switches():
    vmos = get_config("hqtrack_vmos")
    assert (vmos.encoder, vmos.num_layers, vmos.multiscale, vmos.decoder) == ("internimage_t", 3, True, "quarter")
    assert tuple(vmos.encoder_dims) == (64, 128, 256, 256)
    teach = get_config("hqtrack_teach")
    assert teach.encoder == "mobilenetv2" and teach.multiscale
    assert isinstance(vmos_from_preset("hqtrack_teach", multiscale=False), VMOS)
    assert not isinstance(vmos_from_preset("hqtrack_teach", multiscale=False), MultiScaleVMOS)
    resnet = vmos_from_preset("hqtrack_teach", encoder="resnet50", encoder_dims=(256, 512, 1024, 1024))
    assert resnet.LSTT.s8_proj.in_channels == 512 and resnet.LSTT.s4_proj.in_channels == 256


def test_heads_and_shapes(teach):
    images = torch.randn(1, 3, 65, 81)
    labels = torch.zeros(1, 65, 81, dtype=torch.long)
    labels[:, 10:30, 10:40] = 1
    for model in (teach, vmos_from_preset("hqtrack_teach", decoder="fpn").eval()):
        with torch.no_grad():
            feats = model.encode(images)
            ids = model.id_embedding(one_hot_labels(labels, 11))
            assert isinstance(ids, MultiScaleIDs)
            assert ids.s16.shape == (1, 5 * 6, 256) and ids.s8.shape == (1, 9 * 11, 128)
            prop = model.propagate(feats, None, ids)
            assert prop.embedding.shape == (1, 128, 17, 21)
            assert prop.sizes == ((5, 6), (9, 11))
            keys, values = model.memory_entry(prop, ids)
            assert [k.shape[1] for k in keys] == [30, 99]
            assert [v.shape[-1] for v in values] == [1024, 512]
            logits = model.decode(prop, feats)
        assert logits.shape == (1, 11, 17, 21) and torch.isfinite(logits).all()


def test_id_embedding_from_labels_equals_full_one_hot(teach):
    labels = torch.zeros(1, 65, 65, dtype=torch.long)
    labels[:, 3:40, 10:50] = 2
    labels[:, 45:60, 5:20] = 1
    with torch.no_grad():
        full = teach.id_embedding(one_hot_labels(labels, 11))
        fast = teach.id_embedding_from_labels(labels)
    assert (full.s16 - fast.s16).abs().max() < 1e-5 and (full.s8 - fast.s8).abs().max() < 1e-5


def test_official_hqtrack_state_dict_loads_one_to_one(tmp_path):
    shapes = {k: tuple(v) for k, v in json.loads(SHAPES.read_text()).items()}
    official = name_rule_state_dict(shapes)
    path = tmp_path / "hqtrack_official.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in official.items()}}, path)  # DDP-style file
    model = MultiScaleVMOS("hqtrack_vmos")
    missing, unexpected = load_official_checkpoint(model, path)
    assert missing == [] and unexpected == []
    own = model.state_dict()
    assert all(torch.equal(own[k], official[k]) for k in official)


def test_deaot_checkpoint_into_hqtrack_model_is_a_clear_error():
    deaot_like = {k: v for k, v in MultiScaleVMOS("hqtrack_teach").state_dict().items()
                  if "s8" not in k and "s4" not in k and not k.startswith("conv_output")}
    with pytest.raises(ValueError, match=r"missing keys .*LSTT\.layer_s8"):
        load_official_checkpoint(MultiScaleVMOS("hqtrack_teach"), deaot_like)


def test_released_and_paper_memory_presets():
    released, paper = memory_policy("released"), memory_policy("paper")
    assert (released.long_term_gap, released.max_long_term, released.short_term_skip, released.write) == (
        50, 6, 4, "raw")
    assert (paper.long_term_gap, paper.max_long_term, paper.write) == (50, 8, "refined")


def test_tracker_runs_multiscale_with_bounded_memory(teach):
    frames, mask = _clip(t=8)
    tracker = VMOSTracker(teach, memory_policy("released", long_term_gap=2))
    tracker.step(frames[0], mask)
    for t in range(1, len(frames)):
        out = tracker.step(frames[t])
        assert set(np.unique(out.labels)) <= {0, 1, 2}
    memory = tracker.memory[0]
    assert memory.num_long_term_entries <= 6
    assert len(memory.short_term.keys) == 2  # the 1/16 layer and the 1/8 layer
