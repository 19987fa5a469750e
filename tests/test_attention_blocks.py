"""The global attention in query blocks (``model/attention.py::_attend``): same result as one ``softmax(q k^T) v``,
and no ``(queries x memory tokens)`` logits matrix at inference."""

from __future__ import annotations

import pytest
import torch

from hqtrack_core.model import attention
from hqtrack_core.model.attention import QUERY_BLOCK, GatedPropagation, _attend


def _inputs(n_query: int, n_key: int, d: int = 16, e: int = 48, batch: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, n_query, d, generator=g)
    k = torch.randn(batch, n_key, d, generator=g)
    v = torch.randn(batch, n_key, e, generator=g)
    bias = torch.randn(batch, n_query, n_key, generator=g)
    bias[:, :, ::3] = float("-inf")  # masked keys, as the local attention's window mask
    return q, k, v, bias


def _one_piece(q, k, v, scale, bias=None):
    logits = torch.bmm(q * scale, k.transpose(1, 2))
    if bias is not None:
        logits = logits + bias
    return torch.bmm(torch.softmax(logits, dim=-1), v)


@pytest.fixture
def softmax_rows(monkeypatch):
    """Record the row count of every softmax input (the logits blocks)."""
    rows: list[int] = []
    real = torch.softmax

    def spy(x, dim=None, **kw):
        rows.append(int(x.shape[-2]))
        return real(x, dim=dim, **kw)

    monkeypatch.setattr(attention.torch, "softmax", spy)
    return rows


@pytest.mark.parametrize("with_bias", [False, True])
def test_blocks_equal_one_piece_fp32(with_bias, softmax_rows):
    n = 2 * QUERY_BLOCK + 37  # not a multiple of the block
    q, k, v, bias = _inputs(n, 300)
    with torch.inference_mode():
        out = _attend(q, k, v, 0.25, bias if with_bias else None)
    blocks = list(softmax_rows)
    ref = _one_piece(q, k, v, 0.25, bias if with_bias else None)
    assert out.shape == (2, n, 48)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    assert blocks and max(blocks) <= QUERY_BLOCK, blocks  # never the whole (L, M) matrix
    assert sum(blocks) == n


def test_blocks_reduced_precision_logits_in_fp32(softmax_rows):
    """bf16 values: the logits and softmax of every block run in fp32, the weighted sum in bf16."""
    n = QUERY_BLOCK + 5
    q, k, v, _ = _inputs(n, 200)
    qb, kb, vb = q.bfloat16(), k.bfloat16(), v.bfloat16()
    with torch.inference_mode():
        out = _attend(qb, kb, vb, 0.25)
    blocks = list(softmax_rows)
    assert out.dtype == torch.bfloat16
    ref = _one_piece(qb.float(), kb.float(), vb.float(), 0.25)
    torch.testing.assert_close(out.float(), ref, atol=2e-2, rtol=2e-2)  # bf16 weights and sum only
    assert blocks and max(blocks) <= QUERY_BLOCK, blocks


def test_training_keeps_one_piece_and_gradients():
    q, k, v, _ = _inputs(QUERY_BLOCK + 3, 50)
    q.requires_grad_(True)
    out = _attend(q, k, v, 0.5)
    out.sum().backward()
    assert q.grad is not None and torch.isfinite(q.grad).all()
    torch.testing.assert_close(out.detach(), _one_piece(q.detach(), k, v, 0.5), atol=1e-5, rtol=1e-5)


def test_module_long_term_attention_blocks_match_by_hand():
    """The long-term GatedPropagation (no linear projections) over a grid larger than one block."""
    torch.manual_seed(0)
    module = GatedPropagation(32, 64, use_linear=False, d_att=16).eval()
    h, w = 20, 17  # 340 queries
    q = torch.randn(1, h * w, 16)
    k = torch.randn(1, 3 * h * w, 16)
    v = torch.randn(1, 3 * h * w, module.expand_d_vu)
    u = torch.randn(1, h * w, module.expand_d_vu)
    with torch.inference_mode():
        out = module(q, k, v, u, (h, w))
        ref = module.projection(module.dw_conv(_one_piece(q, k, v, module.scale) * u, (h, w)))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_blocks_share_one_buffer(monkeypatch):
    """Every full block writes its weights into the same buffer: no fresh (block, M) tensor per block (each one
    page-faults on first write, which cost 18-33 % of the attention at 1/8 scale)."""
    outs: list[int] = []
    real = torch.softmax

    def spy(x, dim=None, **kw):
        result = real(x, dim=dim, **kw)
        outs.append((int(x.shape[-2]), result.data_ptr()))
        return result

    monkeypatch.setattr(attention.torch, "softmax", spy)
    q, k, v, _ = _inputs(4 * QUERY_BLOCK + 9, 120)
    for values in (v, v.bfloat16()):
        outs.clear()
        with torch.inference_mode():
            _attend(q, k, values, 0.25)
        full = {ptr for rows, ptr in outs if rows == QUERY_BLOCK}
        assert len(outs) == 5 and len(full) == 1, outs


def test_blocks_bit_equal_fresh_tensors():
    """Reusing the buffers changes no bit: the same products as one fresh logits tensor per block."""
    q, k, v, bias = _inputs(3 * QUERY_BLOCK + 11, 210)
    kt = k.transpose(1, 2)
    for b in (None, bias):
        with torch.inference_mode():
            out = _attend(q, k, v, 0.3, b)
            ref = torch.empty_like(out)
            for i in range(0, q.shape[1], QUERY_BLOCK):
                rows = slice(i, i + QUERY_BLOCK)
                logits = torch.bmm(q[:, rows] * 0.3, kt) if b is None else \
                    torch.baddbmm(b[:, rows], q[:, rows], kt, alpha=0.3)
                torch.bmm(torch.softmax(logits, dim=-1), v, out=ref[:, rows])
        assert torch.equal(out, ref)
