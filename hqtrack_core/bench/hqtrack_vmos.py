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
import importlib
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

from ..model.init_rules import apply_name_rule
from .engine_frames import HEIGHT, LONG_TERM_GAP, N_OBJECTS, SHORT_TERM_SKIP, WIDTH, OursFrames, synthetic_video
from .profile import vmos_profile
from .record import update_bench

ENV_OFFICIAL = "HQTRACK_OFFICIAL"
THREADS = 2
SIDES_OURS = {"ours": "fp32", "ours_bf16": "bf16"}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(frames: int, precision: str = "fp32") -> tuple[list[float], list[float], list[np.ndarray]]:
    images, labels = synthetic_video(frames)
    ours = OursFrames(images, labels, precision)
    times, cpu, logits = [], [], []
    for t in range(1, frames):  # times OursFrames.frame (the engine with given labels), not a tracker's step
        start, start_cpu = time.perf_counter(), time.process_time()
        logit = ours.frame(t)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        logits.append(logit[0, : N_OBJECTS + 1, ::8, ::8].numpy().copy())
    return times, cpu, logits


@torch.no_grad()
def run_official(frames: int, official: Path) -> tuple[list[float], list[float], list[np.ndarray]]:
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
    for t in range(1, frames):  # the official engine's own API (the other side of the comparison)
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
    if side in SIDES_OURS:
        times, cpu, logits = run_ours(frames, SIDES_OURS[side])
    else:
        times, cpu, logits = run_official(frames, official)
    np.savez(out, logits=np.stack(logits))
    print(json.dumps({"times": times, "cpu": cpu, "peak_rss_mb": _peak_rss_mb(), "loadavg": os.getloadavg()[0]}))


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


def _median(runs: list[dict], key: str) -> float:
    """Median over every timed frame (frames 2..N-1) of every round."""
    return statistics.median(v for r in runs for v in r[key][1:])


def run(official: str | Path | None = None, frames: int = 5, threads: int = THREADS, rounds: int = 2,
        profile: bool = True) -> dict:
    """Ours fp32, ours bf16 and the official code (fp32), interleaved ``rounds`` times (A B C A B C: load on the
    machine affects all alike); ``frames`` frames per run (the first is the reference), median latency of
    frames 2..N-1 over all rounds; then (``profile``) the per-op table and the share of the bf16 peak.

    Besides wall-clock latency, the process CPU time per frame is reported (``*_cpu_s_480p``): on a shared,
    busy machine wall time swings several-fold between runs while CPU time measures the work done. ``load``
    is the 1-minute load average at the end of each run (2 cores: above 2, other processes competed).
    """
    if frames < 3:
        raise ValueError(f"frames must be >= 3 (reference + warm-up + one timed frame), got {frames}")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    path = official_path(official)
    sides = ["ours", "ours_bf16"] + (["official"] if path is not None else [])
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for side in sides:
                runs[side].append(_run_side(side, frames, path, Path(tmp), threads))
                print(f"  ran {side}: frames {[round(t, 2) for t in runs[side][-1]['times']]} s, "
                      f"load {runs[side][-1]['loadavg']:.1f}", flush=True)
    out: dict = {"hqtrack_vmos_bench_threads": threads, "hqtrack_vmos_bench_rounds": rounds}
    names = {"ours": "hqtrack_vmos", "ours_bf16": "hqtrack_vmos_bf16", "official": "official_hqtrack_vmos"}
    lat = {side: _median(r, "times") for side, r in runs.items()}
    cpu = {side: _median(r, "cpu") for side, r in runs.items()}
    print(f"HQTrack VMOS 480x854, 2 objects, {threads} threads, {rounds} interleaved rounds, median of frames "
          f"2-{frames - 1} (wall s; CPU s of the process; load = 1-min load average after each run)")
    for side, r in runs.items():
        loads = [round(x["loadavg"], 1) for x in r]
        print(f"  {side:10} {lat[side]:7.3f} s/frame  CPU {cpu[side]:7.3f} s  peak RSS "
              f"{max(x['peak_rss_mb'] for x in r):5.0f} MB  load {loads}  frames "
              f"{[[round(t, 2) for t in x['times']] for x in r]}")
        out.update({
            f"{names[side]}_latency_s_480p": round(lat[side], 3),
            f"{names[side]}_cpu_s_480p": round(cpu[side], 3),
            f"{names[side]}_peak_rss_mb_480p": round(max(x["peak_rss_mb"] for x in r), 1),
            f"{names[side]}_bench_loadavg_480p": round(max(x["loadavg"] for x in r), 2),
        })
    out["hqtrack_vmos_bf16_speedup_480p"] = round(lat["ours"] / lat["ours_bf16"], 3)
    bf16_diff = float(np.abs(runs["ours"][0]["logits"] - runs["ours_bf16"][0]["logits"]).max())
    out["hqtrack_vmos_bf16_max_abs_logit_diff_vs_fp32_480p"] = float(f"{bf16_diff:.3g}")
    print(f"  bf16 vs fp32 (ours): speed-up {lat['ours'] / lat['ours_bf16']:.2f}x, max |logit diff| {bf16_diff:.3g}")
    if path is None:
        print(f"  official: not available (set ${ENV_OFFICIAL} or pass --official)")
        for key in ("official_hqtrack_vmos_latency_s_480p", "hqtrack_vmos_latency_ratio_vs_official_480p",
                    "hqtrack_vmos_cpu_ratio_vs_official_480p", "hqtrack_vmos_latency_ratio_vs_official_480p_bf16"):
            out[key] = "official not available"
    else:
        diff = float(np.abs(runs["ours"][0]["logits"] - runs["official"][0]["logits"]).max())
        out.update({
            "hqtrack_vmos_latency_ratio_vs_official_480p": round(lat["ours"] / lat["official"], 3),
            "hqtrack_vmos_cpu_ratio_vs_official_480p": round(cpu["ours"] / cpu["official"], 3),
            "hqtrack_vmos_latency_ratio_vs_official_480p_bf16": round(lat["ours_bf16"] / lat["official"], 3),
            "hqtrack_vmos_cpu_ratio_vs_official_480p_bf16": round(cpu["ours_bf16"] / cpu["official"], 3),
            "hqtrack_vmos_max_abs_logit_diff_480p": float(f"{diff:.3g}"),
        })
        print(f"  ratio ours/official: fp32 {lat['ours'] / lat['official']:.3f} (CPU {cpu['ours'] / cpu['official']:.3f}), "
              f"bf16 {lat['ours_bf16'] / lat['official']:.3f} (CPU {cpu['ours_bf16'] / cpu['official']:.3f}); "
              f"max |logit diff| fp32 vs official {diff:.2e}")
    if profile:
        out.update(vmos_profile(bf16_latency_s=lat["ours_bf16"], threads=threads))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hqtrack_core.bench.hqtrack_vmos")
    parser.add_argument("--official", default=None, help=f"CPU-patched HQTrack copy (default ${ENV_OFFICIAL})")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of ours fp32 / bf16 / official")
    parser.add_argument("--no-profile", action="store_true", help="skip the per-op table and the peak share")
    parser.add_argument("--threads", type=int, default=THREADS, help="torch threads per side (default 2)")
    parser.add_argument("--side", choices=(*SIDES_OURS, "official"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--record", action="store_true", help="merge the figures into figures/bench.json")
    args = parser.parse_args(argv)
    if args.side is not None:
        _side_main(args.side, args.frames, official_path(args.official), args.out, args.threads)
        return 0
    figures = run(args.official, args.frames, args.threads, args.rounds, not args.no_profile)
    print(json.dumps(figures, indent=2))
    if args.record:
        update_bench(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
