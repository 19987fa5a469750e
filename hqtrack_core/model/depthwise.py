"""Depthwise convolution with a faster weight gradient for bf16 training on CPU.

Used by the gated propagation's depthwise 5x5 convolution (:class:`hqtrack_core.model.attention.DWConv2d`) and the
stride-1 depthwise 3x3 convolutions of the MobileNetV2 encoder (:func:`use_depthwise_kernel`), as
:class:`SameDepthwiseConv2d`: an ``nn.Conv2d`` with the same parameter and state-dict name.

In bf16 on CPU, PyTorch's backward of a depthwise convolution spends most of its time on the *weight* gradient
(measured on a 4 x 512 x 31 x 31 input, 5x5, one thread, AMD EPYC with AVX512-BF16: 35 ms for the weight gradient,
2.5 ms for the input gradient, 1.5-3 ms for the forward), and more on channels-last input, the layout the tokens
give for free. The weight gradient of a depthwise convolution is itself a depthwise convolution, one group per
(channel, sample) pair:

.. math::

    \\frac{\\partial L}{\\partial w_{c,i,j}} = \\sum_{b} \\sum_{y,x} g_{b,c,y,x}\\, \\tilde x_{b,c,y+di,x+dj}

where :math:`g` is the output gradient, :math:`\\tilde x` the zero-padded input and :math:`d` the dilation: a
``(k x k)`` output of ``x_pad[b, c]`` correlated with the ``(H x W)`` kernel ``g[b, c]`` at stride ``d``, then summed
over ``b``. That is what :class:`DepthwiseConv2d` computes (``groups = C * B``), with the same oneDNN kernel as the
forward. The input gradient is PyTorch's own. Same values up to bf16 rounding of the sum's order
(``tests/test_depthwise.py``).

Used only where it is faster, measured: CPU, bf16, gradients on (whole training steps: ``figures/README.md``).
fp32 keeps PyTorch's backward (the trick was not consistently faster there), and so does inference (no backward at
all). With oneDNN capped to AVX2, where bf16 is emulated (a bf16 step took ~186 s; uncapped fp32: 13 s), it changes
nothing (one pair of steps, 0.98).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn


_GROUPED_WEIGHT_GRADIENT = [True]  # False inside :func:`pytorch_backward`


@contextlib.contextmanager
def pytorch_backward() -> Iterator[None]:
    """Within the block, :func:`depthwise_conv2d` is plain ``F.conv2d`` with PyTorch's own backward (the training
    step benchmark, ``python -m hqtrack_core.bench bf16``, times the two against each other)."""
    before = _GROUPED_WEIGHT_GRADIENT[0]
    _GROUPED_WEIGHT_GRADIENT[0] = False
    try:
        yield
    finally:
        _GROUPED_WEIGHT_GRADIENT[0] = before


class DepthwiseConv2d(torch.autograd.Function):
    """``forward(x (B, C, H, W), weight (C, 1, k, k)) -> (B, C, H, W)`` in ``x``'s dtype; stride 1, padding
    ``k // 2``; the weight gradient as a grouped convolution (module docstring).

    ``weight`` may be fp32 while ``x`` is bf16 (a parameter under autocast): it is rounded to ``x``'s dtype for the
    product, and its gradient is returned in its own dtype.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, dilation: int = 1) -> torch.Tensor:
        w = weight.to(x.dtype)
        ctx.save_for_backward(x, w)
        ctx.weight_dtype, ctx.dilation = weight.dtype, dilation
        with torch.autocast(x.device.type, enabled=False):
            return F.conv2d(x, w, padding=dilation * (w.shape[-1] // 2), dilation=dilation, groups=w.shape[0])

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, w = ctx.saved_tensors
        d = ctx.dilation
        grad_out = grad_out.to(x.dtype)
        channels, k = w.shape[0], w.shape[-1]
        pad = d * (k // 2)
        grad_x = grad_w = None
        with torch.autocast(x.device.type, enabled=False):
            if ctx.needs_input_grad[0]:
                grad_x = torch.ops.aten.convolution_backward(
                    grad_out, x, w, None, [1, 1], [pad, pad], [d, d], False, [0, 0], channels,
                    [True, False, False])[0]
            if ctx.needs_input_grad[1]:
                b, _, h, wd = x.shape
                # (1, C*B, H+2p, W+2p) correlated with (C*B, 1, H, W) kernels at stride d -> (1, C*B, k, k)
                padded = F.pad(x, (pad,) * 4).transpose(0, 1).reshape(1, channels * b, h + 2 * pad, wd + 2 * pad)
                kernels = grad_out.transpose(0, 1).reshape(channels * b, 1, h, wd)
                per_sample = F.conv2d(padded, kernels, stride=d, groups=channels * b).view(channels, b, k, k)
                total = per_sample.sum(1, dtype=torch.promote_types(x.dtype, torch.float32))
                grad_w = total.view(channels, 1, k, k).to(ctx.weight_dtype)
        return grad_x, grad_w, None


def depthwise_conv2d(x: torch.Tensor, weight: torch.Tensor, dilation: int = 1) -> torch.Tensor:
    """``x (B, C, H, W)``, ``weight (C, 1, k, k)`` (odd ``k``) -> the "same" depthwise convolution ``(B, C, H, W)``
    (stride 1, padding ``dilation * (k // 2)``).

    bf16 training on CPU (``x`` in bf16, or fp32 under bf16 autocast, with gradients) takes
    :class:`DepthwiseConv2d` in bf16; everything else is ``F.conv2d``.
    """
    if (_GROUPED_WEIGHT_GRADIENT[0] and torch.is_grad_enabled() and x.device.type == "cpu"
            and (x.requires_grad or weight.requires_grad)):
        bf16 = x.dtype == torch.bfloat16 or (
            x.dtype == torch.float32 and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        if bf16:
            return DepthwiseConv2d.apply(x.to(torch.bfloat16), weight, dilation)
    return F.conv2d(x, weight, padding=dilation * (weight.shape[-1] // 2), dilation=dilation, groups=weight.shape[0])


class SameDepthwiseConv2d(nn.Conv2d):
    """An ``nn.Conv2d`` that is a stride-1 "same" depthwise convolution, computed by :func:`depthwise_conv2d`.
    Same parameter, same state-dict name, same forward (bit for bit at inference). Once a bias is set (a frozen
    BatchNorm folded into it by :func:`hqtrack_core.model.vmos.inference_copy`) it is ``nn.Conv2d``'s forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias is not None:
            return super().forward(x)
        return depthwise_conv2d(x, self.weight, self.dilation[0])


def _is_same_depthwise(conv: nn.Module) -> bool:
    if type(conv) is not nn.Conv2d or conv.bias is not None or conv.padding_mode != "zeros":
        return False
    (kh, kw), (dh, dw) = conv.kernel_size, conv.dilation
    return (conv.groups == conv.in_channels == conv.out_channels and conv.stride == (1, 1) and kh == kw
            and kh % 2 == 1 and dh == dw and conv.padding == (dh * (kh // 2),) * 2)


def use_depthwise_kernel(module: nn.Module) -> int:
    """Make every stride-1 "same" depthwise ``nn.Conv2d`` without bias below ``module`` a
    :class:`SameDepthwiseConv2d` holding the same weight ``Parameter`` (names, freezing and values unchanged); returns
    how many. Strided depthwise convolutions stay as they are."""
    count = 0
    for parent in module.modules():
        for name, child in list(parent.named_children()):
            if _is_same_depthwise(child):
                new = SameDepthwiseConv2d(child.in_channels, child.out_channels, child.kernel_size,
                                          padding=child.padding, dilation=child.dilation, groups=child.groups,
                                          bias=False, device="meta")
                new.weight = child.weight
                new.train(child.training)
                setattr(parent, name, new)
                count += 1
    return count
