"""Unit tests of the DeAOT VMOS core, engine, memory, object groups and checkpoints (no official code)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hqtrack_core.inference import (HQTRACK_RESIZE, OFFICIAL_RESIZE, GroupEngine, MemoryPolicy, ResizePolicy,
                                    VMOSTracker, memory_policy)
from hqtrack_core.model import VMOSConfig, vmos_from_preset, get_config, register_config
from hqtrack_core.model.checkpoint import load_official_checkpoint, load_vmos, save_vmos

H, W = 65, 97


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return vmos_from_preset("deaot_t").eval()


def _frames(n, seed=0, h=H, w=W):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def _mask(ids, h=H, w=W):
    mask = np.zeros((h, w), np.int64)
    for k, obj in enumerate(ids):
        r, c = divmod(k, 4)
        mask[2 + r * 15:12 + r * 15, 2 + c * 22:18 + c * 22] = obj
    return mask


def test_step_outputs_and_memory(model):
    frames = _frames(6)
    tracker = VMOSTracker(model, MemoryPolicy(long_term_gap=2, short_term_skip=1))
    first = tracker.step(frames[0], _mask([3, 7]))
    assert first.object_ids == [3, 7] and first.frame_index == 0
    assert set(np.unique(first.labels)) <= {0, 3, 7}
    for t in range(1, 6):
        out = tracker.step(frames[t])
        assert out.labels.shape == (H, W) and out.labels.dtype == np.int64
        assert set(np.unique(out.labels)) <= {0, 3, 7}
        assert out.probs.shape == (3, H, W)
        torch.testing.assert_close(out.probs.sum(0), torch.ones(H, W))
        assert out.frame_index == t
    mem = tracker.memory[0]
    assert mem.frame_indices == [4, 2, 0]  # newest first, reference last
    assert mem.short_term.frame_index == 5


def test_bounded_memory_and_short_term_skip(model):
    frames = _frames(9)
    tracker = VMOSTracker(model, MemoryPolicy(long_term_gap=1, max_long_term=3, short_term_skip=3))
    tracker.step(frames[0], _mask([1]))
    for t in range(1, 9):
        tracker.step(frames[t])
        mem = tracker.memory[0]
        assert mem.num_long_term_entries <= 3
        assert mem.references[0].frame_index == 0  # pinned
        # official list semantics: attend to the oldest of the last `skip` writes (reference resets it)
        assert mem.short_term.frame_index == max(0, t - 2)
    assert tracker.memory[0].frame_indices == [8, 7, 0]


def test_memory_presets():
    assert memory_policy("released") == MemoryPolicy(long_term_gap=50, max_long_term=6, short_term_skip=4)
    assert memory_policy("paper").max_long_term == 8
    with pytest.raises(KeyError, match="unknown memory policy"):
        memory_policy("nope")
    with pytest.raises(ValueError, match="long_term_gap"):
        MemoryPolicy(long_term_gap=0)


def test_twelve_objects_use_two_groups(model):
    ids = list(range(1, 13))
    frames = _frames(3)
    tracker = VMOSTracker(model, MemoryPolicy(long_term_gap=2))
    tracker.step(frames[0], _mask(ids))
    assert len(tracker.groups) == 2
    assert [o for o, _ in tracker.objects.group_objects(1)] == [11, 12]
    out = tracker.step(frames[1])
    assert out.object_ids == ids and out.probs.shape == (13, H, W)
    assert len(tracker.memory) == 2 and all(len(m.short_term_queue) == 1 for m in tracker.memory)


def test_objects_added_mid_video(model):
    frames = _frames(6)
    tracker = VMOSTracker(model)
    tracker.step(frames[0], _mask([1]))
    tracker.step(frames[1])
    out = tracker.step(frames[2], _mask([0, 5]))  # id 5 appears at frame 2
    assert out.object_ids == [1, 5]
    assert (out.labels[_mask([0, 5]) == 5] == 5).all()
    assert [e.frame_index for e in tracker.memory[0].references] == [2, 0]
    out = tracker.step(frames[3])
    assert out.object_ids == [1, 5] and out.probs.shape == (3, H, W)
    # a new group when the first is full
    many = VMOSTracker(model)
    many.step(frames[0], _mask(list(range(1, 11))))
    many.step(frames[1], _mask([0] * 10 + [42]))
    assert len(many.groups) == 2 and many.objects.slot(42) == (1, 1)
    assert many.memory[0].references[0].frame_index == 0  # group 0 got a normal write
    assert many.memory[1].references[0].frame_index == 1
    out = many.step(frames[2])
    assert out.object_ids == list(range(1, 11)) + [42]
    many.remove_object(42)
    assert many.step(frames[3]).object_ids == list(range(1, 11))


def test_clear_errors(model):
    frames = _frames(3)
    tracker = VMOSTracker(model)
    with pytest.raises(ValueError, match="first frame needs a mask"):
        tracker.step(frames[0])
    with pytest.raises(ValueError, match="does not match the image size"):
        tracker.step(frames[0], np.zeros((H, W + 1), np.int64))
    tracker.reset()
    with pytest.raises(ValueError, match="fractional values"):  # probabilities, not ids (0.0/1.0 floats are ids)
        tracker.step(frames[0], _mask([1]).astype(np.float32) * 0.5)
    tracker.reset()
    with pytest.raises(ValueError, match="integer object ids"):
        tracker.step(frames[0], _mask([1]).astype(np.complex64))
    tracker.reset()
    with pytest.raises(ValueError, match="no objects"):
        tracker.step(frames[0], np.zeros((H, W), np.int64))
    tracker.reset()
    with pytest.raises(ValueError, match="uint8"):
        tracker.step(frames[0].astype(np.float64), _mask([1]))
    tracker.reset()
    tracker.step(frames[0], _mask([1]))
    with pytest.raises(ValueError, match="image size changed"):
        tracker.step(_frames(1, h=H + 16)[0])
    with pytest.raises(ValueError, match="remember"):
        tracker.remember(_mask([1]))
    tracker.propagate(frames[1])
    with pytest.raises(KeyError, match="unknown object ids"):
        tracker.remember(_mask([9]))
    with pytest.raises(KeyError, match="unknown object id"):
        tracker.remove_object(9)
    with pytest.raises(ValueError, match="not listed"):
        tracker.step(frames[2], _mask([1, 2]), objects=[1])


def test_tensor_image_input_equals_uint8(model):
    frame = _frames(1)[0]
    a = VMOSTracker(model)
    b = VMOSTracker(model)
    a.step(frame, _mask([1]))
    b.step(torch.from_numpy(frame).permute(2, 0, 1).float() / 255, _mask([1]))
    torch.testing.assert_close(a.step(frame).logits, b.step(torch.from_numpy(frame).permute(2, 0, 1) / 255.0).logits)


def test_resize_policy_and_resized_tracking(model):
    assert OFFICIAL_RESIZE.size_for(480, 854) == (481, 849)
    assert HQTRACK_RESIZE.size_for(240, 427) == (481, 849)
    assert ResizePolicy(max_long_edge=96).size_for(H, W) == (65, 97)
    tracker = VMOSTracker(model, resize=ResizePolicy(max_long_edge=64))
    tracker.step(_frames(1)[0], _mask([1]))
    assert tracker.input_size == (49, 65)
    out = tracker.step(_frames(2)[1])
    assert out.labels.shape == (H, W)


def test_group_engine_is_differentiable():
    torch.manual_seed(0)
    model = vmos_from_preset("deaot_s").train()
    engine = GroupEngine(model, MemoryPolicy(long_term_gap=1))
    images = torch.randn(2, 3, H, W)
    labels = torch.zeros(2, H, W, dtype=torch.long)
    labels[:, 10:30, 10:40] = 1
    feats = model.encode(images)
    engine.add_reference(feats, labels, 0)
    prop = engine.propagate(model.encode(images.flip(-1)))
    logits = engine.decode(prop, feats, output_size=(H, W))
    assert logits.shape == (2, 11, H, W)
    logits.logsumexp(1).mean().backward()
    grads = [p.grad for n, p in model.named_parameters() if n.startswith("LSTT.layers.1.short_term_attn")]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_presets_and_registry():
    assert get_config("deaot_t").num_layers == 1 and get_config("deaot_l").num_layers == 3
    assert get_config("r50_deaot_l").encoder_dims == (256, 512, 1024, 1024)
    with pytest.raises(KeyError, match="unknown VMOS config"):
        get_config("deaot_xl")
    with pytest.raises(KeyError, match="already registered"):
        register_config("deaot_t", VMOSConfig())
    params = sum(p.numel() for p in vmos_from_preset("deaot_t").parameters())
    assert abs(params / 1e6 - 7.24) < 0.01  # published DeAOT-T size


def test_imagenet_mobilenet_weights_load():
    from hqtrack_core.model.encoders import build_encoder

    enc = build_encoder("mobilenetv2", pretrained=True)
    sd = torch.load(__import__("hqtrack_core.model.encoders.mobilenet", fromlist=["x"]).imagenet_weights_path(),
                    map_location="cpu", weights_only=True)
    torch.testing.assert_close(enc.features[5].conv[0][0].weight, sd["features.5.conv.0.0.weight"])


def test_checkpoint_roundtrip_and_errors(model, tmp_path):
    path = save_vmos(model, tmp_path / "m.safetensors", preset="deaot_t")
    loaded = load_vmos(path).eval()
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)
    # official layouts: {'state_dict': ...} with DDP 'module.' prefixes
    other = vmos_from_preset("deaot_t")
    wrapped = {"state_dict": {"module." + k: v for k, v in model.state_dict().items()}}
    load_official_checkpoint(other, wrapped)
    torch.testing.assert_close(other.LSTT.layers[0].linear_QV.weight, model.LSTT.layers[0].linear_QV.weight)
    bad = dict(model.state_dict())
    bad.pop("id_norm.weight")
    bad["extra.weight"] = torch.zeros(1)
    bad["decoder.conv_out.bias"] = torch.zeros(3)
    with pytest.raises(ValueError) as err:
        load_official_checkpoint(other, bad)
    msg = str(err.value)
    assert "id_norm.weight" in msg and "extra.weight" in msg and "decoder.conv_out.bias" in msg
    with pytest.raises(ValueError, match="shape mismatches"):
        load_official_checkpoint(vmos_from_preset("deaot_s"), model.state_dict())
    with pytest.raises(FileNotFoundError):
        load_vmos(tmp_path / "missing.safetensors")


def test_rejected_inputs_leave_no_half_state(model):
    frames = _frames(3)
    tracker = VMOSTracker(model)
    with pytest.raises(ValueError):
        tracker.step(frames[0], np.zeros((H, W), np.int64))
    assert tracker.image_size is None and tracker.frame_index == -1
    tracker.step(frames[0], _mask([1, 2]))
    tracker.remove_object(2)
    with pytest.raises(ValueError, match="removed"):
        tracker.step(frames[1], _mask([0, 2]))
    assert tracker.frame_index == 0  # nothing propagated
    assert tracker.step(frames[1]).object_ids == [1]


def test_optimized_copy_equals_plain_model(model):
    frames = _frames(4)
    fast, plain = VMOSTracker(model, optimize=True), VMOSTracker(model, optimize=False)
    fast.step(frames[0], _mask([1, 2]))
    plain.step(frames[0], _mask([1, 2]))
    for t in range(1, 4):
        a, b = fast.propagate(frames[t]), plain.propagate(frames[t])
        assert (a.logits - b.logits).abs().max().item() < 1e-4
        fast.remember(a.labels)
        plain.remember(a.labels)
    assert model.encoder.features[0][1].__class__.__name__ == "FrozenBatchNorm2d"  # user's model untouched


def test_channel_argmax_first_max_wins():
    from hqtrack_core.inference.merge import channel_argmax

    x = torch.randn(5, 7, 9)
    x[3, :2] = x[1, :2] = x.max() + 1  # ties: the lower channel wins, like torch.argmax
    assert torch.equal(channel_argmax(x), x.argmax(0))


def test_memory_eviction_keeps_every_reference():
    from hqtrack_core.inference import MemoryEntry, MemoryState

    def entry(t):
        return MemoryEntry(t, [torch.zeros(1, 2, 3)], [torch.zeros(1, 2, 4)])

    state = MemoryState(MemoryPolicy(long_term_gap=1, max_long_term=4))
    state.add_reference(entry(0))
    for t in range(1, 6):
        state.add_frame(entry(t))
    state.add_reference(entry(6))  # an object added mid-video
    for t in range(7, 10):
        state.add_frame(entry(t))
    assert state.frame_indices == [9, 8, 6, 0]
    keys, values = state.long_term_tokens(0)
    assert keys.shape == (1, 8, 3) and values.shape == (1, 8, 4)
    with pytest.raises(ValueError, match="reference"):
        MemoryState(MemoryPolicy()).add_frame(entry(1))


def test_resnet_pretrained_needs_a_file():
    from hqtrack_core.model.encoders import build_encoder

    with pytest.raises(FileNotFoundError, match="weights_path"):
        build_encoder("resnet50", pretrained=True)
    with pytest.raises(KeyError, match="unknown encoder"):
        build_encoder("vgg16")


def test_memory_nbytes_counts_shared_frames_once(model):
    frames = _frames(3)
    tracker = VMOSTracker(model, MemoryPolicy(long_term_gap=1))
    tracker.step(frames[0], _mask([1]))
    tracker.step(frames[1])  # frame 1 is both the short-term and a long-term entry
    mem = tracker.memory[0]
    per_frame = mem.references[0].nbytes()
    assert mem.nbytes() == 2 * per_frame


def test_a_known_object_given_again_is_corrected(model):
    """A mask mid-video for an id the tracker already follows replaces its prediction on that frame, background
    included (an over-segmentation can be cut back), pins the frame as a reference, and leaves other ids alone
    (issue 31: the lecture demo's correction mid-video)."""
    frames = _frames(5)
    tracker = VMOSTracker(model)
    big = np.zeros((H, W), np.int64)
    big[5:60, 5:90] = 1
    big[40:60, 60:90] = 2
    tracker.step(frames[0], big)
    predicted = tracker.step(frames[1]).labels
    small = np.zeros((H, W), np.int64)
    small[10:20, 10:30] = 1  # object 1 corrected to a small box; object 2 not mentioned
    out = tracker.step(frames[2], small)
    assert out.object_ids == [1, 2]
    assert ((out.labels == 1) == (small == 1)).all()  # exactly the given mask, no leftover prediction
    keep2 = (small == 0) & (out.labels != 1)
    assert (out.labels[keep2] == 2).sum() > 0 or (predicted == 2).sum() == 0  # object 2 still predicted
    assert [e.frame_index for e in tracker.memory[0].references] == [2, 0]
