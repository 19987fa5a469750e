"""Benchmark: early frames against steady state (long-term memory full), as a user runs ``hqtrack track``.

Our other benchmarks time frames 2-10, when the long-term memory holds only the reference. On a long video the
``released`` policy (a long-term entry every 50 frames, at most 6 entries with the reference) fills the memory at
frame 250, and every later frame attends to 6x the tokens. This benchmark plays a real clip back and forth
(DAVIS-2016 ``blackswan`` at 480p from ``../shared/data``, 50 frames, ping-pong; a random-texture video without it)
for ``--frames`` frames (default 330) and reports per case:

- ``early``: median seconds per frame (``tracker.step``, wall clock) of frames 2-10;
- ``steady``: median over the frames after the memory is full (``references + long-term == max_long_term``);
- ``steady / early``; the process CPU time of both beside them (robust when other processes share the cores).

Cases: the committed teaching model (``InferenceConfig.from_card()``, short edge 240, flip off and on) and the
HQTrack VMOS config with random weights (short edge 480, flip off), each in fp32 and bf16, one subprocess per run,
alternating (``--rounds`` times). Every record names the CPU (model, AVX-512 / AVX512-BF16 / AMX-BF16 flags, the ISA
torch dispatches to, ``ATEN_CPU_CAPABILITY`` / ``ONEDNN_MAX_CPU_ISA`` when set) and the thread count.

``--baseline DIR`` also runs every case on another checkout (``PYTHONPATH=DIR``, e.g. ``/work/main``), run for run
after ours, and reports ours / baseline per case (the worker uses only :mod:`hqtrack_core.api` and
``memory_policy``). ``--long-term-gap N`` fills the memory sooner (after ``5 N`` frames): the steady-state frame
costs the same (the memory has the same size), for quick A/B runs; the record says so.

``python -m hqtrack_core.bench steady`` (defaults), or ``python -m hqtrack_core.bench.steady --help``.
Writes ``figures/bench.json`` key ``steady_state__<cpu>``: the list of records of that CPU kind.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import hqtrack_core
from hqtrack_core.api import InferenceConfig, build_tracker, track_video
from hqtrack_core.bench.peer_sam2 import davis_frames
from hqtrack_core.bench.record import update_bench
from hqtrack_core.inference.memory import memory_policy
from hqtrack_core.precision import cpu_flags, cpu_model

CASES = {
    # name: (model, checkpoint, short edge, flip)
    "teach": ("", "", 240, False),
    "teach_flip": ("", "", 240, True),
    "hqtrack_vmos": ("hqtrack_vmos", "none", 480, False),
}
PRECISIONS = ("fp32", "bf16")
EARLY = range(2, 11)  # frames 2-10 (frame 0 = the mask)
SEQUENCE = "blackswan"


def cpu_record(threads: int) -> dict:
    """The CPU this process runs on (:mod:`hqtrack_core.precision` reads it): model name, the flags that decide the
    kernels, the ISA torch uses, an ISA cap set in the environment."""
    flags = cpu_flags()
    return {
        "cpu": cpu_model(),
        "avx2": "avx2" in flags, "avx512f": "avx512f" in flags, "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "isa_cap": {k: os.environ[k] for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if k in os.environ},
        "threads": threads,
        "torch": torch.__version__,
    }


def cpu_slug(record: dict) -> str:
    """A bench.json key part naming the CPU kind (model and the ISA cap when one is set)."""
    text = record["cpu"] + "".join(f"_{v}" for v in record["isa_cap"].values())
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def ping_pong(frames: int) -> tuple[list, object, str]:
    """``frames`` RGB uint8 frames of ``blackswan`` 480p played back and forth, its first mask, a description."""
    clip, mask, source = davis_frames(50)
    cycle = clip + clip[-2:0:-1]
    return [cycle[t % len(cycle)] for t in range(frames)], np.asarray(mask), f"{source}, ping-pong"


def worker(case: str, precision: str, frames: int, gap: int | None, threads: int) -> dict:
    """One run in this process (with whatever ``hqtrack_core`` is on the path): per-frame times and entries."""
    torch.set_num_threads(threads)
    model, checkpoint, short_edge, flip = CASES[case]
    images, mask, source = ping_pong(frames)
    torch.manual_seed(0)  # the random-weight model is the same in every run
    config = InferenceConfig.from_card(model or None, checkpoint or None, device="cpu", short_edge=short_edge,
                                       precision=precision, flip=flip, memory="released", refiner="none")
    tracker = build_tracker(config).tracker
    if gap is not None:
        tracker.policy = memory_policy("released", long_term_gap=gap)
    wall, cpu, entries = [], [], []
    for frame in track_video(tracker, [(str(t), image) for t, image in enumerate(images)], {"0": mask}):
        if frame.index:
            wall.append(frame.seconds)
            cpu.append(frame.cpu_seconds)
            entries.append(tracker.memory[0].num_long_term_entries)
    return {"wall": wall, "cpu": cpu, "entries": entries, "bound": tracker.policy.max_long_term,
            "source": source, "loadavg": os.getloadavg()[0], "code": str(Path(hqtrack_core.__file__).parent.parent)}


def summarise(run: dict) -> dict:
    """Early (frames 2-10) and steady-state (memory full, the frame after the fill onward) medians."""
    entries, bound = run["entries"], run["bound"]
    full = [t for t, n in enumerate(entries) if n >= bound]  # index t = frame t + 1
    if len(full) < 2:
        raise RuntimeError(f"the long-term memory never filled ({max(entries)} of {bound} entries): more frames")
    steady_idx = full[1:]  # from the frame after the one that filled it
    early_idx = [f - 1 for f in EARLY if f - 1 < len(entries)]
    out = {}
    for kind in ("wall", "cpu"):
        e = statistics.median(run[kind][i] for i in early_idx)
        s = statistics.median(run[kind][i] for i in steady_idx)
        out[f"early_{kind}_s"], out[f"steady_{kind}_s"] = round(e, 4), round(s, 4)
    out["steady_over_early"] = round(out["steady_wall_s"] / out["early_wall_s"], 3)
    out["steady_over_early_cpu"] = round(out["steady_cpu_s"] / out["early_cpu_s"], 3)
    out["steady_frames"] = f"{steady_idx[0] + 1}-{steady_idx[-1] + 1}"
    return out


def _run(case: str, precision: str, frames: int, gap: int | None, threads: int, pythonpath: str | None) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    # -P: the script folder (which holds modules named like stdlib ones, profile.py) is not put on sys.path
    cmd = [sys.executable, "-P", str(Path(__file__).resolve()), "--worker", case, precision, str(frames),
           str(gap or 0), str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{case} {precision} worker ({pythonpath or 'ours'}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(cases: tuple[str, ...] = tuple(CASES), precisions: tuple[str, ...] = PRECISIONS, frames: int = 330,
        gap: int | None = None, threads: int = 2, rounds: int = 1, baseline: str | None = None) -> dict:
    """Every (case, precision) ``rounds`` times, alternating (and ours / baseline run for run); print a table."""
    cpu = cpu_record(threads)
    sides = ["ours"] + (["baseline"] if baseline else [])
    runs: dict[tuple, list[dict]] = {}
    for _ in range(rounds):
        for case in cases:
            for precision in precisions:
                for side in sides:
                    raw = _run(case, precision, frames, gap, threads, baseline if side == "baseline" else None)
                    runs.setdefault((case, precision, side), []).append(
                        {**summarise(raw), "load": raw["loadavg"], "source": raw["source"], "code": raw["code"]})
    records = []
    print(f"steady state vs early frames; {cpu['cpu']} (AVX-512 {cpu['avx512f']}, AVX512-BF16 {cpu['avx512_bf16']}, "
          f"AMX-BF16 {cpu['amx_bf16']}, torch ISA {cpu['torch_cpu_capability']}"
          + (f", capped {cpu['isa_cap']}" if cpu["isa_cap"] else "") + f"), {threads} threads, {frames} frames"
          + (f", long-term gap {gap} (memory filled sooner)" if gap else ", released policy"))
    print(f"{'case':14} {'prec':5} {'side':9} {'early s':>8} {'steady s':>9} {'st/early':>8} {'CPU st/e':>8} "
          f"{'load':>5}")
    for (case, precision, side), rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in rs[0] if isinstance(rs[0][k], (int, float))}
        rec = {"case": case, "precision": precision, "side": side, "frames": frames,
               "long_term_gap": gap or 50, "rounds": len(rs), "source": rs[0]["source"], "code": rs[0]["code"],
               "steady_frames": rs[0]["steady_frames"], **{k: round(v, 4) for k, v in med.items()}, **cpu}
        if side == "baseline":
            ours = runs[case, precision, "ours"]
            rec["baseline_path"] = baseline
            for kind in ("early_wall_s", "steady_wall_s", "early_cpu_s", "steady_cpu_s"):
                ratios = [o[kind] / b[kind] for o, b in zip(ours, rs)]  # run for run
                rec[f"ours_over_baseline_{kind[:-2]}"] = round(statistics.median(ratios), 3)
        records.append(rec)
        print(f"{case:14} {precision:5} {side:9} {rec['early_wall_s']:8.3f} {rec['steady_wall_s']:9.3f} "
              f"{rec['steady_over_early']:8.2f} {rec['steady_over_early_cpu']:8.2f} {rec['load']:5.1f}"
              + (f"  ours/baseline early {rec['ours_over_baseline_early_wall']:.2f} steady "
                 f"{rec['ours_over_baseline_steady_wall']:.2f} (CPU {rec['ours_over_baseline_early_cpu']:.2f}, "
                 f"{rec['ours_over_baseline_steady_cpu']:.2f})" if side == "baseline" else ""))
    return {f"steady_state__{cpu_slug(cpu)}": records}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hqtrack_core.bench.steady", description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=5, metavar=("CASE", "PRECISION", "FRAMES", "GAP", "THREADS"))
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=list(PRECISIONS))
    parser.add_argument("--frames", type=int, default=330)
    parser.add_argument("--long-term-gap", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--baseline", metavar="DIR", default=None, help="another checkout to compare with")
    parser.add_argument("--no-record", action="store_true", help="do not write figures/bench.json")
    args = parser.parse_args(argv)
    if args.worker:
        case, precision, frames, gap, threads = args.worker
        print(json.dumps(worker(case, precision, int(frames), int(gap) or None, int(threads))))
        return 0
    if args.baseline is not None and not (Path(args.baseline) / "hqtrack_core").is_dir():
        parser.error(f"--baseline {args.baseline}: no hqtrack_core/ there: give the root of a checkout")
    values = run(tuple(args.cases), tuple(args.precisions), args.frames, args.long_term_gap, args.threads,
                 args.rounds, args.baseline)
    if not args.no_record:
        update_bench(values)
    print(json.dumps(values, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
