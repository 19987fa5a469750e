"""The depthwise convolution's grouped-convolution weight gradient equals autograd's (hqtrack_core.model.depthwise)."""

import pytest
import torch
import torch.nn.functional as F

from hqtrack_core.model.attention import DWConv2d
from torch import nn

from hqtrack_core.model.depthwise import (DepthwiseConv2d, SameDepthwiseConv2d, depthwise_conv2d, pytorch_backward,
                                          use_depthwise_kernel)


def _reference_grads(x, w, grad_out, dilation=1):
    """Autograd's gradients of ``F.conv2d`` (depthwise, same padding) in float64."""
    x = x.detach().double().requires_grad_(True)
    w = w.detach().double().requires_grad_(True)
    F.conv2d(x, w, padding=dilation * (w.shape[-1] // 2), dilation=dilation, groups=w.shape[0]).backward(
        grad_out.double())
    return x.grad, w.grad


@pytest.mark.parametrize("k, dilation", [(5, 1), (3, 1), (3, 2)])
def test_gradcheck_float64(k, dilation):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(3, 1, k, k, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: DepthwiseConv2d.apply(a, b, dilation), (x, w))


@pytest.mark.parametrize("channels_last", [False, True])
def test_bf16_matches_autograd_to_bf16_rounding(channels_last):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 16, 9, 11, generator=g).to(torch.bfloat16)
    if channels_last:  # the layout DWConv2d's tokens give
        x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(16, 1, 5, 5, generator=g, requires_grad=True)  # an fp32 parameter, as under autocast
    grad_out = torch.randn(3, 16, 9, 11, generator=g).to(torch.bfloat16)
    x.requires_grad_(True)
    y = DepthwiseConv2d.apply(x, w)
    assert y.dtype == torch.bfloat16
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the forward is the one autocast runs, bit for bit
        ref_y = F.conv2d(x, w, padding=2, groups=16)
    assert torch.equal(y, ref_y)
    y.backward(grad_out)
    ref_gx, ref_gw = _reference_grads(x, w.to(torch.bfloat16), grad_out)
    assert w.grad.dtype == torch.float32 and x.grad.dtype == torch.bfloat16
    for got, ref in ((x.grad, ref_gx), (w.grad, ref_gw)):
        err = (got.double() - ref).abs().max() / ref.abs().max()
        assert err < 1e-2, err  # bf16 keeps 8 bits of mantissa: ~4e-3 relative per rounding


def test_dispatch_only_for_bf16_training_on_cpu():
    x = torch.randn(1, 4, 7, 7, requires_grad=True)
    w = torch.randn(4, 1, 5, 5, requires_grad=True)
    assert depthwise_conv2d(x, w).grad_fn.name() != "DepthwiseConv2dBackward"  # fp32: PyTorch's own backward
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = depthwise_conv2d(x, w)
    assert y.grad_fn.name() == "DepthwiseConv2dBackward" and y.dtype == torch.bfloat16
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert depthwise_conv2d(x, w).grad_fn is None  # inference: plain F.conv2d
    y.float().sum().backward()
    assert x.grad.dtype == torch.float32 and w.grad.shape == w.shape
    with pytorch_backward(), torch.autocast("cpu", dtype=torch.bfloat16):  # the benchmark's reference arm
        assert depthwise_conv2d(x, w).grad_fn.name() != "DepthwiseConv2dBackward"
    with torch.autocast("cpu", dtype=torch.bfloat16):  # and back after the block
        assert depthwise_conv2d(x, w).grad_fn.name() == "DepthwiseConv2dBackward"


def test_dwconv_module_trains_the_same_parameter():
    torch.manual_seed(0)
    m = DWConv2d(8, dropout=0.0)
    tokens = torch.randn(2, 6 * 5, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(tokens, (6, 5))
    out.float().square().sum().backward()
    grad_fast = m.conv.weight.grad.clone()
    m.conv.weight.grad = None
    with torch.autocast("cpu", dtype=torch.bfloat16):  # PyTorch's own convolution and backward under autocast
        x2d = tokens.reshape(2, 6, 5, 8).permute(0, 3, 1, 2)
        ref = F.conv2d(x2d, m.conv.weight, padding=2, groups=8).permute(0, 2, 3, 1).reshape(2, 30, 8)
    assert torch.equal(out, ref)
    ref.float().square().sum().backward()
    err = (grad_fast - m.conv.weight.grad).abs().max() / m.conv.weight.grad.abs().max()
    assert err < 1e-2, err


def test_use_depthwise_kernel_swaps_only_same_stride1_depthwise_convs_and_keeps_everything_else():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),  # swapped
                        nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8, bias=False),  # swapped (dilated)
                        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False),  # strided: kept
                        nn.Conv2d(8, 8, 3, padding=1, groups=8),  # with bias: kept
                        nn.Conv2d(8, 8, 3, padding=1, bias=False))  # not depthwise: kept
    net[0].weight.requires_grad_(False)  # a frozen layer stays frozen
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(2, 8, 12, 12)
    with torch.no_grad():
        ref = net(x)
    plain = [net[i].weight for i in range(5)]
    assert use_depthwise_kernel(net) == 2
    assert [type(m).__name__ for m in net] == ["SameDepthwiseConv2d"] * 2 + ["Conv2d"] * 3
    assert all(net[i].weight is plain[i] for i in range(5))  # the same Parameter objects: optimisers keep them
    assert not net[0].weight.requires_grad and net[1].dilation == (2, 2)
    assert net.state_dict().keys() == before.keys()
    assert all(torch.equal(net.state_dict()[k], v) for k, v in before.items())
    with torch.no_grad():
        assert torch.equal(net(x), ref)  # inference: the same F.conv2d, bit for bit


def test_dilated_bf16_gradient_matches_autograd():
    g = torch.Generator().manual_seed(2)
    conv = SameDepthwiseConv2d(12, 12, 3, padding=2, dilation=2, groups=12, bias=False)
    x = torch.randn(2, 12, 10, 9, generator=g, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = conv(x)
    assert y.grad_fn.name() == "DepthwiseConv2dBackward"
    grad_out = torch.randn(y.shape, generator=g).to(torch.bfloat16)
    y.backward(grad_out)
    _, ref_gw = _reference_grads(x.to(torch.bfloat16), conv.weight.to(torch.bfloat16), grad_out, dilation=2)
    assert ((conv.weight.grad.double() - ref_gw).abs().max() / ref_gw.abs().max()) < 1e-2


def test_a_folded_batch_norm_bias_is_applied():
    """inference_copy folds frozen BatchNorms into the encoder's convolutions: the swapped ones get a bias too."""
    from torchvision.ops import FrozenBatchNorm2d

    from hqtrack_core.model.vmos import fold_frozen_batchnorm

    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv2d(6, 6, 3, padding=2, dilation=2, groups=6, bias=False), FrozenBatchNorm2d(6))
    for name in ("weight", "bias", "running_mean", "running_var"):  # a BatchNorm that is not the identity
        getattr(net[1], name).copy_(torch.rand(6) + 0.5)
    x = torch.randn(1, 6, 9, 9)
    with torch.no_grad():
        ref = net(x)
        use_depthwise_kernel(net)
        assert fold_frozen_batchnorm(net) == 1 and net[0].bias is not None
        assert torch.allclose(net(x), ref, atol=1e-5)
