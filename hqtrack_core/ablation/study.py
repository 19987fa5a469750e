"""``ablate(row, data_root, settings)``: one ablation row end to end, as the ``hqtrack ablate`` command runs it.

Reads any DAVIS-layout folder (``ImageSets/<split>.txt``, ``JPEGImages/<res>/<seq>``, ``Annotations/<res>/<seq>``;
binary or multi-object masks, any resolution), builds the row's clips (the sequences, ping-pong long videos, or
composited multi-object clips), runs every variant and returns the JSON record (scores per variant, per sequence
and overall, latency, memory, and every setting needed to reproduce it). Rows 1-2 evaluate one trained checkpoint
per variant; without one, a variant reports its parameters and latency (random weights, timing only) and says
that its accuracy is not run.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..paths import repo_root
from .generators import LabelledClip, composite_clip, load_clip, long_clip, pingpong_video, resize_clip
from . import stats
from .rows import Row, Variant, get_row

SCALES: tuple[str, ...] = ("teach", "paper")


@dataclass(frozen=True)
class AblationSettings:
    """Everything a row run depends on (stored in the output JSON).

    ``short_edge``: network input short edge (teach: 240; paper: 480, HQTrack's test size). ``max_frames``: frames
    per clip (``None``: all). ``data_short_edge``: generated clips (ping-pong, composites) are built at this short
    edge. ``checkpoint``: the VMOS of rows 3-6 (``None``: the committed teaching model); ``variant_checkpoints``:
    rows 1-2, one per variant name.
    """

    scale: str = "teach"
    split: str | None = None
    sequences: tuple[str, ...] | None = None
    resolution: str | None = None  # None: the JPEGImages/<res> folder that holds the sequences
    model: str | None = None
    checkpoint: str | None = None
    variant_checkpoints: dict[str, str] = field(default_factory=dict)
    refiner_checkpoint: str | None = None
    refiner_model: str = "vit_tiny"
    refiner_faults: str | None = None  # e.g. "default": proposals fail at documented rates (refine.faulty)
    short_edge: int | None = None  # None: the scale's default
    precision: str = "auto"  # bf16 only where the CPU runs it natively (hqtrack_core.precision)
    memory: str = "released"
    max_frames: int | None = None
    frame_stride: int = 1
    pingpong_factor: float = 4.0
    data_short_edge: int | None = None
    composites: int = 3
    long_clips: int = 0  # memory row: this many long clips with exits and occlusions (0: ping-pong videos)
    long_length: int = 600
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"--scale must be one of {', '.join(SCALES)}, got {self.scale!r}")
        if self.frame_stride < 1:
            raise ValueError(f"frame stride must be >= 1, got {self.frame_stride}")
        if self.refiner_faults:
            from ..refine.faulty import FaultRates

            FaultRates.parse(self.refiner_faults)  # a bad rate fails before any work
        if self.long_clips < 0 or (self.long_clips and self.long_length < 100):
            raise ValueError(f"--long-clips must be >= 0 and --long-length >= 100, got {self.long_clips}, "
                             f"{self.long_length}")
        if self.max_frames is not None and self.max_frames < 3:
            raise ValueError(f"--max-frames must be >= 3 (J&F drops the first and last frames), got {self.max_frames}")

    @property
    def network_short_edge(self) -> int:
        return self.short_edge or (240 if self.scale == "teach" else 480)


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file, read once per process while the file is unchanged (a row hashes the same checkpoints for
    its records, its resume key and the baseline check)."""
    stat = os.stat(path)
    return _sha256_cached(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit() -> str | None:
    """``HEAD`` of the checkout (``+dirty`` when the package has uncommitted changes), or None outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root(), capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "hqtrack_core"], cwd=repo_root(),
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def find_resolution(root: Path, names: list[str] | None) -> str:
    """The ``JPEGImages/<res>`` folder holding all ``names`` (all sequences when ``None``); an error lists them."""
    images = root / "JPEGImages"
    if not images.is_dir():
        raise FileNotFoundError(f"not a DAVIS-layout folder: {images} is missing (expected JPEGImages/<res>/<seq>)")
    candidates = sorted(p.name for p in images.iterdir() if p.is_dir())
    fitting = [r for r in candidates if names is None or all((images / r / n).is_dir() for n in names)]
    if not fitting:
        raise FileNotFoundError(f"no JPEGImages/<res> folder under {root} holds all of {names}; "
                                f"resolutions found: {candidates}")
    if len(fitting) > 1 and names is None:
        raise ValueError(f"{root} has several resolutions {fitting}: choose one with --resolution")
    return max(fitting, key=lambda r: int("".join(c for c in r if c.isdigit()) or 0))


def load_videos(data_root: str | os.PathLike, settings: AblationSettings) -> list:
    """The DAVIS videos the settings select (split file, several joined by ``+``, and/or explicit sequence
    names)."""
    from ..data.datasets import _split_names, davis_videos

    root = Path(data_root)
    if not root.is_dir():
        raise FileNotFoundError(f"--data: not a folder: {root}")
    if settings.split and "+" in settings.split and not settings.sequences:
        # several splits (e.g. dev+train_holdout: every sequence the model never trained on), each read from the
        # resolution folder that holds it (DAVIS-2016 here: dev at 480p, train at 240p)
        return [v for part in settings.split.split("+")
                for v in load_videos(root, dataclasses.replace(settings, split=part))]
    names = list(settings.sequences) if settings.sequences else _split_names(root, settings.split, None)
    resolution = settings.resolution or find_resolution(root, names)
    videos = davis_videos(root, resolution, split=settings.split if not settings.sequences else None)
    by_name = {v.name: v for v in videos}
    if settings.sequences:
        missing = [s for s in settings.sequences if s not in by_name]
        if missing:
            raise KeyError(f"sequences {missing} not found in {root}/JPEGImages/{resolution} "
                           f"(found: {sorted(by_name)[:10]})")
        videos = [by_name[s] for s in settings.sequences]
    if not videos:
        raise ValueError(f"no sequences selected in {root}")
    return videos


def build_clips(row: Row, videos: list, settings: AblationSettings) -> list[LabelledClip]:
    """The clips a row runs on (see :attr:`Row.data`)."""
    if row.data == "davis":
        return [load_clip(v, settings.max_frames, settings.frame_stride, settings.data_short_edge) for v in videos]
    base = [load_clip(v, None, settings.frame_stride, settings.data_short_edge) for v in videos]
    if row.data == "pingpong" and settings.long_clips:
        if len(base) < 3:
            raise ValueError("long clips paste a target and occluders from other sequences: give >= 3 sequences")
        edge = min(min(c.size) for c in base)
        base = [resize_clip(c, edge) for c in base]
        n = len(base)
        return [long_clip(base[k % n], base[(k + 1) % n], [base[(k + 2) % n], base[(k + 3) % n]],
                          length=settings.long_length, seed=settings.seed + k, name=f"long{k}-{base[k % n].name}")
                for k in range(settings.long_clips)]
    if row.data == "pingpong":
        clips = [pingpong_video(c, settings.pingpong_factor) for c in base]
        if settings.max_frames is not None:
            clips = [LabelledClip(c.name, c.frames[: settings.max_frames], c.masks[: settings.max_frames],
                                  {**c.source, "max_frames": settings.max_frames}) for c in clips]
        return clips
    if row.data == "composite":
        if len(base) < 2:
            raise ValueError("the joint row composites objects of one sequence into another: give >= 2 sequences")
        base = [LabelledClip(c.name, c.frames, [(m > 0).astype(np.uint8) for m in c.masks], c.source) for c in base]
        rng = np.random.default_rng(settings.seed)
        clips = []
        for k in range(settings.composites):
            background = base[k % len(base)]
            others = [c for c in base if c.name != background.name]
            chosen = rng.choice(len(others), size=min(2, len(others)), replace=False)
            foregrounds = [others[i] for i in sorted(chosen)]
            if foregrounds[0].size != background.size:
                foregrounds = [resize_clip(f, min(background.size)) for f in foregrounds]
            clips.append(composite_clip(background, foregrounds, seed=settings.seed + k, length=settings.max_frames,
                                        name=f"composite{k}"))
        return clips
    raise ValueError(f"row {row.name!r}: unknown data kind {row.data!r}")


def clips_selection(clips: list[LabelledClip], names: Sequence[str] | None) -> list[LabelledClip] | None:
    """The clips named ``names`` (``None``: no selection); an unknown name is an error listing the clips."""
    if names is None:
        return None
    by_name = {c.name: c for c in clips}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise KeyError(f"no clip {missing[0]!r}; clips: {sorted(by_name)}")
    return [by_name[n] for n in names]


def _parameters(net) -> int:
    return int(sum(p.numel() for p in net.parameters()))


def _measure_latency(tracker, clip: LabelledClip, precision, frames: int = 6) -> dict:
    from .runner import _summary, track_joint

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
    return AblationSettings(**values)


@dataclass
class Prepared:
    """A row ready to run in this process: the row (its selected variants), the settings completed with the
    committed checkpoints, the clips (built exactly as for the full row, then selected/cut), the precision, and
    the :class:`~hqtrack_core.ablation.runner.RowContext` whose factories load each network once
    (``checkpoints``: what was loaded, filled as the networks are)."""

    row: Row
    settings: AblationSettings
    clips: list
    precision: object
    ctx: object
    checkpoints: dict
    nets: dict
    device: object = None


def prepare(row_name: str, data_root: str | os.PathLike, settings: AblationSettings,
            variants: Sequence[str] | None = None, clip_names: Sequence[str] | None = None,
            truncate: int | None = None) -> Prepared:
    """Check the request, load the data and build the clips and the network factories (no tracking yet)."""
    import torch

    from ..hub import ablation_checkpoint, is_default_model, load_vmos_model, resolve_device
    from ..inference.engine import ResizePolicy, VMOSTracker
    from ..inference.memory import memory_policy
    from ..precision import resolve_precision
    from ..refine import build_refiner
    from .runner import RowContext

    row = get_row(row_name, settings.scale)
    unknown = sorted(set(settings.variant_checkpoints) - {v.name for v in row.variants})
    if unknown:
        raise KeyError(f"--checkpoint {unknown[0]}=...: row {row.name!r} has no variant {unknown[0]!r} "
                       f"(variants: {[v.name for v in row.variants]})")
    if row.trained and settings.checkpoint:
        raise ValueError(f"row {row.name!r} compares trained variants: give --checkpoint VARIANT=PATH per variant")
    memory_policy(settings.memory)  # unknown names fail before any work
    if row.trained:  # committed checkpoints: the teaching model is the `hqtrack_teach` variant, the other
        # variants trained with its recipe live in data/checkpoints/ablation/
        committed = {v.name: ablation_checkpoint(v.model) for v in row.variants}
        defaults = {name: str(path) for name, path in committed.items() if path.is_file()}
        settings = dataclasses.replace(settings, variant_checkpoints={**defaults, **settings.variant_checkpoints})
    precision = resolve_precision(settings.precision, settings.device)
    device = resolve_device(settings.device)
    resize = ResizePolicy(min_short_edge=settings.network_short_edge, max_short_edge=settings.network_short_edge)
    videos = load_videos(data_root, settings)
    clips = build_clips(row, videos, settings)
    clips = clips_selection(clips, clip_names) or clips
    if truncate is not None:
        clips = [LabelledClip(c.name, c.frames[:truncate], c.masks[:truncate], {**c.source, "truncate": truncate})
                 for c in clips]
    if variants is not None:
        row = dataclasses.replace(row, variants=tuple(row.variant(v) for v in variants))

    nets: dict[str, torch.nn.Module] = {}
    checkpoints: dict[str, dict] = {}

    def net_for(variant: Variant):
        key = variant.name if row.trained else "vmos"
        if key not in nets:
            with torch.random.fork_rng():  # random weights (checkpoint "none") are the same in every process
                torch.manual_seed(settings.seed)
                nets[key], checkpoints[key] = load(variant)
        return nets[key]

    def load(variant: Variant):
        if row.trained:
            path = settings.variant_checkpoints.get(variant.name)
            net, description = load_vmos_model(variant.model, path if path else "none")
        else:
            path = settings.checkpoint
            if path is None and is_default_model(settings.model):
                baseline = ablation_checkpoint(settings.model)  # the teaching model the study runs (v2)
                path = str(baseline) if baseline.is_file() else None
            net, description = load_vmos_model(settings.model, path)
        path = None if path is None or str(path).lower() == "none" else str(path)
        return net.eval(), {"description": description, "path": path,
                            "sha256": sha256_file(path) if path else None, "parameters": _parameters(net)}

    def make_tracker(variant: Variant):
        policy = memory_policy(settings.memory, **variant.memory_overrides())
        return VMOSTracker(net_for(variant), policy=policy, device=device, resize=resize)

    def make_refiner(variant: Variant):
        ckpt = settings.refiner_checkpoint if variant.refiner in ("sam", "hqsam") else None
        refiner = build_refiner(variant.refiner, checkpoint=ckpt, model_type=settings.refiner_model, device=device,
                                threshold=variant.threshold)
        if refiner is not None and settings.refiner_faults:
            from ..refine.faulty import FaultRates, FaultyRefiner

            refiner = FaultyRefiner(refiner, FaultRates.parse(settings.refiner_faults), seed=settings.seed)
        return refiner

    def skip(variant: Variant) -> str | None:
        if variant.needs == "refiner weights" and not settings.refiner_checkpoint:
            return "not run: needs weights (--refiner-checkpoint sam_hq_vit_*.pth)"
        if row.trained and variant.name not in settings.variant_checkpoints:
            how = (f"hqtrack train --config {variant.train_preset.replace('stage2', 'stage1')} then "
                   f"{variant.train_preset}" if variant.train_preset else "the official checkpoint (download)")
            return f"not run: needs a trained checkpoint ({how}; then --checkpoint {variant.name}=PATH)"
        return None

    ctx = RowContext(make_tracker, make_refiner, skip, precision, settings.max_frames)
    return Prepared(row, settings, clips, precision, ctx, checkpoints, nets, device)


def ablate(row_name: str, data_root: str | os.PathLike, settings: AblationSettings,
           log: Callable[[str], None] = print, variants: Sequence[str] | None = None,
           clip_names: Sequence[str] | None = None, truncate: int | None = None,
           run: "RunOptions | None" = None) -> dict | None:
    """Run one row and return its JSON record (see the module docstring).

    ``variants`` / ``clip_names`` / ``truncate`` select a slice (some variants, some clips, their first frames), e.g. a
    notebook's live check of a committed row: the clips are built exactly as for the full row, then cut.
    ``run`` (:class:`~hqtrack_core.ablation.shards.RunOptions`): worker processes, threads, the folder of
    per-sequence results a killed run resumes from, progress bar, rank/world size; one process by default. Under
    ``torchrun`` a rank other than 0 computes its share and returns ``None`` (rank 0 merges)."""
    import torch

    from ..inference.memory import memory_policy
    from ..model.vmos import build_vmos
    from .shards import RunOptions, run_sequences

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
    records, checkpoints, threads = merged["records"], merged["checkpoints"], merged["threads"]
    nets = prep.nets
    if row.trained:  # what can be measured without training: size and speed of every variant
        for record, variant in zip(records, row.variants):
            if variant.name not in settings.variant_checkpoints:
                net = build_vmos(variant.model)
                nets[variant.name] = net.eval()
                checkpoints[variant.name] = {"description": f"{variant.model} (random weights: timing only)",
                                             "path": None, "sha256": None, "parameters": _parameters(net)}
                record.update(_measure_latency(prep.ctx.make_tracker(variant), clips[0], precision))
                record["timing_note"] = "random weights, first 6 frames of the first clip (frame 1 = warm-up)"
            record["parameters"] = checkpoints[variant.name]["parameters"]
    result = {
        "row": row.name, "number": row.number, "claim": row.claim, "paper": row.paper, "paper_note": row.paper_note,
        "expected_best": row.expected_best, "compare": list(row.compare), "scale": settings.scale,
        "variants": records,
        "clips": [{"name": c.name, "frames": len(c), "size": list(c.size), "objects": c.object_ids(),
                   "source": c.source} for c in clips],
        "settings": {
            **{k: v for k, v in dataclasses.asdict(settings).items() if k != "variant_checkpoints"},
            "data_root": str(Path(data_root)), "network_short_edge": settings.network_short_edge,
            "precision_resolved": precision.describe(), "memory_policy": dataclasses.asdict(memory_policy(settings.memory)),
            "checkpoints": checkpoints, "commit": git_commit(), "torch": torch.__version__,
            "torch_threads": threads, "workers": run.workers, "world_size": run.world_size,
            "device": str(prep.device),
        },
        "compute_seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu_start + merged["worker_cpu_seconds"],
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return stats.apply(result)


def _baseline_checkpoint_record(record: dict) -> dict:
    """A checkpoint record whose sha256 is the study's baseline (``hqtrack_teach_v2``) but whose recorded path or
    description names another file (rows committed before the study named its baseline): the name corrected."""
    from ..hub import ablation_baseline_checkpoint

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
    from ..atomic import write_bytes_atomic

    path = Path(out_dir) / f"{result['row']}.json"
    return write_bytes_atomic(path, (json.dumps(result, indent=1, default=_json_default) + "\n").encode())


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


__all__ = ["SCALES", "AblationSettings", "Prepared", "prepare", "ablate", "rescore", "write_row", "build_clips", "load_videos",
           "find_resolution", "sha256_file", "git_commit"]
