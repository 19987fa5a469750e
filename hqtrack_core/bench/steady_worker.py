"""The worker of the steady-state benchmark (:mod:`.steady`): one run of one case in this process.

Run as a script by :mod:`.steady` (``python -P steady_worker.py CASE PRECISION FRAMES GAP THREADS PROFILED
QUERY_BLOCK``), with ``PYTHONPATH`` naming the checkout to time: it imports only what every checkout since the front
door (``hqtrack_core.api``) has, so ``--baseline DIR`` can time an older checkout with the same worker.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

import hqtrack_core
from hqtrack_core.api import InferenceConfig, build_tracker, track_video
from hqtrack_core.bench.peer_sam2 import davis_frames
from hqtrack_core.bench.profile import matmul_peak_gflops
from hqtrack_core.inference.memory import memory_policy
from hqtrack_core.model import attention

CASES = {
    # name: (model, checkpoint, short edge, flip)
    "teach": ("", "", 240, False),
    "teach_flip": ("", "", 240, True),
    "deaot_t": ("deaot_t", "none", 480, False),
    "hqtrack_vmos": ("hqtrack_vmos", "none", 480, False),
}
TOP_OPS = 8
PRECISIONS = ("fp32", "bf16")
EARLY = range(2, 11)  # frames 2-10 (frame 0 = the mask)


def ping_pong(frames: int) -> tuple[list, object, str]:
    """``frames`` RGB uint8 frames of ``blackswan`` 480p played back and forth, its first mask, a description."""
    clip, mask, source = davis_frames(50)
    cycle = clip + clip[-2:0:-1]
    return [cycle[t % len(cycle)] for t in range(frames)], np.asarray(mask), f"{source}, ping-pong"


def worker(case: str, precision: str, frames: int, gap: int | None, threads: int, profiled: int = 0,
           peak_size: int = 2048, query_block: int = 0) -> dict:
    """One run in this process (with whatever ``hqtrack_core`` is on the path): per-frame times and entries; then,
    with ``profiled > 0``, that many more (steady-state) frames under ``torch.profiler`` (:func:`steady_profile`).
    ``query_block > 0`` replaces the global attention's block of queries (``attention.QUERY_BLOCK``, 256); a value
    above the token count computes it in one piece, as the code before the blocks did."""
    torch.set_num_threads(threads)
    if query_block:
        attention.QUERY_BLOCK = query_block
    model, checkpoint, short_edge, flip = CASES[case]
    images, mask, source = ping_pong(frames + profiled)
    torch.manual_seed(0)  # the random-weight model is the same in every run
    config = InferenceConfig.from_card(model or None, checkpoint or None, device="cpu", short_edge=short_edge,
                                       precision=precision, flip=flip, memory="released", refiner="none")
    tracker = build_tracker(config).tracker
    if gap is not None:
        tracker.policy = memory_policy("released", long_term_gap=gap)
    wall, cpu, entries = [], [], []
    stream = track_video(tracker, [(str(t), image) for t, image in enumerate(images)], {"0": mask})
    for frame in itertools.islice(stream, frames):
        if frame.index:
            wall.append(frame.seconds)
            cpu.append(frame.cpu_seconds)
            entries.append(tracker.memory[0].num_long_term_entries)
    out = {"wall": wall, "cpu": cpu, "entries": entries, "bound": tracker.policy.max_long_term,
           "source": source, "loadavg": os.getloadavg()[0], "code": str(Path(hqtrack_core.__file__).parent.parent)}
    if profiled:
        out["profile"] = steady_profile(stream, profiled, threads, peak_size)
    return out


def steady_profile(stream, frames: int, threads: int, peak_size: int = 2048) -> dict:
    """The next ``frames`` frames of ``stream`` under ``torch.profiler`` (with FLOP counts): the top ops by self
    time per frame, and what bounds the frame: the share of the batched matmuls (``bmm``/``baddbmm``: the global and
    local attention products), their GFLOP per frame and the rate they ran at, beside this CPU's matmul peak
    (a ``peak_size``^2 ``torch.mm``, same threads, fp32 and bf16)."""
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        for _ in itertools.islice(stream, frames):
            pass
    events = prof.key_averages()
    total_s = sum(e.self_cpu_time_total for e in events) / 1e6
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:TOP_OPS]
    products = [e for e in events if e.key in ("aten::bmm", "aten::baddbmm")]
    bmm_s = sum(e.self_cpu_time_total for e in products) / 1e6
    bmm_flop = sum(e.flops for e in products)
    return {
        "frames": frames,
        "top_ops_ms_per_frame": [[e.key, round(e.self_cpu_time_total / 1e3 / frames, 1)] for e in top],
        "profiled_s_per_frame": round(total_s / frames, 4),
        "bmm_share": round(bmm_s / total_s, 3),
        "bmm_gflop_per_frame": round(bmm_flop / frames / 1e9, 2),
        "bmm_gflops": round(bmm_flop / bmm_s / 1e9, 1),
        "fp32_matmul_peak_gflops": round(matmul_peak_gflops(torch.float32, peak_size), 1),
        "bf16_matmul_peak_gflops": round(matmul_peak_gflops(torch.bfloat16, peak_size), 1),
        "threads": threads,
    }




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=list(CASES))
    parser.add_argument("precision")
    for name in ("frames", "gap", "threads", "profiled", "query_block"):
        parser.add_argument(name, type=int)
    args = parser.parse_args(argv)
    print(json.dumps(worker(args.case, args.precision, args.frames, args.gap or None, args.threads, args.profiled,
                            query_block=args.query_block)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
