"""HQ-SAM / SAM refiner with a random-initialised vit_tiny (no weights needed).

vit_tiny encodes at 1024 px whatever the input size (~2-3 s per encoding on one CPU thread): the tests share
one model and keep encodings few.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hqtrack_core.refine import SamRefiner, build_refiner, build_sam, load_sam_checkpoint
from hqtrack_core.refine.sam import HQ_ONLY_PREFIXES

H, W = 96, 128


@pytest.fixture(scope="module")
def hq_model():
    torch.manual_seed(0)
    return build_sam("vit_tiny", decoder="hq")


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    image = (rng.random((H, W, 3)) * 255).astype(np.uint8)
    labels = np.zeros((H, W), np.int64)
    labels[10:40, 10:50] = 1
    labels[50:90, 60:120] = 3
    labels[5:15, 100:125] = 4
    return image, labels


class EncoderCounter:
    def __init__(self, model):
        self.count = 0
        self.handle = model.image_encoder.register_forward_hook(self._hook)

    def _hook(self, *args):
        self.count += 1


def test_refiner_hqsam_one_encoding_per_frame_and_shapes(hq_model, frame):
    image, labels = frame
    refiner = SamRefiner(hq_model)
    counter = EncoderCounter(hq_model)
    try:
        result = refiner.refine(image, labels, object_ids=[1, 3, 4, 9])
    finally:
        counter.handle.remove()
    assert counter.count == 1 and refiner.encode_count == 1  # 3 objects, one encoding
    assert result.labels.shape == (H, W) and result.labels.dtype == labels.dtype
    assert result.proposals.shape == (4, H, W) and result.proposals.dtype == bool
    assert result.refined.tolist() == [True, True, True, False]
    assert np.isfinite(result.scores[:3]).all() and np.isnan(result.scores[3])
    assert set(np.unique(result.labels)) <= {0, 1, 3, 4}
    for k in range(3):
        assert result.accepted[k] == (result.iou[k] >= 0.1)


def test_refiner_hqsam_batched_decoder_equals_one_by_one(hq_model, frame):
    image, labels = frame
    refiner = SamRefiner(hq_model, decode_batch=2)  # 3 boxes -> chunks of 2 + 1
    refiner.set_image(image)
    boxes = np.array([[10, 10, 49, 39], [60, 50, 119, 89], [100, 5, 124, 14]], float)
    torch.manual_seed(0)
    with torch.no_grad():
        batched = refiner.decode(boxes=boxes)
        single = [refiner.decode(boxes=b[None]) for b in boxes]
    assert batched.masks.shape == (3, H, W)
    for k, one in enumerate(single):
        assert np.allclose(batched.scores[k], one.scores[0], atol=1e-4)
        assert (batched.masks[k] != one.masks[0]).mean() < 1e-3
    # points and hq_token_only / single-mask options go through the same decoder
    refiner.multimask, refiner.hq_token_only = False, True
    pts = refiner.decode(points=np.array([[[30.0, 20.0], [5.0, 5.0]]]), point_labels=np.array([[1, 0]]))
    assert pts.masks.shape == (1, H, W)
    assert refiner.encode_count == 1


def test_refiner_sam_baseline_multimask_picks_best(frame):
    image, labels = frame
    torch.manual_seed(0)
    refiner = build_refiner("sam", model_type="vit_tiny")
    assert isinstance(refiner, SamRefiner) and not refiner.is_hq and refiner.name == "sam"
    refiner.set_image(image)
    box = np.array([[10, 10, 49, 39]], float)
    out = refiner.decode(boxes=box)
    # the plain SAM decoder returns 3 candidates; the refiner keeps the best predicted IoU
    tb = refiner.predictor.transform.apply_boxes_torch(torch.as_tensor(box, dtype=torch.float32), (H, W))
    masks, iou, _ = refiner.predictor.predict_torch(None, None, boxes=tb, multimask_output=True)
    best = int(iou[0].argmax())
    assert masks.shape[1] == 3
    assert np.array_equal(out.masks[0], masks[0, best].numpy()) and out.scores[0] == pytest.approx(float(iou[0, best]))
    with pytest.raises(ValueError, match="hq_token_only needs the HQ-SAM decoder"):
        SamRefiner(refiner.model, hq_token_only=True)


def test_refiner_checkpoint_loading_and_errors(tmp_path, hq_model):
    with pytest.raises(FileNotFoundError, match="not found"):
        build_sam("vit_tiny", checkpoint=tmp_path / "missing.pth")
    with pytest.raises(KeyError, match="unknown SAM model_type"):
        build_sam("vit_huge")
    with pytest.raises(KeyError, match="unknown refiner"):
        build_refiner("sam2")
    assert build_refiner("none") is None
    with pytest.raises(ValueError, match="refiner is 'none'"):
        build_refiner("none", checkpoint="sam_hq_vit_tiny.pth")
    # a checkpoint missing most names, with a stray one
    partial = {k: v for k, v in list(hq_model.state_dict().items())[:3]}
    partial["stray.weight"] = torch.zeros(1)
    bad = tmp_path / "bad.pth"
    torch.save(partial, bad)
    with pytest.raises(KeyError, match=r"missing .* 1 unexpected \['stray.weight'\]"):
        load_sam_checkpoint(hq_model, bad)
    with pytest.warns(UserWarning, match="stray.weight"):  # non-strict: loads the 3 matching names, warns
        load_sam_checkpoint(hq_model, bad, strict=False)
    # a full checkpoint (wrapped as {"model": ...}) round-trips on CPU, for HQ and (dropping HQ keys) SAM
    state = {k: v.clone() for k, v in hq_model.state_dict().items()}
    good = tmp_path / "sam_hq_vit_tiny.pth"
    torch.save({"model": state}, good)
    loaded = build_sam("vit_tiny", checkpoint=good, decoder="hq")
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, state[k]), k
    baseline = build_sam("vit_tiny", checkpoint=good, decoder="sam")
    assert not any(k.startswith(HQ_ONLY_PREFIXES) for k in baseline.state_dict())
    assert torch.equal(baseline.state_dict()["mask_decoder.iou_token.weight"], state["mask_decoder.iou_token.weight"])
    # an HQ model cannot take a plain-SAM checkpoint: HQ names are reported missing
    sam_only = tmp_path / "sam_vit_tiny.pth"
    torch.save(baseline.state_dict(), sam_only)
    with pytest.raises(KeyError, match="hf_token|hf_mlp|compress_vit_feat|embedding_"):
        build_sam("vit_tiny", checkpoint=sam_only, decoder="hq")
    # the right file for the wrong model type (a common user error) names the mismatch
    with pytest.raises(KeyError, match="wrong model_type"):
        build_sam("vit_b", checkpoint=good)
    with pytest.raises(ValueError, match="takes no checkpoint"):
        build_refiner("classical", checkpoint=good)


def test_refiner_fused_layernorm_matches_sam():
    from segment_anything_hq.modeling.common import LayerNorm2d

    from hqtrack_core.refine.sam_kernels import ChannelLayerNorm, fuse_layernorms

    ref = LayerNorm2d(32)
    torch.nn.init.normal_(ref.weight)
    torch.nn.init.normal_(ref.bias)
    x = torch.randn(2, 32, 9, 11) * 3 + 1
    fused = ChannelLayerNorm(ref.weight, ref.bias, ref.eps)
    assert torch.allclose(fused(x), ref(x), atol=1e-5)
    holder = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 1), LayerNorm2d(32))
    names = set(holder.state_dict())
    assert fuse_layernorms(holder) == 1 and isinstance(holder[1], ChannelLayerNorm)
    assert set(holder.state_dict()) == names  # checkpoints still load


@pytest.mark.parametrize("multimask,hq_token_only", [(True, False), (False, False), (False, True)])
def test_refiner_folded_hq_head_matches_package_decoder(multimask, hq_token_only):
    """The fast kernels (fused LayerNorm + folded HQ head) against the package's own HQ decoder, same weights."""
    import copy

    from hqtrack_core.refine.sam_kernels import fold_hq_head, fuse_layernorms

    torch.manual_seed(1)
    reference = build_sam("vit_tiny", decoder="hq")
    for p in reference.mask_decoder.parameters():  # larger than the default init, so the HQ head matters
        torch.nn.init.normal_(p, std=0.1)
    fast = copy.deepcopy(reference)
    assert fuse_layernorms(fast) > 0 and fold_hq_head(fast)
    assert set(fast.state_dict()) == set(reference.state_dict())
    assert not fold_hq_head(build_sam("vit_tiny", decoder="sam"))  # plain SAM decoder: nothing to fold
    g = torch.Generator().manual_seed(2)
    image_embeddings = torch.randn(1, 256, 64, 64, generator=g)
    interm = [torch.randn(1, 64, 64, 160, generator=g)]  # vit_tiny's early feature, channels last
    boxes = torch.tensor([[10.0, 20.0, 300.0, 400.0], [500, 100, 900, 700], [0, 0, 1023, 1023], [40, 40, 60, 90]])
    with torch.no_grad():
        outs = []
        for model in (reference, fast):
            sparse, dense = model.prompt_encoder(points=None, boxes=boxes, masks=None)
            outs.append(model.mask_decoder(
                image_embeddings=image_embeddings, image_pe=model.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                multimask_output=multimask, hq_token_only=hq_token_only, interm_embeddings=interm,
            ))
    (ref_masks, ref_iou), (fast_masks, fast_iou) = outs
    assert ref_masks.shape == fast_masks.shape == (4, 1, 256, 256)
    scale = float(ref_masks.abs().max())
    assert scale > 0.5  # the comparison is not between near-zero maps
    assert float((fast_masks - ref_masks).abs().max()) < 1e-5 * scale
    assert torch.allclose(fast_iou, ref_iou, atol=1e-5)
    assert float(((fast_masks > 0) != (ref_masks > 0)).float().mean()) < 1e-4


def test_refiner_fast_encoder_matches_package_encoder():
    """vit_tiny's encoder with conv + BatchNorm folded (channels-last) against the package's, same weights."""
    import copy

    from hqtrack_core.refine.sam_kernels import FoldedConvBN, apply_fast_kernels

    torch.manual_seed(3)
    reference = build_sam("vit_tiny", decoder="hq")
    with torch.no_grad():
        for name, buffer in reference.image_encoder.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_(0, 0.5)
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
        for name, p in reference.image_encoder.named_parameters():
            if ".bn." in name:
                p.normal_(1.0 if name.endswith("weight") else 0.0, 0.3)
    fast = copy.deepcopy(reference)
    counts = apply_fast_kernels(fast)
    assert counts["conv2d_bn"] > 20 and counts["hq_head"] == 1
    assert set(fast.state_dict()) == set(reference.state_dict())  # checkpoints still load
    x = torch.randn(1, 3, 1024, 1024, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ref_feat, ref_interm = reference.image_encoder(x)
        fast_feat, fast_interm = fast.image_encoder(x)
    assert float(ref_feat.abs().max()) > 0.1
    assert torch.allclose(fast_feat, ref_feat, atol=1e-4, rtol=1e-4)
    assert torch.allclose(fast_interm[0], ref_interm[0], atol=1e-4, rtol=1e-4)
    fast.train()  # training mode is the plain conv + BatchNorm
    block = next(m for m in fast.image_encoder.modules() if isinstance(m, FoldedConvBN))
    y = torch.randn(2, block.c.in_channels, 8, 8)
    assert torch.allclose(block(y), block.bn(block.c(y)))


def test_refiner_ours_equals_released_loop_on_package_model(frame):
    """End to end: our path (one encoding, batched boxes, fast kernels) and the released tracker's loop on the
    package's unmodified predictor (one encoding per object) give the same proposals and label map."""
    import copy
    import warnings

    from hqtrack_core.bench.refiner import released_loop

    with warnings.catch_warnings():  # the package re-registers TinyViT names in timm on import
        warnings.simplefilter("ignore")
        from segment_anything_hq import SamPredictor

    image, labels = frame
    torch.manual_seed(5)
    package_model = build_sam("vit_tiny", decoder="hq")
    refiner = SamRefiner(copy.deepcopy(package_model))
    with torch.inference_mode():
        ours = refiner.refine(image, labels)
        released_labels, released_proposals = released_loop(SamPredictor(package_model), image, labels, 0.1)
    assert refiner.encode_count == 1
    assert 0.01 < ours.proposals.mean() < 0.99  # proposals that are neither empty nor full: the check bites
    assert (ours.proposals != released_proposals).mean() < 1e-3
    assert (ours.labels != released_labels).mean() < 1e-3
