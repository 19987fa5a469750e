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

Steady state (:func:`steady`, ``--steady``; part of :func:`run` when the official copy is given): both sides with
the same bounded long-term memory, an entry every 5 frames, at most 6 entries with the reference (the official
engine's ``MAX_LEN`` in ``msaot_engine_v2.AOTEngine.update_long_term_memory``, hard-coded there; our ``released``
``max_long_term``): the newest entry first, the oldest non-reference entry evicted, the reference kept, on both
sides. 40 frames; the memory is full from frame 25; early = median of frames 2-10, steady = median of frames 26-39
(:func:`hqtrack_core.bench.steady.summarise`, from the entry counts each side reports frame by frame). Keys
``hqtrack_vmos_{early,steady}_s_480p`` (and ``_bf16``), ``official_hqtrack_vmos_{early,steady}_s_480p``,
``*_steady_over_early_480p`` per side, ``hqtrack_vmos_steady_ratio_vs_official_480p`` (and ``_bf16``; wall) and
``hqtrack_vmos_steady_cpu_ratio_vs_official_480p`` (and ``_bf16``; process CPU time),
``hqtrack_vmos_steady_max_abs_logit_diff_480p`` (ours fp32 vs official over the steady frames: the two memories
hold the same entries), ``hqtrack_vmos_steady_frames``, ``hqtrack_vmos_steady_rounds``,
``hqtrack_vmos_steady_bench_loadavg``.

    HQTRACK_OFFICIAL=../hqtrack_official python -m hqtrack_core.bench hqtrack_vmos
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
from .steady import official_entries, summarise

ENV_OFFICIAL = "HQTRACK_OFFICIAL"
THREADS = 2
SIDES_OURS = {"ours": "fp32", "ours_bf16": "bf16"}
NAMES = {"ours": "hqtrack_vmos", "ours_bf16": "hqtrack_vmos_bf16", "official": "official_hqtrack_vmos"}
# Steady state: an entry every 5 frames, 6 entries with the reference (the official MAX_LEN): full from frame 25.
STEADY_FRAMES, STEADY_GAP, STEADY_BOUND = 40, 5, 6


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(frames: int, precision: str = "fp32", long_term_gap: int = LONG_TERM_GAP, height: int = HEIGHT,
             width: int = WIDTH) -> dict:
    """Our side: per frame 1..N-1 ``times``/``cpu`` (s), ``logits`` ``(N_OBJECTS + 1, H/8, W/8)`` (every 8th pixel)
    and ``entries`` (long-term entries after the frame's memory write); ``bound`` = the policy's maximum."""
    images, labels = synthetic_video(frames, height, width)
    ours = OursFrames(images, labels, precision, long_term_gap)
    times, cpu, logits, entries = [], [], [], []
    for t in range(1, frames):  # times OursFrames.frame (the engine with given labels), not a tracker's step
        start, start_cpu = time.perf_counter(), time.process_time()
        logit = ours.frame(t)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        logits.append(logit[0, : N_OBJECTS + 1, ::8, ::8].numpy().copy())
        entries.append(ours.entries)
    return {"times": times, "cpu": cpu, "logits": logits, "entries": entries, "bound": ours.bound}


@torch.no_grad()
def run_official(frames: int, official: Path, long_term_gap: int = LONG_TERM_GAP, height: int = HEIGHT,
                 width: int = WIDTH) -> dict:
    """The official engine on the same frames and labels; same dict as :func:`run_ours`. Its long-term memory holds
    at most 6 entries (``MAX_LEN``, hard-coded in ``update_long_term_memory``): ``bound`` = 6."""
    sys.path.insert(0, str(official))
    cfg = importlib.import_module("configs.default").DefaultEngineConfig("bench", "internT_msdeaotl_v2")
    model = importlib.import_module("networks.models").build_vos_model(cfg.MODEL_VOS, cfg).eval()
    apply_name_rule(model)
    engine = importlib.import_module("networks.engines").build_engine(
        cfg.MODEL_ENGINE, phase="eval", aot_model=model, gpu_id=0, long_term_mem_gap=long_term_gap,
        short_term_mem_skip=SHORT_TERM_SKIP)
    images, labels = synthetic_video(frames, height, width)
    engine.add_reference_frame(images[0:1], labels[0:1, None].float(), obj_nums=N_OBJECTS, frame_step=0)
    times, cpu, logits, entries = [], [], [], []
    for t in range(1, frames):  # the official engine's own API (the other side of the comparison)
        start, start_cpu = time.perf_counter(), time.process_time()
        engine.match_propogate_one_frame(images[t : t + 1])
        logit = engine.decode_current_logits((height, width))
        engine.update_memory(labels[t : t + 1, None].float())
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        logits.append(logit[0, : N_OBJECTS + 1, ::8, ::8].numpy().copy())
        entries.append(official_entries(engine))
    return {"times": times, "cpu": cpu, "logits": logits, "entries": entries, "bound": STEADY_BOUND}


def _side_main(side: str, frames: int, official: Path | None, out: Path, threads: int,
               long_term_gap: int = LONG_TERM_GAP) -> None:
    torch.set_num_threads(threads)
    if side in SIDES_OURS:
        result = run_ours(frames, SIDES_OURS[side], long_term_gap)
    else:
        result = run_official(frames, official, long_term_gap)
    np.savez(out, logits=np.stack(result.pop("logits")))
    print(json.dumps({**result, "peak_rss_mb": _peak_rss_mb(), "loadavg": os.getloadavg()[0]}))


def official_path(official: str | Path | None = None) -> Path | None:
    """The official copy from the argument or ``$HQTRACK_OFFICIAL``; None when absent."""
    path = official or os.environ.get(ENV_OFFICIAL)
    if not path:
        return None
    path = Path(path).expanduser()
    if not (path / "networks" / "models" / "msdeaot_v2.py").is_file():
        raise FileNotFoundError(f"{path} is not a copy of jiawen-zhu/HQTrack (networks/models/msdeaot_v2.py missing)")
    return path


def _run_side(side: str, frames: int, official: Path | None, workdir: Path, threads: int,
              long_term_gap: int = LONG_TERM_GAP) -> dict:
    out = workdir / f"{side}.npz"
    cmd = [sys.executable, "-m", "hqtrack_core.bench.hqtrack_vmos", "--side", side, "--frames", str(frames),
           "--out", str(out), "--threads", str(threads), "--gap", str(long_term_gap)]
    if official is not None:
        cmd += ["--official", str(official)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[2])
    if proc.returncode != 0:
        raise RuntimeError(f"{side} side failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["logits"] = np.load(out)["logits"]
    return result


def _interleaved(official: str | Path | None, frames: int, threads: int, rounds: int, long_term_gap: int,
                 describe) -> tuple[Path | None, dict[str, list[dict]]]:
    """Ours fp32, ours bf16 and the official side (when a copy is given) ``rounds`` times, A B C A B C, each in its
    own process; prints ``describe(run)`` and the load after each. Returns the official path and the runs per side."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    path = official_path(official)
    sides = ["ours", "ours_bf16"] + (["official"] if path is not None else [])
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for side in sides:
                raw = _run_side(side, frames, path, Path(tmp), threads, long_term_gap)
                runs[side].append(raw)
                print(f"  ran {side}: {describe(raw)}, load {raw['loadavg']:.1f}", flush=True)
    return path, runs


def _median(runs: list[dict], key: str) -> float:
    """Median over every timed frame (frames 2..N-1) of every round."""
    return statistics.median(v for r in runs for v in r[key][1:])


def run(official: str | Path | None = None, frames: int = 5, threads: int = THREADS, rounds: int = 2,
        profile: bool = True, steady_frames: int = STEADY_FRAMES) -> dict:
    """Ours fp32, ours bf16 and the official code (fp32), interleaved ``rounds`` times (A B C A B C: load on the
    machine affects all alike); ``frames`` frames per run (the first is the reference), median latency of
    frames 2..N-1 over all rounds; then (``profile``) the per-op table and the share of the bf16 peak; then, when
    the official copy is given and ``steady_frames`` > 0, :func:`steady` (one round, ``steady_frames`` frames).

    Besides wall-clock latency, the process CPU time per frame is reported (``*_cpu_s_480p``): on a shared,
    busy machine wall time swings several-fold between runs while CPU time measures the work done. ``load``
    is the 1-minute load average at the end of each run (2 cores: above 2, other processes competed).
    """
    if frames < 3:
        raise ValueError(f"frames must be >= 3 (reference + warm-up + one timed frame), got {frames}")
    path, runs = _interleaved(official, frames, threads, rounds, LONG_TERM_GAP,
                              lambda raw: f"frames {[round(t, 2) for t in raw['times']]} s")
    out: dict = {"hqtrack_vmos_bench_threads": threads, "hqtrack_vmos_bench_rounds": rounds}
    names = NAMES
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
    if path is not None and steady_frames:
        out.update(steady(path, steady_frames, threads))
    return out


def steady_summary(result: dict) -> dict:
    """Early / steady medians of one side's run (:func:`run_ours` / :func:`run_official` dict) via
    :func:`hqtrack_core.bench.steady.summarise` (which checks that the memory filled and never passed its bound)."""
    return summarise({"wall": result["times"], "cpu": result["cpu"], "entries": result["entries"],
                      "bound": result["bound"]})


def steady(official: str | Path | None = None, frames: int = STEADY_FRAMES, threads: int = THREADS,
           rounds: int = 1) -> dict:
    """Early frames against a full bounded memory: ours fp32, ours bf16 and the official fp32 (when given),
    interleaved ``rounds`` times, an entry every :data:`STEADY_GAP` frames, at most :data:`STEADY_BOUND` with the
    reference on both sides. Per side the medians of frames 2-10 and of the frames after the fill, each the median
    over rounds; ours / official at steady state; the max |logit diff| of ours fp32 vs official over the steady
    frames (same entries in both memories, so ~1e-5 as at the early frames)."""
    needed = (STEADY_BOUND - 1) * STEADY_GAP + 2  # the fill frame and one frame after it
    if frames < needed:
        raise ValueError(f"steady frames must be >= {needed} (the memory fills at frame "
                         f"{(STEADY_BOUND - 1) * STEADY_GAP}), got {frames}")
    _, runs = _interleaved(official, frames, threads, rounds, STEADY_GAP,
                           lambda raw: f"(steady) entries {raw['entries']}")
    for side, raws in runs.items():
        for raw in raws:
            if raw["bound"] != STEADY_BOUND:
                raise RuntimeError(f"{side}: long-term memory bounded to {raw['bound']} entries, not "
                                   f"{STEADY_BOUND} like the official engine's MAX_LEN")
            raw.update(steady_summary(raw))
    fig = {side: {key: statistics.median(r[key] for r in rs) for key in
                  ("early_wall_s", "steady_wall_s", "early_cpu_s", "steady_cpu_s")} for side, rs in runs.items()}
    frames_used = runs["ours"][0]["steady_frames"]
    print(f"HQTrack VMOS 480x854, 2 objects, {threads} threads, long-term memory bounded to {STEADY_BOUND} entries "
          f"(gap {STEADY_GAP}, full from frame {(STEADY_BOUND - 1) * STEADY_GAP}), {rounds} round(s): early = frames "
          f"2-10, steady = frames {frames_used}, wall s per frame (CPU s of the process)")
    out: dict = {"hqtrack_vmos_steady_frames": frames_used, "hqtrack_vmos_steady_rounds": rounds,
                 "hqtrack_vmos_steady_bench_loadavg": round(max(r["loadavg"] for rs in runs.values() for r in rs), 2)}
    for side, f in fig.items():
        name, suffix = ("hqtrack_vmos", "_bf16") if side == "ours_bf16" else (NAMES[side], "")
        out.update({
            f"{name}_early_s_480p{suffix}": round(f["early_wall_s"], 4),
            f"{name}_steady_s_480p{suffix}": round(f["steady_wall_s"], 4),
            f"{name}_steady_over_early_480p{suffix}": round(f["steady_wall_s"] / f["early_wall_s"], 3),
        })
        line = (f"  {side:10} early {f['early_wall_s']:.3f} ({f['early_cpu_s']:.3f})  steady {f['steady_wall_s']:.3f} "
                f"({f['steady_cpu_s']:.3f})  steady/early {f['steady_wall_s'] / f['early_wall_s']:.2f}")
        if side != "official" and "official" in fig:
            wall = f["steady_wall_s"] / fig["official"]["steady_wall_s"]
            cpu = f["steady_cpu_s"] / fig["official"]["steady_cpu_s"]
            out[f"hqtrack_vmos_steady_ratio_vs_official_480p{suffix}"] = round(wall, 3)
            out[f"hqtrack_vmos_steady_cpu_ratio_vs_official_480p{suffix}"] = round(cpu, 3)
            line += f"  steady vs official {wall:.3f} (CPU {cpu:.3f})"
        print(line)
    if "official" in fig:
        first = int(frames_used.split("-")[0]) - 1  # logits[i] = frame i + 1
        diff = float(np.abs(runs["ours"][0]["logits"][first:] - runs["official"][0]["logits"][first:]).max())
        out["hqtrack_vmos_steady_max_abs_logit_diff_480p"] = float(f"{diff:.3g}")
        print(f"  max |logit diff| ours fp32 vs official over the steady frames: {diff:.2e}")
    else:
        print(f"  official: not available (set ${ENV_OFFICIAL} or pass --official)")
        for key in ("official_hqtrack_vmos_steady_s_480p", "hqtrack_vmos_steady_ratio_vs_official_480p",
                    "hqtrack_vmos_steady_ratio_vs_official_480p_bf16"):
            out[key] = "official not available"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hqtrack_core.bench.hqtrack_vmos")
    parser.add_argument("--official", default=None, help=f"CPU-patched HQTrack copy (default ${ENV_OFFICIAL})")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of ours fp32 / bf16 / official")
    parser.add_argument("--no-profile", action="store_true", help="skip the per-op table and the peak share")
    parser.add_argument("--threads", type=int, default=THREADS, help="torch threads per side (default 2)")
    parser.add_argument("--steady", action="store_true",
                        help="only the steady-state comparison (bounded memory, --steady-frames frames, --rounds)")
    parser.add_argument("--steady-frames", type=int, default=STEADY_FRAMES,
                        help=f"frames of the steady-state runs (default {STEADY_FRAMES}; 0 = skip it in the full run)")
    parser.add_argument("--side", choices=(*SIDES_OURS, "official"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--gap", type=int, default=LONG_TERM_GAP, help=argparse.SUPPRESS)
    parser.add_argument("--record", action="store_true", help="merge the figures into figures/bench.json")
    args = parser.parse_args(argv)
    if args.side is not None:
        _side_main(args.side, args.frames, official_path(args.official), args.out, args.threads, args.gap)
        return 0
    if args.steady:
        figures = steady(args.official, args.steady_frames, args.threads, args.rounds)
    else:
        figures = run(args.official, args.frames, args.threads, args.rounds, not args.no_profile, args.steady_frames)
    print(json.dumps(figures, indent=2))
    if args.record:
        update_bench(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
