"""HQTrack VMOS vs the peer a user would pick instead: the SAM 2.1 tiny video predictor (PyPI ``sam2``).

Same video for both: the first frames of the DAVIS-2016 dev sequence ``blackswan`` at 480x854 (a random-texture
video without ``../shared/data``), 2 objects (the first frame's ground truth split into its left and right
halves), random weights on both sides (SAM 2.1 tiny built from the package's own config, no checkpoint; our
``hqtrack_vmos`` with name-rule weights: the speed does not depend on the weight values). Ours runs through
``VMOSTracker(precision=...)`` on the uint8 frames (normalise, encode, propagate, decode, upsample, argmax, memory
write); SAM 2 through ``predictor.propagate_in_video`` after ``add_new_mask`` for both objects (its frame
loading, done once in ``init_state``, is not timed). Sides alternate ours / SAM 2 for fp32 then bf16
(``torch.autocast``), per-frame latency = median of frames 2..N-1, 2 torch threads.

Keys: ``sam2_tiny_latency_s_480p``, ``sam2_tiny_latency_s_480p_bf16``, ``hqtrack_vmos_davis_latency_s_480p``
(and ``_bf16``), ``vmos_latency_ratio_vs_sam2_480p`` (ours bf16 / SAM 2 bf16: each at its fastest setting;
``_fp32``: both fp32), ``sam2_bench_loadavg``. With ``--frames`` > 9 also ``sam2_tiny_steady_latency_s_480p`` (and
``_bf16``): SAM 2's median over frames 8..N-1, once its memory bank (``num_maskmem`` = 7 frames: the prompt and
the 6 latest) is full, to set beside our steady state (``python -m hqtrack_core.bench steady``).
``python -m hqtrack_core.bench peer_sam2``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch

from ..api import build_vmos, track_video
from ..inference import VMOSTracker, memory_policy
from ..model.init_rules import apply_name_rule
from ..paths import data_root
from ..precision import resolve_precision

SEQUENCE = "blackswan"
SAM2_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"
SAM2_FULL_FROM = 8  # SAM 2.1's memory bank holds num_maskmem = 7 frames: full from frame 8 on
THREADS = 2


def read_davis_480p(sequence: str, frames: int) -> tuple[list[np.ndarray], np.ndarray] | None:
    """The first ``frames`` RGB uint8 frames of a DAVIS-2016 480p sequence and its first-frame foreground
    ``(480, 854)`` bool; None when the shared data does not have it."""
    root = data_root()
    seq = None if root is None else root / "davis2016" / "JPEGImages" / "480p" / sequence
    if seq is None or not seq.is_dir():
        return None
    paths = sorted(seq.glob("*.jpg"))[:frames]
    images = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths]
    gt = cv2.imread(str(root / "davis2016" / "Annotations" / "480p" / sequence / "00000.png"), cv2.IMREAD_GRAYSCALE)
    return images, gt > 0


def time_steps(tracker, images: list[np.ndarray], mask: np.ndarray) -> list[float]:
    """Seconds of ``tracker.step`` on ``images[1:]`` after the prompt frame ``images[0]`` with ``mask``."""
    frames = [(str(t), image) for t, image in enumerate(images)]
    return [frame.seconds for frame in track_video(tracker, frames, {"0": mask})][1:]


def davis_frames(frames: int, height: int = 480, width: int = 854) -> tuple[list[np.ndarray], np.ndarray, str]:
    """``frames`` RGB uint8 frames and a 2-object first-frame mask; DAVIS ``blackswan`` when present."""
    found = read_davis_480p(SEQUENCE, frames) if (height, width) == (480, 854) else None
    if found is not None:
        images, gt = found
        source = f"DAVIS-2016 {SEQUENCE} frames 0-{frames - 1}"
    else:
        rng = np.random.default_rng(0)
        base = rng.integers(0, 256, (height + 2 * frames, width + 4 * frames, 3)).astype(np.uint8)
        images = [np.ascontiguousarray(base[t:t + height, 2 * t:2 * t + width]) for t in range(frames)]
        gt = np.zeros((height, width), bool)
        gt[height // 4:3 * height // 4, width // 4:3 * width // 4] = True
        source = f"random texture {height}x{width}"
    cols = np.nonzero(gt.any(0))[0]
    split = int(cols.mean()) if cols.size else width // 2
    mask = np.zeros(gt.shape, np.int64)
    mask[:, :split][gt[:, :split]] = 1
    mask[:, split:][gt[:, split:]] = 2
    return images, mask, source


def time_ours(images: list[np.ndarray], mask: np.ndarray, precision: str) -> list[float]:
    """Per-frame seconds of our HQTrack VMOS (random name-rule weights) through ``VMOSTracker``."""
    model, _ = build_vmos(model="hqtrack_vmos", checkpoint="none")
    apply_name_rule(model.eval())
    return time_steps(VMOSTracker(model, memory_policy("released"), precision=precision), images, mask)


def build_sam2_tiny(image_size: int | None = None):
    """SAM 2.1 tiny video predictor from the package's config with random weights (no checkpoint)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sam2.build_sam import build_sam2_video_predictor

        overrides = [] if image_size is None else [f"++model.image_size={image_size}"]
        torch.manual_seed(0)
        return build_sam2_video_predictor(SAM2_CONFIG, ckpt_path=None, device="cpu",
                                          hydra_overrides_extra=overrides)


def time_sam2(predictor, images: list[np.ndarray], mask: np.ndarray, precision: str) -> list[float]:
    """Per-frame seconds of ``propagate_in_video`` (both objects) after ``add_new_mask`` on frame 0."""
    choice = resolve_precision(precision)
    with tempfile.TemporaryDirectory() as tmp:
        for t, image in enumerate(images):  # the predictor reads a folder of JPEG frames
            cv2.imwrite(str(Path(tmp) / f"{t:05d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        with torch.inference_mode(), choice.autocast():
            state = predictor.init_state(video_path=tmp)
            for obj in (1, 2):
                predictor.add_new_mask(state, frame_idx=0, obj_id=obj, mask=mask == obj)
            times, last = [], time.perf_counter()
            for _ in predictor.propagate_in_video(state):  # SAM 2's own video loop (the peer being timed)
                now = time.perf_counter()
                times.append(now - last)
                last = now
    return times[1:]  # frame 0 is the prompt frame


def run(frames: int = 12, rounds: int = 1, threads: int = THREADS, height: int = 480, width: int = 854,
        sam2_image_size: int | None = None) -> dict:
    """Interleave ours and SAM 2.1 tiny (fp32, then bf16), ``rounds`` times; print and return the figures."""
    if frames < 3:
        raise ValueError(f"frames must be >= 3 (prompt + warm-up + one timed frame), got {frames}")
    torch.set_num_threads(threads)
    images, mask, source = davis_frames(frames, height, width)
    predictor = build_sam2_tiny(sam2_image_size)
    times: dict[tuple[str, str], list[float]] = {}
    sam2_full: dict[str, list[float]] = {}
    loads: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for precision in ("fp32", "bf16"):
            for side in ("ours", "sam2"):
                fn = time_ours if side == "ours" else (lambda i, m, p: time_sam2(predictor, i, m, p))
                per_frame = fn(images, mask, precision)  # frames 1..N-1
                times.setdefault((side, precision), []).extend(per_frame[1:])
                if side == "sam2":
                    sam2_full.setdefault(precision, []).extend(per_frame[SAM2_FULL_FROM - 1:])
                loads.setdefault((side, precision), []).append(round(os.getloadavg()[0], 1))
    lat = {key: statistics.median(v) for key, v in times.items()}
    print(f"HQTrack VMOS (ours) vs SAM 2.1 tiny video predictor, {source}, 2 objects, {threads} threads, "
          f"median of frames 2-{frames - 1}, {rounds} round(s) alternating ours / SAM 2 (load = 1-min load average)")
    for precision in ("fp32", "bf16"):
        ours, sam2 = lat[("ours", precision)], lat[("sam2", precision)]
        print(f"  {precision}: ours {ours:.3f} s/frame (load {loads[('ours', precision)]}), SAM 2.1 tiny "
              f"{sam2:.3f} s/frame (load {loads[('sam2', precision)]}), ratio ours/SAM 2 {ours / sam2:.3f} "
              f"({sam2 / ours:.1f}x faster)")
    tag = "480p" if (height, width) == (480, 854) else f"{height}x{width}"
    steady = {}
    if frames > SAM2_FULL_FROM + 1:
        steady = {f"sam2_tiny_steady_latency_s_{tag}" + ("" if p == "fp32" else "_bf16"): round(statistics.median(v), 3)
                  for p, v in sam2_full.items()}
        print(f"  SAM 2.1 tiny with its memory bank full (frames {SAM2_FULL_FROM}-{frames - 1}): "
              + ", ".join(f"{k} {v}" for k, v in steady.items()))
    return {
        **steady,
        f"sam2_tiny_latency_s_{tag}": round(lat[("sam2", "fp32")], 3),
        f"sam2_tiny_latency_s_{tag}_bf16": round(lat[("sam2", "bf16")], 3),
        f"hqtrack_vmos_davis_latency_s_{tag}": round(lat[("ours", "fp32")], 3),
        f"hqtrack_vmos_davis_latency_s_{tag}_bf16": round(lat[("ours", "bf16")], 3),
        f"vmos_latency_ratio_vs_sam2_{tag}": round(lat[("ours", "bf16")] / lat[("sam2", "bf16")], 3),
        f"vmos_latency_ratio_vs_sam2_{tag}_fp32": round(lat[("ours", "fp32")] / lat[("sam2", "fp32")], 3),
        "sam2_bench_loadavg": max(max(v) for v in loads.values()),
    }
