"""DCNv3 and InternImage-T against the official code (stored fixtures, see data/fixtures/README.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hqtrack_core.model.encoders.dcnv3 import DCNv3, dcnv3_core
from hqtrack_core.model.encoders.internimage import InternImageConfig, internimage_t
from hqtrack_core.model.init_rules import apply_name_rule
from hqtrack_core.paths import artefacts_dir

FIXTURES = artefacts_dir() / "fixtures"


def test_dcn_core_parity_with_official_pytorch_core():
    data = np.load(FIXTURES / "dcnv3_core_parity.npz")
    cases = sorted({key.split("_")[0] for key in data.files})
    assert len(cases) == 3
    worst = []
    for case in cases:
        k, s, p, d, g, scale = data[f"{case}_params"]
        out = dcnv3_core(
            torch.from_numpy(data[f"{case}_x"]),
            torch.from_numpy(data[f"{case}_offset"]),
            torch.from_numpy(data[f"{case}_mask"]),
            kernel_size=int(k),
            stride=int(s),
            pad=int(p),
            dilation=int(d),
            group=int(g),
            offset_scale=float(scale),
        )
        ref = torch.from_numpy(data[f"{case}_out"])
        assert out.shape == ref.shape
        worst.append((out - ref).abs().max().item())
    print("dcnv3 core parity, max |diff| per case:", [f"{w:.2e}" for w in worst])
    assert max(worst) <= 1e-5


def test_dcn_core_sensitive_to_offsets_and_mask():
    """The parity fixture would catch a swapped x/y or a wrong point order: check that these change the output."""
    data = np.load(FIXTURES / "dcnv3_core_parity.npz")
    x, offset, mask = (torch.from_numpy(data[f"case0_{n}"]) for n in ("x", "offset", "mask"))
    ref = torch.from_numpy(data["case0_out"])
    swapped = offset.view(*offset.shape[:3], -1, 2).flip(-1).reshape(offset.shape)
    out = dcnv3_core(x, swapped, mask, group=4)
    assert (out - ref).abs().max() > 1e-2


def test_dcn_module_zero_offsets_is_a_mask_weighted_3x3_conv():
    torch.manual_seed(0)
    dcn = DCNv3(channels=8, group=2).eval()  # official init: zero offsets, uniform mask (1/9)
    x = torch.randn(1, 5, 6, 8)
    with torch.no_grad():
        values = dcn.input_proj(x).permute(0, 3, 1, 2)
        box = torch.nn.functional.avg_pool2d(values, 3, stride=1, padding=1, count_include_pad=True)
        expected = dcn.output_proj(box.permute(0, 2, 3, 1))
        out = dcn(x)
    assert (out - expected).abs().max() < 1e-5


def test_dcn_core_bf16_close_to_fp32():
    """bf16 inputs (as under autocast) keep fp32 coordinates: the output stays within bf16 rounding of fp32."""
    data = np.load(FIXTURES / "dcnv3_core_parity.npz")
    x, offset, mask = (torch.from_numpy(data[f"case0_{n}"]) for n in ("x", "offset", "mask"))
    ref = torch.from_numpy(data["case0_out"])
    out = dcnv3_core(x.bfloat16(), offset.bfloat16(), mask.bfloat16(), group=4)
    assert out.dtype == torch.bfloat16
    err = (out.float() - ref).abs().max().item()
    assert err <= 0.02 * ref.abs().max().item(), err


def test_dcn_core_rejects_bad_shapes():
    x = torch.zeros(1, 4, 4, 8)
    with pytest.raises(ValueError, match="offset needs"):
        dcnv3_core(x, torch.zeros(1, 4, 4, 10), torch.zeros(1, 4, 4, 18), group=2)
    with pytest.raises(ValueError, match="divisible"):
        dcnv3_core(x, torch.zeros(1, 4, 4, 54), torch.zeros(1, 4, 4, 27), group=3)


def test_internimage_parity_with_official_hqtrack_encoder():
    data = np.load(FIXTURES / "internimage_t_parity.npz")
    model = internimage_t().eval()
    apply_name_rule(model, prefix="encoder.")
    with torch.no_grad():
        feats = model(torch.from_numpy(data["image"]))
    worst = []
    for i, feat in enumerate(feats):
        ref = torch.from_numpy(data[f"feature{i}"])
        assert feat.shape == ref.shape, (i, feat.shape, ref.shape)
        worst.append((feat - ref).abs().max().item())
    print("internimage-t parity, max |diff| per stage:", [f"{w:.2e}" for w in worst])
    assert max(worst) <= 1e-4


def test_internimage_state_dict_names_and_dims():
    model = internimage_t()
    names = model.state_dict().keys()
    for name in (
        "patch_embed.conv1.weight",
        "patch_embed.norm1.1.weight",
        "patch_embed.norm2.1.weight",
        "levels.0.blocks.0.dcn.offset.weight",
        "levels.0.blocks.0.dcn.mask.weight",
        "levels.0.blocks.0.dcn.input_proj.weight",
        "levels.0.blocks.0.dcn.output_proj.weight",
        "levels.0.blocks.0.dcn.dw_conv.0.weight",
        "levels.0.blocks.0.dcn.dw_conv.1.1.weight",
        "levels.2.blocks.17.mlp.fc2.weight",
        "levels.3.blocks.3.gamma2",
        "levels.2.downsample.conv.weight",
        "levels.3.norm.0.bias",
    ):
        assert name in names, name
    assert "levels.3.downsample.conv.weight" not in names
    assert model.dims == [64, 128, 256, 256]
    assert sum(p.numel() for p in model.parameters()) == 19_994_352
    original = InternImageConfig(last_stage_at_16=False)
    assert original.dims == [64, 128, 256, 512]


def test_internimage_channels_last_and_original_layout():
    """The inference copy converts encoders to channels-last memory: same outputs. The original 1/32 stage 4
    (``last_stage_at_16=False``) also runs."""
    torch.manual_seed(0)
    model = internimage_t(depths=(1, 1, 2, 1)).eval()
    x = torch.randn(1, 3, 49, 65)
    with torch.no_grad():
        ref = model(x)
        fast = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
    assert max((a - b).abs().max().item() for a, b in zip(ref, fast)) < 1e-5
    original = internimage_t(depths=(1, 1, 1, 1), last_stage_at_16=False).eval()
    with torch.no_grad():
        shapes = [tuple(f.shape) for f in original(x)]
    assert shapes == [(1, 64, 13, 17), (1, 128, 7, 9), (1, 256, 4, 5), (1, 512, 2, 3)]
