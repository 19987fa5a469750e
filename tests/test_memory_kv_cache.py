"""Memory keys/values are projected once, when a frame is written, never again per frame (as the official DeAOT
stores them): the ID value (``fuse_id``) runs once per layer per write, and the long-term concatenation is reused
until a long-term entry is added."""

from __future__ import annotations

import numpy as np
import torch

from hqtrack_core.inference import MemoryPolicy, VMOSTracker
from hqtrack_core.model.build import vmos_from_preset
from hqtrack_core.model.gpm import GatedPropagationModule

H, W = 65, 97


def test_memory_values_computed_once_per_write_and_concatenation_reused(monkeypatch):
    torch.manual_seed(0)
    model = vmos_from_preset("deaot_t").eval()
    calls = []
    real = GatedPropagationModule.fuse_id

    def counting(self, id_input, id_emb):
        calls.append(1)
        return real(self, id_input, id_emb)

    monkeypatch.setattr(GatedPropagationModule, "fuse_id", counting)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(8)]
    mask = np.zeros((H, W), np.int64)
    mask[10:40, 20:60] = 1
    tracker = VMOSTracker(model, MemoryPolicy(long_term_gap=3, max_long_term=3))
    tracker.step(frames[0], mask)
    layers = model.LSTT.num_layers
    seen = []
    for t in range(1, 8):
        before = len(calls)
        tracker.step(frames[t])
        assert len(calls) - before == layers, "one ID value per layer per written frame, whatever the memory holds"
        seen.append((tracker.memory[0].num_long_term_entries, tracker.memory[0].long_term_tokens(0)[0]))
    # frames 4 and 5 add no long-term entry after frame 3: the concatenated keys are the very same tensor
    (n3, k3), (n4, k4), (n5, k5) = seen[2], seen[3], seen[4]
    assert n3 == n4 == n5 == 2 and k4 is k3 and k5 is k3
    assert seen[5][1] is not k3  # frame 6 is a long-term write: rebuilt
