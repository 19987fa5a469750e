"""``ablate(row, data_root, settings)``: one ablation row end to end, as the ``hqtrack ablate`` command runs it.

Reads any DAVIS-layout folder (``ImageSets/<split>.txt``, ``JPEGImages/<res>/<seq>``, ``Annotations/<res>/<seq>``;
binary or multi-object masks, any resolution), builds the row's clips (the sequences, ping-pong long videos, or
composited multi-object clips), runs every variant and returns the JSON record (scores per variant, per sequence
and overall, latency, memory, and every setting needed to reproduce it). Rows 1-2 evaluate one trained checkpoint
per variant; without one, a variant reports its parameters and latency (random weights, timing only) and says
that its accuracy is not run.

The pieces: the settings (:mod:`.settings`), the data and clips (:mod:`.dataset`), the checked request with its
tracker factories (:mod:`.prepare`), the sequence-by-sequence runner (:mod:`.shards`), hashes and commit
(:mod:`.provenance`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import torch

from ..atomic import write_json_atomic
from ..api.checkpoints import ablation_baseline_checkpoint
from ..inference.memory import memory_policy
from ..model.build import vmos_from_preset
from ..paths import repo_root
from . import stats
from .generators import LabelledClip
from .official import refiner_records
from .prepare import Prepared, parameter_count, prepare
from .provenance import git_commit, json_default, sha256_file
from .rows import get_row
from .runner import _summary, track_joint
from .settings import AblationSettings
from .shards import RunOptions, run_sequences


def _measure_latency(tracker, clip: LabelledClip, precision, frames: int = 6) -> dict:
    run, _ = track_joint(tracker, clip, precision, None, max_frames=frames)
    run.vmos_seconds, run.refine_seconds = run.vmos_seconds[1:], run.refine_seconds[1:]  # the first is warm-up
    run.cpu_seconds = run.cpu_seconds[1:]
    out = _summary([run])
    return {k: out[k] for k in ("latency_s_per_frame", "vmos_cpu_s_per_frame", "memory_state_peak_mb",
                                "process_peak_rss_mb")}


def settings_from_json(data: dict) -> AblationSettings:
    """The :class:`AblationSettings` stored in a row's JSON (``result["settings"]``)."""
    names = {f.name for f in dataclasses.fields(AblationSettings)}
    values = {k: v for k, v in data.items() if k in names}
    if values.get("sequences") is not None:
        values["sequences"] = tuple(values["sequences"])
    if values.get("long_clips") and "long_scale" not in values:
        values["long_scale"] = (0.35, 0.5)  # rows written before the setting existed used the first generator's
    if "long_scale" in values:
        values["long_scale"] = tuple(values["long_scale"])
    return AblationSettings(**values)


def ablate(row_name: str, data_root: str | os.PathLike, settings: AblationSettings,
           log: Callable[[str], None] = print, variants: Sequence[str] | None = None,
           clip_names: Sequence[str] | None = None, truncate: int | None = None,
           run: RunOptions | None = None) -> dict | None:
    """Run one row and return its JSON record (see the module docstring).

    ``variants`` / ``clip_names`` / ``truncate`` select a slice (some variants, some clips, their first frames), e.g. a
    notebook's live check of a committed row: the clips are built exactly as for the full row, then cut.
    ``run`` (:class:`~hqtrack_core.ablation.shards.RunOptions`): worker processes, threads, the folder of
    per-sequence results a killed run resumes from, progress bar, rank/world size; one process by default. Under
    ``torchrun`` a rank other than 0 computes its share and returns ``None`` (rank 0 merges)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    run = run or RunOptions()
    spec = {"row_name": row_name, "data_root": str(data_root), "settings": settings,
            "variants": list(variants) if variants is not None else None,
            "clip_names": list(clip_names) if clip_names is not None else None, "truncate": truncate}
    prep = prepare(row_name, data_root, settings, variants, clip_names, truncate)
    row, settings, clips, precision = prep.row, prep.settings, prep.clips, prep.precision
    log(f"ablate {row.name}: {len(clips)} clips, {sum(len(c) for c in clips)} frames, precision "
        f"{precision.describe()}, network short edge {settings.network_short_edge}"
        + (f", {run.workers} workers x {run.threads or 1} threads" if run.workers > 1 else ""))
    merged = run_sequences(prep, spec, run, log)
    if merged is None:  # torchrun rank > 0: its sequences are written, rank 0 merges
        return None
    records, checkpoints = merged["records"], merged["checkpoints"]
    checkpoints.update(refiner_records(row, settings))  # the (HQ-)SAM weights, by sha256
    if row.trained:
        _size_and_speed(prep, records, checkpoints)
    result = {
        "row": row.name, "number": row.number, "claim": row.claim, "paper": row.paper, "paper_note": row.paper_note,
        "expected_best": row.expected_best, "compare": list(row.compare), "scale": settings.scale,
        "variants": records,
        "clips": [{"name": c.name, "frames": len(c), "size": list(c.size), "objects": c.object_ids(),
                   "source": c.source} for c in clips],
        "settings": _settings_record(prep, data_root, checkpoints, merged["threads"], run),
        "compute_seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu_start + merged["worker_cpu_seconds"],
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return stats.apply(result)


def _size_and_speed(prep: Prepared, records: list[dict], checkpoints: dict) -> None:
    """A trained row: what can be measured without training, size and speed of every variant (a variant without
    its checkpoint is timed with random weights)."""
    for record, variant in zip(records, prep.row.variants):
        if variant.name not in prep.settings.variant_checkpoints:
            net = vmos_from_preset(variant.model)
            prep.nets[variant.name] = net.eval()
            checkpoints[variant.name] = {"description": f"{variant.model} (random weights: timing only)",
                                         "path": None, "sha256": None, "parameters": parameter_count(net)}
            record.update(_measure_latency(prep.ctx.make_tracker(variant), prep.clips[0], prep.precision))
            record["timing_note"] = "random weights, first 6 frames of the first clip (frame 1 = warm-up)"
        record["parameters"] = checkpoints[variant.name]["parameters"]


def _settings_record(prep: Prepared, data_root, checkpoints: dict, threads: int, run: RunOptions) -> dict:
    """The ``settings`` of a row's JSON: every setting needed to reproduce it."""
    settings = prep.settings
    return {
        **{k: v for k, v in dataclasses.asdict(settings).items() if k != "variant_checkpoints"},
        "data_root": str(Path(data_root)), "network_short_edge": settings.network_short_edge,
        "precision_resolved": prep.precision.describe(),
        "memory_policy": dataclasses.asdict(memory_policy(settings.memory)),
        "checkpoints": checkpoints, "commit": git_commit(), "torch": torch.__version__,
        "torch_threads": threads, "workers": run.workers, "world_size": run.world_size,
        "device": str(prep.device),
    }


def _baseline_checkpoint_record(record: dict) -> dict:
    """A checkpoint record whose sha256 is the study's baseline (``hqtrack_teach_v2``) but whose recorded path or
    description names another file (rows committed before the study named its baseline): the name corrected."""
    baseline = ablation_baseline_checkpoint()
    if not record.get("sha256") or not baseline.is_file() or record["sha256"] != sha256_file(baseline):
        return record
    recorded = Path(record.get("path") or "").name
    if recorded == baseline.name:
        return record
    fixed = {**record, "path": str(baseline.relative_to(repo_root())) if baseline.is_relative_to(repo_root())
             else str(baseline)}
    if recorded and recorded in (record.get("description") or ""):
        fixed["description"] = record["description"].replace(recorded, baseline.name)
    fixed["path_note"] = (f"recorded as {record.get('path')}; its sha256 is {baseline.name}'s, the study's "
                          f"baseline (corrected by --rescore)")
    return fixed


def rescore(result: dict, seed_runs: Sequence[dict] = ()) -> dict:
    """A committed row JSON brought up to date without tracking: the row's current definition of the paper's
    choice and the compared variants (:func:`~hqtrack_core.ablation.rows.get_row`), the uncertainty and verdict
    (:func:`hqtrack_core.ablation.stats.apply`), the checkpoint records named after their sha256, and the retired
    point-estimate "same direction" fields dropped (a best picked inside the noise). ``seed_runs``: the same row
    run with checkpoints trained under other seeds (:func:`~hqtrack_core.ablation.stats.attach_seed_runs`)."""
    row = get_row(result["row"], result.get("scale", "teach"))
    out = {k: v for k, v in result.items() if k not in ("same_direction_Q", "same_direction_JF")}
    out.update({"expected_best": row.expected_best, "compare": list(row.compare), "paper": row.paper,
                "paper_note": row.paper_note, "claim": row.claim})
    settings = dict(out["settings"])
    settings["checkpoints"] = {k: _baseline_checkpoint_record(v) for k, v in settings["checkpoints"].items()}
    out["settings"] = settings
    out = stats.apply(stats.attach_seed_runs(out, seed_runs) if seed_runs else out)
    out["rescored"] = {"commit": git_commit(),
                       "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    return out


def write_row(result: dict, out_dir: str | os.PathLike) -> Path:
    """Write ``OUT_DIR/<row>.json`` atomically."""
    path = Path(out_dir) / f"{result['row']}.json"
    return write_json_atomic(path, result, indent=1, default=json_default)


__all__ = ["AblationSettings", "ablate", "rescore", "write_row", "settings_from_json"]
