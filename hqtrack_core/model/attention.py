"""Gated attention of DeAOT: global (long-term / self) and 15x15 local (short-term) propagation.

Tokens are batch-first: ``(B, L, C)`` with ``L = h * w`` in raster order (row-major) of the 1/16 grid.
Both attentions compute ``projection(dwconv5x5((softmax(Q K^T / sqrt(d_att) [+ rel]) V) * U))`` where ``V``
and the gate ``U`` carry the visual and the ID branch side by side (``2 * expand`` channels), so one
attention map drives both branches (aot-benchmark ``networks/layers/attention.py``: ``GatedPropagation``,
``LocalGatedPropagation``). Module and parameter names equal the official ones.

The global attention is computed in blocks of queries (:func:`_attend`): no ``(queries x memory tokens)``
matrix is materialised at inference, whatever the memory holds.

The local attention needs no compiled op (the official code wants ``spatial_correlation_sampler`` or falls
back to a slow unfold). Here it is exact attention with a window mask: each query ``(y, x)`` sees the keys
``(y + dy, x + dx)``, ``|dy|, |dx| <= max_dis`` inside the image, with the learned relative-position logit
``rel[q, (dy + max_dis) * window + (dx + max_dis)]`` added. Two equivalent evaluations are used:

- ``dense``: one ``L x L`` attention with an additive mask (best for small grids and for training);
- ``blocked``: queries in ``b x b`` tiles attend to the ``(b + 2 max_dis)^2`` keys around their tile
  (``~2x`` the window's work instead of ``L / 225 x``; best at 480p and above).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from .depthwise import SameDepthwiseConv2d


def silu(x: torch.Tensor) -> torch.Tensor:
    return F.silu(x)


class DWConv2d(nn.Module):
    """Depthwise 5x5 convolution on tokens ``(B, h*w, C) -> (B, h*w, C)`` (then ``Dropout2d(0.1)``).

    ``conv`` (official name and parameter) is a :class:`~hqtrack_core.model.depthwise.SameDepthwiseConv2d`: the
    same convolution, with a faster weight gradient when training in bf16 on CPU."""

    def __init__(self, dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.conv = SameDepthwiseConv2d(dim, dim, 5, padding=2, groups=dim, bias=False)
        self.dropout = nn.Dropout2d(p=dropout)

    def forward(self, x: torch.Tensor, size_2d: tuple[int, int]) -> torch.Tensor:
        h, w = size_2d
        b, _, c = x.shape
        # (B, h, w, C) viewed as NCHW is channels-last: the depthwise kernel runs without copies.
        x2d = x.reshape(b, h, w, c).permute(0, 3, 1, 2)
        x2d = self.dropout(self.conv(x2d))
        return x2d.permute(0, 2, 3, 1).reshape(b, h * w, c)


def _reduced_dtype(x: torch.Tensor) -> torch.dtype | None:
    """The low-precision dtype ``x`` is computed in (its own, or autocast's for an fp32 ``x``); None for fp32."""
    if x.dtype in (torch.bfloat16, torch.float16):
        return x.dtype
    kind = x.device.type
    if x.dtype == torch.float32 and torch.is_autocast_enabled(kind):
        return torch.get_autocast_dtype(kind)
    return None


def _bias_dtype(q: torch.Tensor) -> torch.dtype:
    """The local attention's additive bias is built in the dtype of the logits: fp32 for a bf16/fp16 ``q`` (the
    logits of the reduced path are fp32, see :func:`_attend`), ``q``'s own dtype otherwise."""
    return torch.float32 if _reduced_dtype(q) is not None else q.dtype


QUERY_BLOCK = 256
"""Queries per block of :func:`_attend`: the logits of one block, ``(256, M)``, stay in the CPU's caches instead of
a ``(L, M)`` matrix in RAM (at 1/8 scale with 6 memory entries: 10 MB per block against 70 MB)."""


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
            bias: torch.Tensor | None = None) -> torch.Tensor:
    """``softmax(q k^T * scale + bias) v`` for ``q (B, L, D)``, ``k (B, M, D)``, ``v (B, M, E)``, ``bias (B, L, M)``.

    Memory-efficient and exact: at inference the queries are taken :data:`QUERY_BLOCK` at a time, so no
    ``(L, M)`` logits matrix is materialised; each row's logits, softmax and weighted sum are the same operations
    as in one piece (same result, bit for bit on CPU). With gradients (training) it is one piece, for autograd.

    Why not ``scaled_dot_product_attention``: here ``E`` (visual + ID values, ``2 * expand``) is 4-8x ``D``
    (``d_att``), and PyTorch's CPU flash kernel needs ``E == D``; with ``E != D`` SDPA falls back to its math path,
    which materialises the ``(L, M)`` matrix and was 1.2-1.9x slower than the blocks here (L 1705, M 10230,
    D 64, E 512, torch 2.14, AMD EPYC AVX512-BF16; splitting ``v`` into ``E / D`` heads to reach the flash kernel
    recomputes ``q k^T`` per head: 2.1x slower in fp32, 2.6x in bf16). The blocks also keep the official
    operation order (query scaled before the product).

    Reduced precision (``v`` in bf16/fp16, or under autocast): the logits ``q k^T`` and the softmax run in
    fp32 (a bf16 logit of size ~20 is off by ~0.1, which moves the attention weights by ~10 %; with
    ``d_att`` much narrower than ``v`` this product is the small one), the weighted sum ``attn v`` in the
    low precision. fp32 inputs take the exact fp32 path.
    """
    low = _reduced_dtype(v)
    if low is not None:
        with torch.autocast(v.device.type, enabled=False):
            return _attend_blocks(q.float(), k.float(), v.to(low), scale, None if bias is None else bias.float())
    return _attend_blocks(q, k, v, scale, bias)


def _attend_blocks(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
                   bias: torch.Tensor | None) -> torch.Tensor:
    """:func:`_attend` once its dtypes are settled: logits in ``q``'s dtype, the weighted sum in ``v``'s.

    The blocks share one logits buffer and one weights buffer. A fresh ``(QUERY_BLOCK, M)`` tensor per block is
    tens of MB at 1/8 scale: the allocator maps it from the system and every page faults on first write, again
    for each block. That cost 18-33 % of the attention (6420 x 38520 tokens, 1-2 threads, AMD EPYC), and it was
    why the attention scaled worse than the official one-piece product on two threads.
    """
    kt = k.transpose(1, 2)

    def logits_of(qb: torch.Tensor, bb: torch.Tensor | None, out: torch.Tensor | None = None) -> torch.Tensor:
        if bb is None:
            return torch.bmm(qb * scale, kt, out=out)
        return torch.baddbmm(bb, qb, kt, alpha=scale, out=out)

    n = q.shape[1]
    grad = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v) + (() if bias is None else (bias,)))
    if grad or n <= QUERY_BLOCK:
        return torch.bmm(torch.softmax(logits_of(q, bias), dim=-1).to(v.dtype), v)
    batch, m = q.shape[0], k.shape[1]
    logits = q.new_empty(batch, QUERY_BLOCK, m)
    weights = torch.empty_like(logits)
    low = None if v.dtype == q.dtype else v.new_empty(batch, QUERY_BLOCK, m)
    out = v.new_empty(batch, n, v.shape[-1])
    for start in range(0, n, QUERY_BLOCK):
        rows = slice(start, start + QUERY_BLOCK)
        if n - start < QUERY_BLOCK:  # the last, shorter block: its own tensors (a slice would not be contiguous)
            logits, weights = q.new_empty(batch, n - start, m), q.new_empty(batch, n - start, m)
            low = None if low is None else v.new_empty(batch, n - start, m)
        logits_of(q[:, rows], None if bias is None else bias[:, rows], out=logits)
        torch.softmax(logits, dim=-1, out=weights)
        torch.bmm(weights if low is None else low.copy_(weights), v, out=out[:, rows])
    return out


class GatedPropagation(nn.Module):
    """Global gated attention (long-term memory, and gated self-attention with ``use_linear=True``).

    ``forward(Q (B, L, d_qk), K (B, M, d_att), V (B, M, E), U (B, L, E), size_2d) -> (B, L, d_vu)`` with
    ``E = expand_ratio * d_vu``. With ``use_linear`` Q = K = ``linear_QK(Q)`` and V, U are projected in two
    halves (visual, ID) each (``linear_V1/V2``, ``linear_U1/U2``) then SiLU.
    """

    def __init__(self, d_qk: int, d_vu: int, use_linear: bool = True, d_att: int | None = None,
                 expand_ratio: float = 2.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.expand_d_vu = int(d_vu * expand_ratio)
        self.d_vu = d_vu
        self.d_att = d_qk if d_att is None else d_att
        self.scale = 1.0 / math.sqrt(self.d_att)
        self.use_linear = use_linear
        if use_linear:
            half = self.expand_d_vu // 2
            self.linear_QK = nn.Linear(d_qk, self.d_att)
            self.linear_V1 = nn.Linear(d_vu // 2, half)
            self.linear_V2 = nn.Linear(d_vu // 2, half)
            self.linear_U1 = nn.Linear(d_vu // 2, half)
            self.linear_U2 = nn.Linear(d_vu // 2, half)
        self.dropout = nn.Dropout(dropout)
        self.dw_conv = DWConv2d(self.expand_d_vu)
        self.projection = nn.Linear(self.expand_d_vu, d_vu)
        self._init_weight()

    def _init_weight(self) -> None:
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, U: torch.Tensor,
                size_2d: tuple[int, int]) -> torch.Tensor:
        if self.use_linear:
            Q = K = self.linear_QK(Q)
            v1, v2 = torch.split(V, self.d_vu // 2, dim=-1)
            V = silu(torch.cat([self.linear_V1(v1), self.linear_V2(v2)], dim=-1))
            u1, u2 = torch.split(U, self.d_vu // 2, dim=-1)
            U = silu(torch.cat([self.linear_U1(u1), self.linear_U2(u2)], dim=-1))
        if self.training and self.dropout.p > 0:
            attn = self.dropout(torch.softmax(torch.bmm(Q, K.transpose(1, 2)) * self.scale, dim=-1))
            out = torch.bmm(attn, V)
        else:
            out = _attend(Q, K, V, self.scale)
        out = self.dw_conv(out * U, size_2d)
        return self.projection(out)


def _window_index(h: int, w: int, max_dis: int, dilation: int, device: str):
    with torch.inference_mode(False):  # cached tensors must also serve autograd (training)
        return _window_index_cached(h, w, max_dis, dilation, device)


def _block_index(h: int, w: int, max_dis: int, block: int, device: str):
    with torch.inference_mode(False):
        return _block_index_cached(h, w, max_dis, block, device)


@lru_cache(maxsize=16)
def _window_index_cached(h: int, w: int, max_dis: int, dilation: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query token and window offset: the key token index (``L`` when outside the image).

    Returns ``index (L, W*W) long`` and ``valid (L, W*W) bool``; offset ``o = (dy + m) * W + (dx + m)``.
    """
    win = 2 * max_dis + 1
    ys = torch.arange(h).view(h, 1, 1, 1)
    xs = torch.arange(w).view(1, w, 1, 1)
    off = (torch.arange(win) - max_dis) * dilation
    ky = ys + off.view(1, 1, win, 1)
    kx = xs + off.view(1, 1, 1, win)
    valid = (ky >= 0) & (ky < h) & (kx >= 0) & (kx < w)
    index = torch.where(valid, ky * w + kx, torch.full_like(ky * w + kx, h * w))
    return index.reshape(h * w, win * win).to(device), valid.reshape(h * w, win * win).to(device)


@lru_cache(maxsize=16)
def _block_index_cached(h: int, w: int, max_dis: int, block: int, device: str):
    """Index maps for the blocked local attention (see :func:`local_attention_blocked`).

    Returns ``(hp, wp, pos (b*b, W*W) long, kw)``: the grid size padded to whole tiles, for every (query in
    a tile, window offset) the flat position inside the tile's ``kw x kw`` key window (the same for every
    tile), and ``kw = b + 2m``.
    """
    win = 2 * max_dis + 1
    hp, wp = -(-h // block) * block, -(-w // block) * block
    kw = block + 2 * max_dis
    qy = torch.arange(block).view(block, 1, 1, 1)
    qx = torch.arange(block).view(1, block, 1, 1)
    dy = torch.arange(win).view(1, 1, win, 1)
    dx = torch.arange(win).view(1, 1, 1, win)
    pos = ((qy + dy) * kw + (qx + dx)).reshape(block * block, win * win)  # same for every tile
    return hp, wp, pos.to(device), kw


def local_attention_dense(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rel: torch.Tensor,
                          size_2d: tuple[int, int], max_dis: int, dilation: int, scale: float) -> torch.Tensor:
    """Window attention as one masked ``L x L`` attention.

    ``q, k (B, L, D)``, ``v (B, L, E)``, ``rel (B, L, W*W)`` -> ``(B, L, E)``.
    """
    h, w = size_2d
    b, L, _ = q.shape
    index, valid = _window_index(h, w, max_dis, dilation, str(q.device))
    dtype = _bias_dtype(q)
    src = rel.to(dtype).masked_fill(~valid, float("-inf"))
    bias = torch.full((b, L, L + 1), float("-inf"), dtype=dtype, device=q.device)
    bias = bias.scatter(2, index.unsqueeze(0).expand(b, -1, -1), src)[:, :, :L]
    return _attend(q, k, v, scale, bias.contiguous())


def local_attention_blocked(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rel: torch.Tensor,
                            size_2d: tuple[int, int], max_dis: int, scale: float, block: int = 8) -> torch.Tensor:
    """Window attention on ``block x block`` query tiles, each attending to the keys around its tile.

    Same inputs/outputs as :func:`local_attention_dense` (dilation 1 only).
    """
    h, w = size_2d
    b, L, d = q.shape
    e = v.shape[-1]
    m = max_dis
    hp, wp, pos, kw = _block_index(h, w, max_dis, block, str(q.device))
    nby, nbx = hp // block, wp // block
    nb = nby * nbx

    def key_tiles(x: torch.Tensor) -> torch.Tensor:
        c = x.shape[-1]
        x = x.reshape(b, h, w, c)
        x = F.pad(x, (0, 0, m, m + wp - w, m, m + hp - h))  # (b, hp + 2m, wp + 2m, c)
        x = x.unfold(1, kw, block).unfold(2, kw, block)  # (b, nby, nbx, c, kw, kw)
        return x.permute(0, 1, 2, 4, 5, 3).reshape(b * nb, kw * kw, c)

    def query_tiles(x: torch.Tensor) -> torch.Tensor:
        c = x.shape[-1]
        x = F.pad(x.reshape(b, h, w, c), (0, 0, 0, wp - w, 0, hp - h))
        x = x.reshape(b, nby, block, nbx, block, c).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(b * nb, block * block, c)

    # Key validity (inside the image) per tile position, as an additive -inf mask.
    ones = torch.ones(1, h, w, 1, dtype=q.dtype, device=q.device)
    inside = key_tiles(ones.expand(b, h, w, 1).reshape(b, L, 1))[..., 0] > 0  # (b*nb, kw*kw)
    dtype = _bias_dtype(q)
    rel_t = query_tiles(rel.to(dtype))  # (b*nb, bb, win2)
    bias = torch.full((b * nb, block * block, kw * kw), float("-inf"), dtype=dtype, device=q.device)
    bias = bias.scatter(2, pos.unsqueeze(0).expand(b * nb, -1, -1), rel_t)
    bias = bias.masked_fill(~inside.unsqueeze(1), float("-inf"))
    # Padded queries (outside the image) always see some real key (tile < window), so no row is all -inf.
    out = _attend(query_tiles(q), key_tiles(k), key_tiles(v), scale, bias)  # (b*nb, bb, e)
    out = out.reshape(b, nby, nbx, block, block, e).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, e)
    return out[:, :h, :w].reshape(b, L, e)


class LocalGatedPropagation(nn.Module):
    """Short-term gated attention in a ``(2 max_dis + 1)^2`` window with relative-position logits.

    ``forward(q (B, L, d_att), k (B, L, d_att), v (B, L, E), u (B, L, E), size_2d) -> (B, L, d_vu)``;
    ``q`` unscaled (the relative term ``relative_emb_k`` is a 1x1 conv on the unscaled query).
    """

    def __init__(self, d_qk: int, d_vu: int, d_att: int | None = None, max_dis: int = 7, dilation: int = 1,
                 expand_ratio: float = 2.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.expand_d_vu = int(d_vu * expand_ratio)
        self.d_att = d_qk if d_att is None else d_att
        self.scale = 1.0 / math.sqrt(self.d_att)
        self.max_dis = max_dis
        self.dilation = dilation
        self.window_size = 2 * max_dis + 1
        self.relative_emb_k = nn.Conv2d(self.d_att, self.window_size ** 2, kernel_size=1)
        self.dw_conv = DWConv2d(self.expand_d_vu)
        self.projection = nn.Linear(self.expand_d_vu, d_vu)
        self.dropout = nn.Dropout(dropout)
        self.mode = "auto"  # "auto" | "dense" | "blocked"

    def relative_logits(self, q: torch.Tensor) -> torch.Tensor:
        """``q (B, L, d_att) -> (B, L, W*W)``: the 1x1 conv ``relative_emb_k`` applied per token."""
        weight = self.relative_emb_k.weight.view(self.window_size ** 2, self.d_att)
        return F.linear(q, weight, self.relative_emb_k.bias)

    def _use_blocked(self, size_2d: tuple[int, int], block: int = 8) -> bool:
        if self.mode != "auto":
            return self.mode == "blocked"
        if self.dilation != 1 or (torch.is_grad_enabled() and self.training):
            return False
        h, w = size_2d
        hp, wp = -(-h // block) * block, -(-w // block) * block
        return hp * wp * (block + 2 * self.max_dis) ** 2 < 0.8 * (h * w) ** 2

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, u: torch.Tensor,
                size_2d: tuple[int, int]) -> torch.Tensor:
        rel = self.relative_logits(q)
        if self.training and self.dropout.p > 0:
            raise NotImplementedError("attention dropout in the local attention is not supported")
        if self._use_blocked(size_2d):
            out = local_attention_blocked(q, k, v, rel, size_2d, self.max_dis, self.scale)
        else:
            out = local_attention_dense(q, k, v, rel, size_2d, self.max_dis, self.dilation, self.scale)
        out = self.dw_conv(out * u, size_2d)
        return self.projection(out)
