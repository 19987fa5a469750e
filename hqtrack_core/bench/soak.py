"""Soak benchmark: does the VMOS memory stay flat over a long video?

10,000 frames of a small synthetic video (65x65) through the VMOS engine with HQTrack's released memory
policy (long-term entry every 50 frames, at most 6 entries with the reference pinned, short-term 4 frames
back), writing the engine's own predictions to memory as a tracker does. The process RSS is read at frame
1,000 and frame 10,000: bounded memory must not grow (goal: <= 2%). For contrast the same run with unbounded
long-term memory (DeAOT's behaviour: one more entry every 50 frames, forever).

Keys: ``soak_rss_mb_frame_1000``, ``soak_rss_mb_frame_10000``, ``soak_rss_growth_pct``, the
``soak_unbounded_*`` counterparts, ``soak_frames``, ``soak_ms_per_frame``, ``soak_long_term_entries_end``
(and ``soak_unbounded_long_term_entries_end``), ``soak_preset``.

    python -m hqtrack_core.bench soak          # both runs, ~5-10 min on 2 cores
    python -m hqtrack_core.bench.soak --frames 2000 --no-unbounded   # quick look

The loop is the user-facing :class:`~hqtrack_core.inference.engine.VMOSTracker` (``step`` per frame, numpy
frames in, label maps out), so the figure covers everything a long tracking run keeps.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys

import numpy as np
import psutil
import torch

from ..api import build_vmos, track_video
from ..inference.engine import VMOSTracker
from ..inference.memory import MemoryPolicy, memory_policy
from .record import update_bench

SIZE = 65  # 16k + 1
N_OBJECTS = 2


def synthetic_clip(n_frames: int = 32, size: int = SIZE, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """A short looping clip: ``n_frames`` RGB frames ``(S, S, 3) uint8`` and the first frame's id map ``(S, S)``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    background = rng.integers(60, 200, (size, size, 3)).astype(np.uint8)
    colours = np.array([[230, 40, 40], [40, 60, 230]], np.uint8)
    frames, first = [], None
    for t in range(n_frames):
        img = background.copy()
        lab = np.zeros((size, size), np.int64)
        for k in range(N_OBJECTS):
            phase = 2 * np.pi * t / n_frames + k * np.pi
            cy, cx = size / 2 + size / 4 * np.sin(phase), size / 2 + size / 4 * np.cos(phase)
            inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= (size / 7) ** 2
            img[inside] = colours[k]
            lab[inside] = k + 1
        frames.append(img)
        if first is None:
            first = lab
    return frames, first


def rss_mb() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def soak(policy: MemoryPolicy, frames: int = 10_000, preset: str = "hqtrack_teach",
         checkpoints: tuple[int, ...] = (1_000, 10_000), progress: bool = True) -> dict:
    """Track ``frames`` frames with :class:`VMOSTracker` (``step``: predict, write the prediction to memory);
    return RSS (MB) at each checkpoint frame, timing and the final memory size."""
    torch.manual_seed(0)
    model, _ = build_vmos(model=preset, checkpoint="none")
    clip, first = synthetic_clip()
    tracker = VMOSTracker(model.eval(), policy)
    rss: dict[int, float] = {}
    video = ((str(t), clip[t % len(clip)]) for t in range(frames + 1))  # frame 0 = the prompt, then 1..frames
    elapsed = 0.0
    for frame in track_video(tracker, video, {"0": first}):
        t = frame.index
        elapsed += frame.seconds if t else 0.0  # the steps alone (not the RSS reads below)
        if t in checkpoints:
            rss[t] = rss_mb()
            if progress:
                print(f"  frame {t:6d}: RSS {rss[t]:8.1f} MB, long-term entries "
                      f"{tracker.memory[0].num_long_term_entries}", flush=True)
    memory = tracker.memory[0]
    return {"rss": rss, "ms_per_frame": 1000 * elapsed / frames,
            "entries": memory.num_long_term_entries, "memory_mb": memory.nbytes() / 2**20}


def _figures(prefix: str, result: dict, first: int, last: int) -> dict:
    """The bench.json keys of one soak run, named ``<prefix>_...``."""
    return {
        f"{prefix}_rss_mb_frame_{first}": round(result["rss"][first], 1),
        f"{prefix}_rss_mb_frame_{last}": round(result["rss"][last], 1),
        f"{prefix}_rss_growth_pct": round(100 * (result["rss"][last] / result["rss"][first] - 1), 2),
        f"{prefix}_ms_per_frame": round(result["ms_per_frame"], 2),
        f"{prefix}_long_term_entries_end": result["entries"],
        f"{prefix}_memory_mb_end": round(result["memory_mb"], 2),
    }


def run(frames: int = 10_000, unbounded: bool = True, preset: str = "hqtrack_teach") -> dict:
    torch.set_num_threads(1)  # a fixed, small footprint; the figure is about memory, not speed
    first, last = min(1_000, frames), frames
    out: dict = {"soak_frames": frames, "soak_preset": preset}
    print(f"soak: {frames} frames {SIZE}x{SIZE}, preset {preset}, released memory policy (bounded)", flush=True)
    bounded = soak(memory_policy("released"), frames, preset, (first, last))
    out.update(_figures("soak", bounded, first, last))
    if unbounded:
        print("soak: same run, unbounded long-term memory (DeAOT behaviour)", flush=True)
        grow = soak(memory_policy("released", max_long_term=None), frames, preset, (first, last))
        out.update(_figures("soak_unbounded", grow, first, last))
    print(json.dumps(out, indent=2))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hqtrack_core.bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--preset", default="hqtrack_teach")
    parser.add_argument("--no-unbounded", action="store_true", help="skip the unbounded-memory contrast run")
    parser.add_argument("--record", action="store_true", help="merge the figures into figures/bench.json")
    args = parser.parse_args(argv)
    if args.frames < 2:
        raise SystemExit("--frames must be >= 2")
    figures = run(args.frames, not args.no_unbounded, args.preset)
    if args.record:
        update_bench(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
