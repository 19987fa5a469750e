"""Parity of our DeAOT (model + engine) with the official code packaged as ``deaotpy`` (import name ``aot``).

Recipe (REFERENCE.md): build the official model (random init), load its state dict into ours, run the same
multi-object video through the official ``DeAOTInferEngine`` and our :class:`VMOSTracker` with a small
long-term gap (long- and short-term memory both exercised), feed the SAME label map (the official argmax)
into both memories, and require max |logit difference| <= 1e-4 at every frame.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

aot = pytest.importorskip("aot", reason="deaotpy (official DeAOT) is not installed")

from hqtrack_core.data.transforms import normalize_image  # noqa: E402
from hqtrack_core.inference import MemoryPolicy, VMOSTracker  # noqa: E402
from hqtrack_core.model.build import vmos_from_preset  # noqa: E402

TOL = 1e-4


def _official(name: str):
    import contextlib
    import io

    from aot.configs.default import DefaultEngineConfig
    from aot.networks.models import build_vos_model

    with contextlib.redirect_stdout(io.StringIO()):  # it prints about the missing correlation sampler
        cfg = DefaultEngineConfig("parity", name)
        return build_vos_model("deaot", cfg).eval()


def _video(h: int, w: int, n_obj: int, n_frames: int, seed: int = 0):
    """Smoothly moving random textures with ``n_obj`` non-overlapping boxes in the first mask."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (h + 2 * n_frames, w + 2 * n_frames, 3)).astype(np.uint8)
    frames = [np.ascontiguousarray(base[t:t + h, 2 * t:2 * t + w]) for t in range(n_frames)]
    mask = np.zeros((h, w), np.int64)
    cols = int(np.ceil(np.sqrt(n_obj)))
    rows = int(np.ceil(n_obj / cols))
    bh, bw = h // rows, w // cols
    for i in range(n_obj):
        r, c = divmod(i, cols)
        mask[r * bh + 2:(r + 1) * bh - 2, c * bw + 2:(c + 1) * bw - 2] = i + 1
    return frames, mask


def run_parity(official_name: str, ours_name: str, h: int, w: int, n_obj: int, n_frames: int, gap: int = 2,
               local_mode: str = "auto") -> list[float]:
    """Per-frame max |logit difference| between the official engine and ours (same weights, same labels)."""
    from aot.networks.engines import build_engine

    torch.manual_seed(0)
    official = _official(official_name)
    ours = vmos_from_preset(ours_name)
    ours.load_state_dict(official.state_dict())
    for layer in ours.LSTT.layers:
        layer.short_term_attn.mode = local_mode
    engine = build_engine("deaotengine", "eval", aot_model=official, gpu_id=0, long_term_mem_gap=gap)
    tracker = VMOSTracker(ours, MemoryPolicy(long_term_gap=gap, short_term_skip=1))
    frames, mask = _video(h, w, n_obj, n_frames)
    diffs = []
    with torch.no_grad():
        engine.add_reference_frame(normalize_image(frames[0]), torch.from_numpy(mask)[None, None].float(),
                                   obj_nums=[n_obj], frame_step=0)
        tracker.step(frames[0], mask)
        channels = list(range(n_obj + 1))  # ids 1..n fill group slots in order, as the official split
        for t in range(1, n_frames):
            engine.match_propogate_one_frame(normalize_image(frames[t]))
            logits = engine.decode_current_logits((h, w))[0, channels]
            out = tracker.propagate(frames[t])
            assert out.object_ids == list(range(1, n_obj + 1))
            diffs.append((logits - out.logits).abs().max().item())
            label = logits.argmax(0)
            engine.update_memory(label[None, None].float())
            tracker.remember(label.numpy())
    # memory was exercised: several long-term entries besides the reference
    assert tracker.memory[0].num_long_term_entries == 1 + (n_frames - 1) // gap
    return diffs


CASES = [
    # official config, our preset, H, W, objects, frames
    ("deaott", "deaot_t", 97, 129, 3, 10),
    ("deaots", "deaot_s", 97, 129, 3, 8),
    ("deaotl", "deaot_l", 97, 129, 2, 8),
    ("r50_deaotl", "r50_deaot_l", 97, 129, 2, 6),
]


@pytest.mark.parametrize("official_name,ours_name,h,w,n_obj,n_frames", CASES, ids=[c[1] for c in CASES])
def test_parity_deaot_logits(official_name, ours_name, h, w, n_obj, n_frames):
    diffs = run_parity(official_name, ours_name, h, w, n_obj, n_frames)
    print(f"\nparity {ours_name}: worst max|logit diff| = {max(diffs):.3e} over {len(diffs)} frames")
    assert max(diffs) <= TOL, diffs


def test_parity_deaot_blocked_local_attention():
    """The tiled local attention (used at 480p) equals the official one too."""
    diffs = run_parity("deaott", "deaot_t", 129, 161, 2, 6, local_mode="blocked")
    print(f"\nparity deaot_t (blocked local attention): worst {max(diffs):.3e}")
    assert max(diffs) <= TOL, diffs


def test_parity_deaot_twelve_objects_two_groups():
    """12 objects: two groups sharing features, merged by soft aggregation as the official engine."""
    diffs = run_parity("deaott", "deaot_t", 97, 129, 12, 5)
    print(f"\nparity deaot_t 12 objects: worst {max(diffs):.3e}")
    assert max(diffs) <= TOL, diffs


def test_state_dict_names_equal_official():
    for official_name, ours_name in [("deaott", "deaot_t"), ("r50_deaotl", "r50_deaot_l")]:
        a = _official(official_name).state_dict()
        b = vmos_from_preset(ours_name).state_dict()
        assert set(a) == set(b)
        assert all(a[k].shape == b[k].shape for k in a)
