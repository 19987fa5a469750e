"""Int8 storage of our VMOS checkpoints (hqtrack_core/model/int8_storage.py): half the file, every weight within
half a quantisation step of the original, the card and config kept, and loading through every path that reads our
files (load_vmos, api.build_vmos, training --init)."""

from __future__ import annotations

import pytest
import torch

from hqtrack_core.api import build_vmos
from hqtrack_core.model.card import ModelCard, read_model_card
from hqtrack_core.model.checkpoint import load_vmos, read_vmos_config, save_vmos
from hqtrack_core.model.build import vmos_from_preset
from hqtrack_core.model.int8_storage import quantize_state, write_int8_checkpoint
from hqtrack_core.weights import SCALE_SUFFIX, dequantize_state


@pytest.fixture(scope="module")
def fp16_checkpoint(tmp_path_factory):
    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("int8") / "small.safetensors"
    card = ModelCard(name="deaot_t", train_short_edge=97, preferred_short_edge=97, data="none (random)", steps="0")
    save_vmos(vmos_from_preset("deaot_t").half(), path, preset="deaot_t", card=card)
    return path, card


def test_round_trip_error_is_at_most_half_a_step_per_channel():
    torch.manual_seed(0)
    w = torch.randn(16, 32, 3, 3) * torch.linspace(0.01, 2.0, 16).view(-1, 1, 1, 1)
    state = {"conv.weight": w, "conv.bias": torch.randn(16), "tiny.weight": torch.randn(4, 4),
             "step": torch.tensor(3)}
    q = quantize_state(state)
    assert q["conv.weight"].dtype == torch.int8 and q["conv.weight" + SCALE_SUFFIX].shape == (16,)
    assert q["conv.bias"] is state["conv.bias"] and q["tiny.weight"] is state["tiny.weight"]  # small: kept
    back = dequantize_state(q, dtype=torch.float32)
    assert set(back) == set(state)
    step = w.reshape(16, -1).abs().amax(1) / 127
    err = (back["conv.weight"] - w).abs().reshape(16, -1).amax(1)
    assert torch.all(err <= step / 2 + 1e-6)
    assert torch.all(err > 0)  # it is lossy: the test would notice a pass-through


def test_broken_int8_states_are_refused():
    q = quantize_state({"w": torch.randn(64, 128)})
    with pytest.raises(ValueError, match="has no"):
        dequantize_state({"w": q["w"], "other" + SCALE_SUFFIX: q["w" + SCALE_SUFFIX]})
    with pytest.raises(ValueError, match="does not fit its scale"):
        dequantize_state({"w": q["w"], "w" + SCALE_SUFFIX: torch.ones(3)})
    with pytest.raises(ValueError, match="already holds"):
        quantize_state(q)


def test_int8_checkpoint_is_half_the_size_and_loads_everywhere(fp16_checkpoint, tmp_path):
    path, card = fp16_checkpoint
    small = write_int8_checkpoint(path, tmp_path / "small_int8.safetensors")
    assert small.stat().st_size < 0.6 * path.stat().st_size
    assert read_model_card(small) == card and read_vmos_config(small) == read_vmos_config(path)
    a, b = load_vmos(path).state_dict(), load_vmos(small).state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape
        bound = a[key].float().reshape(a[key].shape[0], -1).abs().amax(1) / 254 if a[key].dim() >= 2 else 0
        diff = (a[key].float() - b[key].float()).abs()
        if a[key].dim() >= 2:
            assert torch.all(diff.reshape(a[key].shape[0], -1).amax(1) <= bound * 1.01 + 1e-3), key
        else:
            assert torch.equal(a[key], b[key]), key
    net, description = build_vmos(checkpoint=small)
    assert small.name in description


def test_training_can_start_from_an_int8_checkpoint(fp16_checkpoint, tmp_path):
    from hqtrack_core.training.config import get_train_config
    from hqtrack_core.training.trainer import Trainer

    path, _ = fp16_checkpoint
    small = write_int8_checkpoint(path, tmp_path / "init_int8.safetensors")
    cfg = get_train_config("ci_smoke").replace(model="deaot_t", init_checkpoint=str(small))
    trainer = Trainer(cfg, out_dir=tmp_path / "run", dataset=[], progress=False, device="cpu")
    ref = load_vmos(small).state_dict()
    own = trainer.model.state_dict()
    assert all(torch.equal(own[k], ref[k].float()) for k in ref if not k.endswith("num_batches_tracked"))
