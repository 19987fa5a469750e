"""bf16 vs fp32 on the rest of the stack: the teaching model's frame rate, a training step, the HQ-SAM refiner.

Each figure alternates fp32 and bf16 (A B A B, ``rounds`` times) on the same inputs and weights, 2 torch threads,
and reports the 1-minute load average beside it (2 cores: above 2, other processes competed).

- teaching model (``InferenceConfig.from_card()``: the committed ``hqtrack_teach`` checkpoint), network at a 240
  short edge, on the DAVIS-2016 dev sequence ``parkour`` at 480p (a random-texture video without
  ``../shared/data``): frames/s = 1 / median per-frame latency (``tracker.step``) over frames 2..N-1, without the
  test-time flip. Keys ``teach_fps_240p``, ``teach_fps_240p_bf16``, ``teach_bench_loadavg``; with the flip (the
  model card's default: two views per frame) ``teach_fps_240p_flip``, ``teach_fps_240p_bf16_flip``.
- training step: the ``cpu_teach_stage2`` preset with batch 4, crop 241x241 (same config, same seed, so the same
  batches), ``TrainConfig.precision`` fp32 vs bf16 (autocast, fp32 master weights); median of the
  ``sec_per_step`` the trainer logs for steps 1..N-1. Needs the DAVIS-2016 train split (skipped without it).
  Keys ``train_step_s_fp32``, ``train_step_s_bf16``, ``train_step_speedup_bf16``, ``train_bench_loadavg``. A
  third arm, bf16 with PyTorch's own depthwise-convolution backward (:func:`hqtrack_core.model.depthwise.
  pytorch_backward`), gives ``train_step_s_bf16_pytorch_depthwise`` and ``train_step_depthwise_speedup_bf16``
  (that arm's s/step over bf16's: what the grouped weight gradient buys).
- refiner: our HQ-SAM path (``SamRefiner``: one encoding per frame, boxes batched, fast kernels), vit_tiny, random
  weights, 5 objects on one 854x480 frame (as ``bench/refiner.py``), ``SamRefiner(precision=...)``; median of
  ``repeats`` runs after a warm-up. Keys ``refiner_vit_tiny_latency_s``, ``refiner_vit_tiny_latency_s_bf16``,
  ``refiner_vit_tiny_bf16_speedup``, ``refiner_bench_loadavg``.

``python -m hqtrack_core.bench bf16``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ..api import InferenceConfig, build_tracker
from ..model.depthwise import pytorch_backward
from ..paths import data_root
from ..refine import SamRefiner, build_sam
from ..training.config import get_train_config
from ..training.trainer import Trainer
from .peer_sam2 import davis_frames, read_davis_480p, time_steps
from .refiner import _frame, _labels

PRECISIONS = ("fp32", "bf16")
THREADS = 2


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def teach_fps(frames: int = 12, rounds: int = 2, short_edge: int = 240) -> dict:
    """Frames/s of the committed teaching model at ``short_edge``, fp32 and bf16 alternating, without and with
    the test-time flip."""
    images, mask, source = _sequence_frames(frames)
    runs = [(p, flip) for flip in (False, True) for p in PRECISIONS]
    times: dict[tuple[str, bool], list[float]] = {run: [] for run in runs}
    loads = []
    for _ in range(rounds):
        for precision, flip in runs:
            config = InferenceConfig.from_card(short_edge=short_edge, precision=precision, flip=flip, device="cpu",
                                               refiner="none")
            tracker = build_tracker(config).tracker
            times[precision, flip] += time_steps(tracker, images, mask)[1:]
            loads.append(_load())
    fps = {run: 1.0 / statistics.median(v) for run, v in times.items()}
    print(f"teaching model, {source}, network short edge {short_edge}, {rounds} rounds fp32/bf16: "
          f"fp32 {fps['fp32', False]:.1f} frames/s, bf16 {fps['bf16', False]:.1f} frames/s; with the test-time "
          f"flip fp32 {fps['fp32', True]:.1f}, bf16 {fps['bf16', True]:.1f} (load {loads})")
    out = {"teach_bench_loadavg": max(loads)}
    for (precision, flip), value in fps.items():
        key = f"teach_fps_{short_edge}p" + ("_bf16" if precision == "bf16" else "") + ("_flip" if flip else "")
        out[key] = round(value, 2)
    return out


def _sequence_frames(frames: int) -> tuple[list[np.ndarray], np.ndarray, str]:
    """``parkour`` 480p frames and its first mask (object 1), or the random video of ``peer_sam2``."""
    found = read_davis_480p("parkour", frames)
    if found is not None:
        images, gt = found
        return images, gt.astype(np.int64), f"DAVIS-2016 parkour frames 0-{frames - 1} (480p)"
    return davis_frames(frames)


def train_step(steps: int = 4, rounds: int = 1, batch_size: int = 4, crop: int = 241,
               preset: str = "cpu_teach_stage2", data: str | Path | None = None) -> dict:
    """Seconds per training step: fp32, bf16, and bf16 with PyTorch's own depthwise backward (the arm before
    ``model/depthwise.py``), same config and batches, alternating; {} without the DAVIS train data."""
    if data is None:
        root = data_root()
        data = None if root is None else root / "davis2016"
    if data is None or not (Path(data) / "ImageSets").is_dir():
        print("training step: skipped (no DAVIS-2016 train data; set HQTRACK_DATA)")
        return {}
    arms = {"fp32": ("fp32", contextlib.nullcontext), "bf16": ("bf16", contextlib.nullcontext),
            "bf16_pytorch_depthwise": ("bf16", pytorch_backward)}
    per_step: dict[str, list[float]] = {arm: [] for arm in arms}
    loads = []
    for _ in range(rounds):
        for arm, (precision, context) in arms.items():
            cfg = get_train_config(preset).replace(batch_size=batch_size, crop=(crop, crop), steps=steps,
                                                   log_every=1, save_every=10**9, precision=precision)
            with tempfile.TemporaryDirectory() as tmp, context():
                Trainer(cfg, tmp, data=data, progress=False).run()
                rows = [json.loads(line) for line in (Path(tmp) / "metrics.jsonl").read_text().splitlines()]
            per_step[arm] += [r["sec_per_step"] for r in rows if r.get("step", 0) >= 1 and "sec_per_step" in r]
            loads.append(_load())
    sec = {arm: statistics.median(v) for arm, v in per_step.items()}
    speedup = sec["fp32"] / sec["bf16"]
    depthwise = sec["bf16_pytorch_depthwise"] / sec["bf16"]
    print(f"training step, {preset} batch {batch_size} crop {crop}, median of steps 1-{steps - 1}, {rounds} round(s): "
          f"fp32 {sec['fp32']:.2f} s, bf16 {sec['bf16']:.2f} s, speed-up {speedup:.2f}x; bf16 with PyTorch's "
          f"depthwise backward {sec['bf16_pytorch_depthwise']:.2f} s ({depthwise:.2f}x the step) (load {loads})")
    return {"train_step_s_fp32": round(sec["fp32"], 3), "train_step_s_bf16": round(sec["bf16"], 3),
            "train_step_speedup_bf16": round(speedup, 3),
            "train_step_s_bf16_pytorch_depthwise": round(sec["bf16_pytorch_depthwise"], 3),
            "train_step_depthwise_speedup_bf16": round(depthwise, 3), "train_bench_loadavg": max(loads)}


def refiner(model_type: str = "vit_tiny", repeats: int = 3) -> dict:
    """Our HQ-SAM refiner path, fp32 vs bf16 alternating (random weights, 5 objects, one 480p frame)."""
    torch.manual_seed(0)
    image, source = _frame()
    labels = _labels()
    base = build_sam(model_type, decoder="hq")
    refiners = {p: SamRefiner(copy.deepcopy(base), precision=p) for p in PRECISIONS}
    times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    loads = []
    with torch.inference_mode():
        for p in PRECISIONS:
            refiners[p].refine(image, labels)  # warm-up
        for _ in range(repeats):
            for p in PRECISIONS:
                start = time.perf_counter()
                refiners[p].refine(image, labels)
                times[p].append(time.perf_counter() - start)
                loads.append(_load())
    lat = {p: statistics.median(v) for p, v in times.items()}
    print(f"HQ-SAM refiner {model_type}, 5 objects, {source}, median of {repeats} alternating runs: fp32 "
          f"{lat['fp32']:.3f} s, bf16 {lat['bf16']:.3f} s, speed-up {lat['fp32'] / lat['bf16']:.2f}x (load {loads})")
    return {f"refiner_{model_type}_latency_s": round(lat["fp32"], 3),
            f"refiner_{model_type}_latency_s_bf16": round(lat["bf16"], 3),
            f"refiner_{model_type}_bf16_speedup": round(lat["fp32"] / lat["bf16"], 3),
            "refiner_bench_loadavg": max(loads)}


def run(threads: int = THREADS) -> dict:
    torch.set_num_threads(threads)
    out: dict = {}
    out.update(teach_fps())
    out.update(refiner())
    out.update(train_step())
    return out
