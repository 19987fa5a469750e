"""Latency of our HQTrack VMOS vs the official HQTrack code at 480x854 on this CPU.

Both sides get the same name-rule weights (:mod:`hqtrack_core.model.init_rules`), the same synthetic
480x854 video with 2 objects and the same label maps written to memory (the parity recipe), released memory
settings (gap 50, short-term skip 4). Each side runs in its own subprocess with 2 torch threads (``--threads``); the latency
of a frame is propagate + decode + memory write, the figure is the median of frames 2..N. The official code
must be a CPU-patched copy of ``jiawen-zhu/HQTrack`` outside this repository (see
``data/fixtures/README.md``): give its path with ``--official`` or ``$HQTRACK_OFFICIAL``; without it the
official side is reported as not available.

Keys: ``hqtrack_vmos_latency_s_480p``, ``official_hqtrack_vmos_latency_s_480p``,
``hqtrack_vmos_latency_ratio_vs_official_480p`` (ours / official; < 1 = faster), ``hqtrack_vmos_peak_rss_mb_480p``,
``official_hqtrack_vmos_peak_rss_mb_480p``, ``hqtrack_vmos_max_abs_logit_diff_480p``, and per-frame process CPU
time ``hqtrack_vmos_cpu_s_480p``, ``official_hqtrack_vmos_cpu_s_480p``, ``hqtrack_vmos_cpu_ratio_vs_official_480p``
(``hqtrack_vmos_bench_threads`` says how many threads each side used).

    HQTRACK_OFFICIAL=/work/scratch/hqtrack_official python -m hqtrack_core.bench hqtrack_vmos
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ENV_OFFICIAL = "HQTRACK_OFFICIAL"
HEIGHT, WIDTH, N_OBJECTS = 480, 854, 2
LONG_TERM_GAP, SHORT_TERM_SKIP = 50, 4
THREADS = 2


def synthetic_video(frames: int, height: int = HEIGHT, width: int = WIDTH) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised images ``(T, 3, H, W)`` and labels ``(T, H, W)`` of 2 moving ellipses on a textured scene."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([np.sin(xx / (11 + 4 * c)) * np.cos(yy / (13 + 3 * c)) for c in range(3)]).astype(np.float32)
    base += 0.3 * rng.standard_normal(base.shape).astype(np.float32)
    images = np.empty((frames, 3, height, width), np.float32)
    labels = np.zeros((frames, height, width), np.int64)
    for t in range(frames):
        img = base.copy()
        for k in range(N_OBJECTS):
            cy = height * (0.35 + 0.3 * k) + 6 * t
            cx = width * (0.3 + 0.4 * k) - 9 * t * (1 - 2 * k)
            inside = ((yy - cy) / (height * 0.18)) ** 2 + ((xx - cx) / (width * 0.12)) ** 2 <= 1
            img[:, inside] = np.array([1.2, -0.8, 0.4], np.float32)[:, None] * (1 - 2 * k)
            labels[t][inside] = k + 1
        images[t] = img
    return torch.from_numpy(images), torch.from_numpy(labels)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@torch.inference_mode()
def run_ours(frames: int) -> tuple[list[float], list[float], list[np.ndarray]]:
    from ..inference.engine import GroupEngine
    from ..inference.memory import memory_policy
    from ..model.init_rules import apply_name_rule
    from ..model.multiscale import build_multiscale_vmos

    images, labels = synthetic_video(frames)
    model = build_multiscale_vmos("hqtrack_vmos").eval()
    apply_name_rule(model)
    engine = GroupEngine(model, memory_policy("released", long_term_gap=LONG_TERM_GAP,
                                                        short_term_skip=SHORT_TERM_SKIP))
    engine.add_reference(model.encode(images[0:1]), labels[0:1], 0)
    times, cpu, logits = [], [], []
    for t in range(1, frames):
        start, start_cpu = time.perf_counter(), time.process_time()
        features = model.encode(images[t : t + 1])
        prop = engine.propagate(features)
        logit = engine.decode(prop, features, (HEIGHT, WIDTH), N_OBJECTS)
        engine.remember(prop, labels[t : t + 1], t)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        logits.append(logit[0, : N_OBJECTS + 1, ::8, ::8].numpy().copy())
    return times, cpu, logits


@torch.no_grad()
def run_official(frames: int, official: Path) -> tuple[list[float], list[float], list[np.ndarray]]:
    import importlib

    from ..model.init_rules import apply_name_rule

    sys.path.insert(0, str(official))
    cfg = importlib.import_module("configs.default").DefaultEngineConfig("bench", "internT_msdeaotl_v2")
    model = importlib.import_module("networks.models").build_vos_model(cfg.MODEL_VOS, cfg).eval()
    apply_name_rule(model)
    engine = importlib.import_module("networks.engines").build_engine(
        cfg.MODEL_ENGINE, phase="eval", aot_model=model, gpu_id=0, long_term_mem_gap=LONG_TERM_GAP,
        short_term_mem_skip=SHORT_TERM_SKIP)
    images, labels = synthetic_video(frames)
    engine.add_reference_frame(images[0:1], labels[0:1, None].float(), obj_nums=N_OBJECTS, frame_step=0)
    times, cpu, logits = [], [], []
    for t in range(1, frames):
        start, start_cpu = time.perf_counter(), time.process_time()
        engine.match_propogate_one_frame(images[t : t + 1])
        logit = engine.decode_current_logits((HEIGHT, WIDTH))
        engine.update_memory(labels[t : t + 1, None].float())
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        logits.append(logit[0, : N_OBJECTS + 1, ::8, ::8].numpy().copy())
    return times, cpu, logits


def _side_main(side: str, frames: int, official: Path | None, out: Path, threads: int) -> None:
    torch.set_num_threads(threads)
    if side == "ours":
        times, cpu, logits = run_ours(frames)
    else:
        times, cpu, logits = run_official(frames, official)
    np.savez(out, logits=np.stack(logits))
    print(json.dumps({"times": times, "cpu": cpu, "peak_rss_mb": _peak_rss_mb()}))


def official_path(official: str | Path | None = None) -> Path | None:
    """The official copy from the argument or ``$HQTRACK_OFFICIAL``; None when absent."""
    path = official or os.environ.get(ENV_OFFICIAL)
    if not path:
        return None
    path = Path(path).expanduser()
    if not (path / "networks" / "models" / "msdeaot_v2.py").is_file():
        raise FileNotFoundError(f"{path} is not a copy of jiawen-zhu/HQTrack (networks/models/msdeaot_v2.py missing)")
    return path


def _run_side(side: str, frames: int, official: Path | None, workdir: Path, threads: int) -> dict:
    out = workdir / f"{side}.npz"
    cmd = [sys.executable, "-m", "hqtrack_core.bench.hqtrack_vmos", "--side", side, "--frames", str(frames),
           "--out", str(out), "--threads", str(threads)]
    if official is not None:
        cmd += ["--official", str(official)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[2])
    if proc.returncode != 0:
        raise RuntimeError(f"{side} side failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["logits"] = np.load(out)["logits"]
    return result


def run(official: str | Path | None = None, frames: int = 6, threads: int = THREADS) -> dict:
    """Both sides, ``frames`` frames (the first is the reference); median latency of frames 2..N-1.

    Besides wall-clock latency, the process CPU time per frame is reported (``*_cpu_s_480p``): on a shared,
    busy machine wall time swings several-fold between runs while CPU time (with ``threads=1``) measures
    the work done.
    """
    if frames < 3:
        raise ValueError(f"frames must be >= 3 (reference + warm-up + one timed frame), got {frames}")
    path = official_path(official)
    with tempfile.TemporaryDirectory() as tmp:
        ours = _run_side("ours", frames, None, Path(tmp), threads)
        theirs = _run_side("official", frames, path, Path(tmp), threads) if path is not None else None
    ours_s = statistics.median(ours["times"][1:])
    ours_cpu = statistics.median(ours["cpu"][1:])
    out: dict = {
        "hqtrack_vmos_bench_threads": threads,
        "hqtrack_vmos_latency_s_480p": round(ours_s, 3),
        "hqtrack_vmos_cpu_s_480p": round(ours_cpu, 3),
        "hqtrack_vmos_peak_rss_mb_480p": round(ours["peak_rss_mb"], 1),
    }
    print(f"ours:     {ours_s:.3f} s/frame, CPU {ours_cpu:.3f} s (frames {[round(t, 2) for t in ours['times']]}), "
          f"peak RSS {ours['peak_rss_mb']:.0f} MB")
    if theirs is None:
        print(f"official: not available (set ${ENV_OFFICIAL} or pass --official)")
        out["official_hqtrack_vmos_latency_s_480p"] = "official not available"
        out["hqtrack_vmos_latency_ratio_vs_official_480p"] = "official not available"
        out["hqtrack_vmos_cpu_ratio_vs_official_480p"] = "official not available"
        return out
    theirs_s = statistics.median(theirs["times"][1:])
    theirs_cpu = statistics.median(theirs["cpu"][1:])
    diff = float(np.abs(ours["logits"] - theirs["logits"]).max())
    print(f"official: {theirs_s:.3f} s/frame, CPU {theirs_cpu:.3f} s "
          f"(frames {[round(t, 2) for t in theirs['times']]}), "
          f"peak RSS {theirs['peak_rss_mb']:.0f} MB; max |logit diff| {diff:.2e}")
    out.update({
        "official_hqtrack_vmos_latency_s_480p": round(theirs_s, 3),
        "official_hqtrack_vmos_peak_rss_mb_480p": round(theirs["peak_rss_mb"], 1),
        "hqtrack_vmos_latency_ratio_vs_official_480p": round(ours_s / theirs_s, 3),
        "official_hqtrack_vmos_cpu_s_480p": round(theirs_cpu, 3),
        "hqtrack_vmos_cpu_ratio_vs_official_480p": round(ours_cpu / theirs_cpu, 3),
        "hqtrack_vmos_max_abs_logit_diff_480p": float(f"{diff:.3g}"),
    })
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hqtrack_core.bench.hqtrack_vmos")
    parser.add_argument("--official", default=None, help=f"CPU-patched HQTrack copy (default ${ENV_OFFICIAL})")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--threads", type=int, default=THREADS, help="torch threads per side (default 2)")
    parser.add_argument("--side", choices=("ours", "official"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--record", action="store_true", help="merge the figures into figures/bench.json")
    args = parser.parse_args(argv)
    if args.side is not None:
        _side_main(args.side, args.frames, official_path(args.official), args.out, args.threads)
        return 0
    figures = run(args.official, args.frames, args.threads)
    print(json.dumps(figures, indent=2))
    if args.record:
        from .record import update_bench

        update_bench(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
