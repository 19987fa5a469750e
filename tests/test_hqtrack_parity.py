"""HQTrack's multi-scale VMOS against the official HQTrack code (MSDeAOT_V2, internT_msdeaotl_v2).

The fixture (``data/fixtures/hqtrack_vmos_parity``, provenance in ``data/fixtures/README.md``) holds a 14-frame
129x161 synthetic video with 3 objects, the official per-frame logits at 1/4 scale, and the label maps both
sides write to memory. Weights come from the name rule (``hqtrack_core.model.init_rules``) on both sides.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hqtrack_core.inference.group import GroupEngine
from hqtrack_core.inference.memory import memory_policy
from hqtrack_core.model.gpm import LayerMemory
from hqtrack_core.model.identification import one_hot_labels
from hqtrack_core.model.init_rules import apply_name_rule
from hqtrack_core.model.multiscale import MultiScaleVMOS
from hqtrack_core.paths import artefacts_dir

FIXTURE = artefacts_dir() / "fixtures" / "hqtrack_vmos_parity"
TOL = 1e-4


@pytest.fixture(scope="module")
def fixture():
    data = np.load(FIXTURE / "video.npz")
    meta = json.loads((FIXTURE / "meta.json").read_text())
    mean = torch.tensor(meta["input_normalisation"]["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(meta["input_normalisation"]["std"]).view(1, 3, 1, 1)
    images = (torch.from_numpy(data["frames"]).permute(0, 3, 1, 2).float() / 255.0 - mean) / std
    return {
        "images": images,
        "labels": torch.from_numpy(data["labels"]).long(),
        "logits": torch.from_numpy(data["logits"]),
        "meta": meta,
    }


@pytest.fixture(scope="module")
def official_weights_model():
    model = MultiScaleVMOS("hqtrack_vmos").eval()
    apply_name_rule(model)
    return model


def run_released_memory(model, fx, short_skip: int, max_long: int, drop_reference: bool = False):
    """Drive the model tensor API with the released memory rules written out explicitly.

    Long-term: entries newest first, the reference frame last; when ``max_long`` entries are stored the
    oldest non-reference entry is dropped (or, ``drop_reference=True``, the reference: a wrong policy used
    to check that the fixture notices). Short-term: the entry written ``short_skip`` frames back.
    Returns the per-frame logits (frames 1..T-1, channels 0..objects).
    """
    meta = fx["meta"]
    n_ids = model.max_obj_num + 1
    n_keep = meta["objects"] + 1
    images, labels = fx["images"], fx["labels"]
    gap = meta["long_term_mem_gap"]
    outputs = []
    with torch.no_grad():
        feats = model.encode(images[0:1])
        ids = model.id_embedding(one_hot_labels(labels[0:1], n_ids))
        keys, values = model.memory_entry(model.propagate(feats, None, ids), ids)
        long_term = [[(k, v)] for k, v in zip(keys, values)]
        short_term = [list(zip(keys, values))]
        last_write = 0
        for t in range(1, meta["frames"]):
            feats = model.encode(images[t : t + 1])
            short = short_term[0]
            memories = [
                LayerMemory(
                    torch.cat([k for k, _ in long_term[i]], 1),
                    torch.cat([v for _, v in long_term[i]], 1),
                    short[i][0],
                    short[i][1],
                )
                for i in range(len(long_term))
            ]
            prop = model.propagate(feats, memories)
            outputs.append(model.decode(prop, feats)[0, :n_keep])
            ids = model.id_embedding(one_hot_labels(labels[t : t + 1], n_ids))
            keys, values = model.memory_entry(prop, ids)
            short_term = (short_term + [list(zip(keys, values))])[-short_skip:]
            if t - last_write >= gap:
                for i in range(len(long_term)):
                    entries = long_term[i]
                    if len(entries) >= max_long:
                        entries = entries[: max_long - 1] if drop_reference else entries[: max_long - 2] + entries[-1:]
                    long_term[i] = [(keys[i], values[i])] + entries
                last_write = t
    return outputs


def test_hqtrack_vmos_parity_with_official(fixture, official_weights_model):
    """Through the engine's memory (MemoryState with the released policy, long-term gap 2 as the fixture)."""
    meta = fixture["meta"]
    model = official_weights_model
    policy = memory_policy("released", long_term_gap=meta["long_term_mem_gap"])
    assert policy.max_long_term == meta["max_long_term_entries"]
    assert policy.short_term_skip == meta["short_term_mem_skip"]
    engine = GroupEngine(model, policy)
    images, labels = fixture["images"], fixture["labels"]
    diffs = []
    with torch.no_grad():
        engine.add_reference(model.encode(images[0:1]), labels[0:1], 0)
        for t in range(1, meta["frames"]):
            feats = model.encode(images[t : t + 1])
            prop = engine.propagate(feats)
            logits = engine.decode(prop, feats, slots_used=meta["objects"])[0, : meta["objects"] + 1]
            diffs.append((logits - fixture["logits"][t - 1]).abs().max().item())
            engine.remember(prop, labels[t : t + 1], t)
    print("hqtrack vmos parity, max |logit diff| per frame:", [f"{d:.1e}" for d in diffs])
    assert len(diffs) == meta["frames"] - 1
    assert max(diffs) <= TOL, diffs
    # the released cap was exercised: 7 long-term writes, frame 2 (oldest non-reference) evicted
    assert engine.memory.frame_indices == [12, 10, 8, 6, 4, 0]


def test_hqtrack_parity_fixture_detects_wrong_memory_policy(fixture, official_weights_model):
    """The fixture is sensitive to the released memory rules: dropping the reference frame instead of the
    oldest other entry breaks parity, so the parity test above can fail. (That the right rules reproduce the
    fixture is test_hqtrack_vmos_parity_with_official; not run twice here, the model is slow on CPU.)"""
    meta = fixture["meta"]
    wrong_drop = run_released_memory(official_weights_model, fixture, meta["short_term_mem_skip"],
                                     meta["max_long_term_entries"], drop_reference=True)
    assert (wrong_drop[-1] - fixture["logits"][-1]).abs().max().item() > 10 * TOL


def test_hqtrack_state_dict_names_match_official():
    model = MultiScaleVMOS("hqtrack_vmos")
    names = set(model.state_dict())
    for name in (
        "encoder.levels.3.blocks.3.dcn.offset.weight",
        "LSTT.layers.2.linear_ID_U.weight",
        "LSTT.layer_s8.linear_ID_V.weight",
        "LSTT.layer_s8.short_term_attn.relative_emb_k.weight",
        "LSTT.s8_cons_in.conv.weight",
        "LSTT.s8_cons_out_id.res2.gn2.bias",
        "LSTT.s4_proj.weight",
        "LSTT.decoder_norms.0.gn.weight",
        "LSTT.decoder_norms_s4.0.gn.weight",
        "patch_wise_id_bank_s8.weight",
        "id_norm_s8.weight",
        "conv_output1.conv.weight",
        "conv_output2.bias",
        "decoder.conv_out.weight",
    ):
        assert name in names, name
    assert sum(p.numel() for p in model.parameters()) == 33_820_938  # official MSDeAOT_V2
