"""Where the HQTrack VMOS frame spends its time, and how much of the CPU's bf16 matmul peak it reaches.

- :func:`bf16_matmul_peak`: the machine's bf16 matmul throughput (a large square ``torch.mm`` under the bench's
  thread count, best of a few), measured in the same run as the frame it is compared with;
- :func:`vmos_profile`: one HQTrack VMOS frame (encode + propagate + decode + memory write, 2 objects, name-rule
  weights, the bf16 path) under ``torch.profiler`` (per-op table, top ops by self CPU time, printed) and under
  ``torch.utils.flop_counter.FlopCounterMode`` (matmul / convolution / attention FLOPs of the frame); the share
  of the peak is ``FLOPs / measured bf16 latency / peak`` (``None`` on a CPU without a bf16 instruction, where
  bf16 is emulated and its "peak" is no peak).

Keys: ``bf16_matmul_peak_gflops`` (and ``fp32_matmul_peak_gflops``), ``hqtrack_vmos_gflop_per_frame_480p``,
``vmos_share_of_bf16_peak``, ``hqtrack_vmos_profile_top_ops_bf16`` (``[op, self CPU ms, calls]`` of the top
ops), ``profile_loadavg``.
"""

from __future__ import annotations

import os
import time

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from ..precision import cpu_bf16_support
from .engine_frames import HEIGHT, WIDTH, OursFrames, synthetic_video

TOP_OPS = 15


def matmul_peak_gflops(dtype: torch.dtype = torch.bfloat16, size: int = 2048, repeats: int = 5) -> float:
    """Best ``size x size @ size x size`` throughput in GFLOP/s at the current torch thread count."""
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    torch.mm(a, b)  # warm-up (oneDNN / BLAS initialisation)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def bf16_matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """The bf16 matmul peak of this machine (GFLOP/s), see :func:`matmul_peak_gflops`."""
    return matmul_peak_gflops(torch.bfloat16, size, repeats)


def vmos_profile(bf16_latency_s: float | None = None, threads: int = 2, height: int = HEIGHT, width: int = WIDTH,
                 peak_size: int = 2048) -> dict:
    """Profile one bf16 HQTrack VMOS frame (printed table) and count its FLOPs; the share of the bf16 peak uses
    ``bf16_latency_s`` (the interleaved benchmark's median) or, without it, one uninstrumented frame's time."""
    torch.set_num_threads(threads)
    images, labels = synthetic_video(5, height, width)
    ours = OursFrames(images, labels, "bf16")
    ours.frame(1)  # warm-up
    start = time.perf_counter()
    ours.frame(2)  # timed without any instrumentation (used when no bf16_latency_s is given)
    plain_s = time.perf_counter() - start
    with FlopCounterMode(display=False) as counter:
        ours.frame(3)
    flops = counter.get_total_flops()
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        ours.frame(4)
    profiled_s = time.perf_counter() - start
    events = prof.key_averages()
    print(f"torch.profiler, one HQTrack VMOS frame {height}x{width}, bf16, {threads} threads (top {TOP_OPS} ops "
          f"by self CPU time; the profiler adds overhead: {profiled_s:.2f} s wall):")
    print(events.table(sort_by="self_cpu_time_total", row_limit=TOP_OPS))
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:TOP_OPS]
    peak = bf16_matmul_peak(peak_size)
    peak_fp32 = matmul_peak_gflops(torch.float32, peak_size)
    latency = bf16_latency_s if bf16_latency_s is not None else plain_s
    load = os.getloadavg()[0]
    support = cpu_bf16_support()
    if support.any:
        share = flops / latency / (peak * 1e9)
        versus = f"{100 * share:.1f}% of the bf16 peak"
    else:  # emulated bf16: the "peak" is a slow loop, not what the hardware can do, so a share of it means nothing
        share = None
        versus = f"no share of the bf16 peak: bf16 is emulated on this CPU ({support.describe()})"
    print(f"matmul peak ({peak_size}^2, {threads} threads): bf16 {peak:.0f} GFLOP/s, fp32 {peak_fp32:.0f} GFLOP/s; "
          f"VMOS frame {flops / 1e9:.1f} GFLOP (FlopCounterMode) in {latency:.3f} s = "
          f"{flops / latency / 1e9:.0f} GFLOP/s = {versus} (load {load:.1f})")
    return {
        "bf16_matmul_peak_gflops": round(peak, 1),
        "fp32_matmul_peak_gflops": round(peak_fp32, 1),
        "hqtrack_vmos_gflop_per_frame_480p" if (height, width) == (HEIGHT, WIDTH) else
        f"hqtrack_vmos_gflop_per_frame_{height}x{width}": round(flops / 1e9, 2),
        "vmos_share_of_bf16_peak": None if share is None else round(share, 4),
        "hqtrack_vmos_profile_top_ops_bf16": [[e.key, round(e.self_cpu_time_total / 1e3, 1), e.count] for e in top],
        "profile_loadavg": round(load, 2),
    }
