"""The dataset runner behind ``hqtrack ablate``: sequence by sequence, in worker processes, resumable, shardable.

The unit of work is one sequence (clip) with every variant of the row on it (variants of a clip share their VMOS
pass, :func:`~hqtrack_core.ablation.runner.run_row`). Each finished sequence is written at once, atomically
(:func:`hqtrack_core.atomic.write_bytes_atomic`), to ``SHARD_DIR/<key>/<index>_<clip>.json``; ``key`` is a hash of
everything the result depends on (row, data, settings, checkpoint contents, precision, threads), so a killed run
started again with the same command skips the sequences it finished, and a changed setting starts afresh. The row
is merged from the per-sequence files: the DAVIS global is the mean over all objects of all sequences, the VOTS
measures the means over sequences, latencies the medians of the pooled per-frame times: exactly what one process
computing all sequences at once gives (``tests/test_ablation_runner.py`` checks it).

``--workers N``: N spawned processes, one sequence at a time each, ``--threads`` torch threads each (default 1).
Under ``torchrun`` (or any launcher setting ``RANK`` and ``WORLD_SIZE``; ``LOCAL_RANK`` picks the GPU) each rank
takes the sequences ``i`` with ``i % WORLD_SIZE == RANK`` (round robin, as aot-benchmark's evaluator shards a
dataset over GPUs) and writes them to the shared ``SHARD_DIR``; rank 0 then waits for every sequence and writes the
row. No process group is needed: the ranks meet in the folder (it must be shared between the nodes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from tqdm import tqdm

from ..atomic import write_json_atomic
from ..api.checkpoints import ablation_checkpoint, is_default_model
from ..evaluation.vots import VOTS_MEASURES
from .prepare import prepare
from .provenance import json_default, sha256_file
from .runner import run_row, summarize


@dataclass(frozen=True)
class RunOptions:
    """How a row is run (not what it computes; the results do not depend on these).

    ``workers``: processes, one sequence at a time each (1: this process). ``threads``: torch threads per worker
    (``None``: 1 in worker processes; this process's setting when ``workers == 1``). ``shard_dir``: where the
    per-sequence results go (``None``: a temporary folder, nothing to resume from). ``progress``: a tqdm bar on
    stderr. ``rank``/``world_size``: this process's share of the sequences (:func:`dist_env`). ``wait_seconds``:
    how long rank 0 waits for the other ranks' sequences."""

    workers: int = 1
    threads: int | None = None
    shard_dir: Path | None = None
    progress: bool = False
    rank: int = 0
    world_size: int = 1
    wait_seconds: float = 24 * 3600.0

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {self.workers}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {self.threads}")
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is outside world size {self.world_size} (RANK / WORLD_SIZE)")
        if self.world_size > 1 and self.shard_dir is None:
            raise ValueError("several ranks need a shared folder for their per-sequence results (shard_dir)")


def dist_env(environ: Mapping[str, str] | None = None) -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from a launcher's environment (``torchrun`` sets ``RANK``,
    ``WORLD_SIZE``, ``LOCAL_RANK``); ``(0, 1, 0)`` without one."""
    env = os.environ if environ is None else environ
    try:
        rank, world = int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1))
        local = int(env.get("LOCAL_RANK", rank))
    except ValueError as err:
        raise ValueError(f"RANK / WORLD_SIZE / LOCAL_RANK must be integers: {err}") from None
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK={rank} is outside WORLD_SIZE={world}")
    return rank, world, local


def shard_indices(count: int, rank: int, world_size: int) -> list[int]:
    """The sequences ``i`` of ``range(count)`` that rank ``rank`` of ``world_size`` runs: ``i % world_size == rank``
    (every sequence exactly once over the ranks; the ranks' shares differ by at most one)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside world size {world_size}")
    return list(range(rank, count, world_size))


def run_key(spec: dict, prep, threads: int) -> str:
    """A hash of everything a sequence's result depends on: the request (row, data root, settings, slice), the
    contents of every checkpoint it names, the resolved precision and the torch threads per process."""
    settings = dataclasses.asdict(prep.settings)
    files = [settings.get("checkpoint"), settings.get("refiner_checkpoint"), *settings["variant_checkpoints"].values()]
    if settings.get("checkpoint") is None and not prep.row.trained:
        if is_default_model(settings.get("model")):
            files.append(str(ablation_checkpoint(settings.get("model"))))
    hashes = {str(f): sha256_file(f) for f in files if f and str(f).lower() != "none" and Path(f).is_file()}
    payload = {"row": spec["row_name"], "data_root": str(Path(spec["data_root"]).resolve()), "settings": settings,
               "variants": spec["variants"], "clips": spec["clip_names"], "truncate": spec["truncate"],
               "files": hashes, "precision": prep.precision.name, "threads": threads, "format": 1}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def shard_path(folder: Path, key: str, index: int, clip: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", clip)
    return Path(folder) / key / f"{index:05d}_{safe}.json"


def run_clip(prep, index: int, path: Path, key: str, on_variant: Callable[[str, int], None] | None = None,
             log: Callable[[str], None] = lambda m: None) -> dict:
    """Every variant of ``prep.row`` on clip ``index``; the result is written atomically to ``path`` and returned."""
    clip = prep.clips[index]
    cpu = time.process_time()
    records = run_row(prep.row, [clip], prep.ctx, log, on_variant=on_variant)
    shard = {"format": 1, "key": key, "index": index, "clip": clip.name, "records": records,
             "checkpoints": dict(prep.checkpoints), "threads": torch.get_num_threads(),
             "precision": prep.precision.name, "cpu_seconds": time.process_time() - cpu, "pid": os.getpid()}
    write_json_atomic(path, shard, indent=None, default=json_default)
    return shard


def read_shard(path: Path, key: str) -> dict | None:
    """A finished sequence's result, or ``None`` when it is absent or was computed under another key."""
    try:
        shard = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return shard if shard.get("key") == key else None


# --- worker processes -------------------------------------------------------------------------------------------
_QUEUE = None
_PREPARED: dict[str, object] = {}


def _worker_init(threads: int, queue) -> None:
    global _QUEUE
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    _QUEUE = queue


def _worker_task(spec: dict, key: str, index: int, path: str) -> int:
    if key not in _PREPARED:  # one data load per worker process and run
        _PREPARED.clear()
        _PREPARED[key] = prepare(spec["row_name"], spec["data_root"], spec["settings"], spec["variants"],
                                 spec["clip_names"], spec["truncate"])
    prep = _PREPARED[key]
    name = prep.clips[index].name
    run_clip(prep, index, Path(path), key, on_variant=lambda v, frames: _QUEUE.put(("variant", name, v, frames)))
    _QUEUE.put(("clip", name, None, 0))
    return index


class _Progress:
    """tqdm over (sequence, variant) pairs: sequences done, frames/s."""

    def __init__(self, enabled: bool, row: str, sequences: int, variants: int, skipped: int) -> None:
        self.bar = None
        self.sequences, self.done, self.frames, self.start = sequences, skipped, 0, time.perf_counter()
        if enabled:
            self.bar = tqdm(total=sequences * variants, initial=skipped * variants, unit="variant",
                            desc=f"ablate {row}", dynamic_ncols=True)
            self._postfix()

    def _postfix(self) -> None:
        if self.bar is not None:
            rate = self.frames / max(time.perf_counter() - self.start, 1e-9)
            self.bar.set_postfix_str(f"sequences {self.done}/{self.sequences}, {rate:.1f} frames/s")

    def event(self, kind: str, frames: int = 0) -> None:
        if kind == "variant":
            self.frames += frames
            if self.bar is not None:
                self.bar.update(1)
        else:
            self.done += 1
        self._postfix()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@contextmanager
def _threads(n: int | None):
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _compute(prep, spec: dict, key: str, todo: list[tuple[int, Path]], opts: RunOptions, threads: int,
             progress: _Progress, log: Callable[[str], None]) -> set[int]:
    """Run the sequences ``todo`` (in this process or in ``opts.workers`` spawned ones); returns those computed
    in this process."""
    if opts.workers == 1:
        for index, path in todo:
            run_clip(prep, index, path, key, on_variant=lambda v, f: progress.event("variant", f))
            progress.event("clip")
        return {i for i, _ in todo}
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    pool = ProcessPoolExecutor(max_workers=min(opts.workers, len(todo)), mp_context=ctx,
                               initializer=_worker_init, initargs=(threads, queue))
    try:
        pending = {pool.submit(_worker_task, spec, key, index, str(path)) for index, path in todo}
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            while True:
                try:
                    kind, _clip, _variant, frames = queue.get_nowait()
                except Empty:
                    break
                progress.event(kind, frames)
            for future in done:
                future.result()  # a worker's error stops the run (finished sequences stay on disk)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return set()


def merge(row, shards: Sequence[dict]) -> list[dict]:
    """The row's per-variant records from per-sequence results (in clip order): what
    :func:`~hqtrack_core.ablation.runner.run_row` returns for all the clips at once (without ``timings``)."""
    out = []
    for k, variant in enumerate(row.variants):
        parts = [s["records"][k] for s in shards]
        assert all(p["name"] == variant.name for p in parts), "per-sequence results of another row"
        first = parts[0]
        base = {"name": first["name"], "label": first["label"], "variant": first["variant"], "status": first["status"]}
        if first["status"] != "run":
            out.append(base)
            continue
        sequences = {name: seq for p in parts for name, seq in p["sequences"].items()}
        objects = [o for seq in sequences.values() for o in seq["objects"].values()]
        J = float(np.mean([o["J"] for o in objects]))
        F = float(np.mean([o["F"] for o in objects]))
        seqs = list(sequences.values())
        safe = lambda key: (lambda kept: sum(kept) / len(kept) if kept else None)(  # noqa: E731
            [s[key] for s in seqs if s.get(key) is not None])  # shards written before NRE/DRE/ADQ lack them
        pooled = {key: [x for p in parts for x in p["timings"][key]] for key in ("vmos", "refine", "cpu")}
        pooled["memory_bytes"] = max(p["timings"]["memory_bytes"] for p in parts)
        out.append({**base, "J": J, "F": F, "JF": (J + F) / 2, "Q": sum(s["Q"] for s in seqs) / len(seqs),
                    **{key: safe(key) for key in VOTS_MEASURES[1:]}, "sequences": sequences,
                    **summarize(pooled, max(p["process_peak_rss_mb"] for p in parts)),
                    "compute_seconds": sum(p["compute_seconds"] for p in parts)})
    return out


def run_sequences(prep, spec: dict, opts: RunOptions, log: Callable[[str], None] = print) -> dict | None:
    """Every sequence of ``prep`` (this rank's share), resumed from ``opts.shard_dir``; on rank 0 the merged row:
    ``{"records", "checkpoints", "threads", "worker_cpu_seconds"}`` (``None`` on other ranks)."""
    threads = opts.threads or (1 if opts.workers > 1 else torch.get_num_threads())
    with tempfile.TemporaryDirectory(prefix="hqtrack-ablate-shards-") as tmp:
        folder = Path(opts.shard_dir) if opts.shard_dir is not None else Path(tmp)
        key = run_key(spec, prep, threads)
        paths = [shard_path(folder, key, i, c.name) for i, c in enumerate(prep.clips)]
        mine = shard_indices(len(paths), opts.rank, opts.world_size)
        finished = {i for i in mine if read_shard(paths[i], key) is not None}
        if finished:
            log(f"resuming: {len(finished)} of {len(mine)} sequences already done in {folder / key}")
        todo = [(i, paths[i]) for i in mine if i not in finished]
        progress = _Progress(opts.progress, prep.row.name, len(mine), len(prep.row.variants), len(finished))
        try:
            with _threads(threads if (opts.threads or opts.workers == 1) else None):
                local = _compute(prep, spec, key, todo, opts, threads, progress, log)
        finally:
            progress.close()
        if opts.rank != 0:
            return None
        deadline = time.monotonic() + opts.wait_seconds
        while True:  # rank 0: the other ranks' sequences
            shards = [read_shard(p, key) for p in paths]
            missing = [prep.clips[i].name for i, s in enumerate(shards) if s is None]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"sequences {missing} never arrived in {folder / key} (other ranks still running "
                                   f"or failed); run the same command again to finish them")
            time.sleep(2.0)
        checkpoints: dict = {}
        for s in shards:
            checkpoints.update(s["checkpoints"])
        prep.checkpoints.update(checkpoints)
        return {"records": merge(prep.row, shards), "checkpoints": dict(prep.checkpoints),
                "threads": shards[0]["threads"],
                "worker_cpu_seconds": sum(s["cpu_seconds"] for s in shards if s["index"] not in local),
                "shard_folder": str(folder / key)}


def discard(shard_folder: str | os.PathLike) -> None:
    """Remove a finished row's per-sequence results (after the row JSON is written)."""
    shutil.rmtree(shard_folder, ignore_errors=True)


__all__ = ["RunOptions", "dist_env", "shard_indices", "run_key", "shard_path", "run_clip", "read_shard", "merge",
           "run_sequences", "discard"]
