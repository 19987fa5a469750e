"""Run the variants of an ablation row on labelled clips and score them (DAVIS J&F and the VOTS measures).

Per clip and variant, the tracker starts from the first frame's ground truth (semi-supervised protocol) and runs
the variant's setting: a memory policy, a refiner with its IoU selector, joint or separate tracking, or another
network. The same label maps are scored twice: with the package's DAVIS evaluator
(:mod:`hqtrack_core.evaluation.davis`, first and last frames dropped) and, written as a VOTS workspace
(:func:`~hqtrack_core.data.vots.write_vots_from_labels`), with its VOTS evaluator
(:func:`~hqtrack_core.evaluation.vots.evaluate_vots`). Latency is the median wall time per propagated frame;
memory is the peak of the tracker's memory state (bytes of the stored keys/values) and the process's peak RSS.

With the released memory policy (``write="raw"``) refined masks never enter VMOS memory, so every refiner and
threshold variant of a clip shares one VMOS pass: the refiner runs once per frame and each threshold re-selects
its proposals (:meth:`~hqtrack_core.refine.base.RefineResult.reselect`), which is exactly what separate runs
would give. With ``write="refined"`` each (refiner, threshold) pair gets its own pass.
"""

from __future__ import annotations

import resource
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from ..api import track_video
from ..api.per_object import PerObjectTracker
from ..data.vots import write_vots_results, write_vots_sequence
from ..evaluation.davis import DavisScore, score_sequence
from ..evaluation.vots import VOTS_MEASURES, evaluate_vots
from ..pipeline import HQTrackPipeline
from ..precision import PrecisionChoice, resolve_precision
from ..refine.base import Proposals, RefineResult, Refiner
from .generators import LabelledClip
from .rows import Row, Variant


@dataclass
class ClipRun:
    """One variant on one clip: ``labels[t]`` ``(H, W)`` for every frame (frame 0 = the ground truth prompt)."""

    labels: list[np.ndarray]
    vmos_seconds: list[float] = field(default_factory=list)  # per propagated frame (wall time)
    refine_seconds: list[float] = field(default_factory=list)
    memory_bytes: int = 0  # peak bytes of the tracker's memory state
    cpu_seconds: list[float] = field(default_factory=list)  # process CPU time per propagated frame (VMOS + refiner)


class _TimedRefiner(Refiner):
    """Delegates to a refiner and records the wall time of each ``refine`` call."""

    def __init__(self, inner: Refiner) -> None:
        super().__init__(inner.threshold, inner.overlap)
        self.inner, self.seconds = inner, []

    def propose(self, image: np.ndarray, masks: np.ndarray) -> Proposals:
        return self.inner.propose(image, masks)

    def segment_boxes(self, image: np.ndarray, boxes: np.ndarray) -> Proposals:
        return self.inner.segment_boxes(image, boxes)

    def refine(self, image, labels, object_ids=None) -> RefineResult:
        start = time.perf_counter()
        out = self.inner.refine(image, labels, object_ids)
        self.seconds.append(time.perf_counter() - start)
        return out


def _memory_bytes(tracker) -> int:
    return sum(state.nbytes() for state in tracker.memory)


def _clip_frames(clip: LabelledClip) -> list[tuple[str, np.ndarray]]:
    """``(index, frame)`` pairs: a generated clip may show a frame twice (ping-pong), so names are positions."""
    return [(str(t), image) for t, image in enumerate(clip.frames)]


def track_joint(tracker, clip: LabelledClip, precision: PrecisionChoice, refiner: Refiner | None = None,
                max_frames: int | None = None) -> tuple[ClipRun, list[RefineResult | None]]:
    """All objects of ``clip`` in one tracker (VMOS + optional refiner, :class:`~hqtrack_core.pipeline.HQTrackPipeline`,
    through :func:`~hqtrack_core.api.track_video`). Returns the raw VMOS run and the refinement of each frame
    (``None`` on frame 0 or without a refiner)."""
    if tracker.groups:  # a used tracker forgets its video (a fresh one is already reset)
        tracker.reset()
    cv2.setRNGSeed(0)  # (see refine_runs)
    timed = _TimedRefiner(refiner) if refiner is not None else None
    pipeline = HQTrackPipeline(tracker, timed, memory_write=tracker.policy.write)
    run, refinements = ClipRun([]), []
    for frame in track_video(pipeline, _clip_frames(clip), {"0": clip.masks[0]}, max_frames,
                             step_context=precision.autocast, outputs=True):
        out = frame.output
        run.labels.append(np.asarray(out.raw_labels).astype(np.uint8))
        refinements.append(out.refinement)
        if frame.index:
            refine = timed.seconds[-1] if timed is not None and out.refinement is not None else 0.0
            run.cpu_seconds.append(frame.cpu_seconds)
            run.vmos_seconds.append(frame.seconds - refine)
            run.refine_seconds.append(refine)
        run.memory_bytes = max(run.memory_bytes, _memory_bytes(tracker))
    return run, refinements


def track_separate(make_tracker: Callable[[], object], clip: LabelledClip, precision: PrecisionChoice,
                   max_frames: int | None = None) -> ClipRun:
    """One tracker per object, each given only its own object, merged as the released code merges object groups:
    ``track_video(..., per_object=True)`` (:class:`~hqtrack_core.api.per_object.PerObjectTracker`)."""
    run = ClipRun([])
    stepper = PerObjectTracker(make_tracker)
    for frame in track_video(stepper, _clip_frames(clip), {"0": clip.masks[0]}, max_frames,
                             step_context=precision.autocast):
        run.labels.append(frame.labels.astype(np.uint8))
        if frame.index:
            run.vmos_seconds.append(frame.seconds)
            run.cpu_seconds.append(frame.cpu_seconds)
            run.refine_seconds.append(0.0)
        run.memory_bytes = max(run.memory_bytes, _memory_bytes(stepper))
    return run


@dataclass
class PromptedRun:
    """Tracking a :class:`~hqtrack_core.data.demo.PromptedClip` (objects prompted on different frames).

    ``labels[t]`` ``(H, W) uint8``; ``known[t]``: the ids tracked at frame ``t``; ``seconds[t]``: wall time of
    the frame; ``conflicts[t]``: pixels that two or more objects claim before the merge (separate tracking: each
    tracker's own foreground; joint tracking is one soft-max over all ids, so always 0)."""

    mode: str
    labels: list[np.ndarray] = field(default_factory=list)
    known: list[list[int]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    conflicts: list[int] = field(default_factory=list)


def track_prompted(make_tracker: Callable[[], object], frames: Sequence[np.ndarray], prompts: dict[int, np.ndarray],
                   mode: str = "joint", precision: PrecisionChoice | None = None) -> PromptedRun:
    """Track ``frames`` whose objects are prompted at the frames of ``prompts`` (each label map holds the ids that
    frame adds), ``"joint"``: one tracker for all objects (a prompt adds its ids to it); ``"separate"``: one new
    tracker per object from its prompt frame on, given only that object, merged as :func:`track_separate` merges.
    Frame 0 must carry a prompt."""
    if mode not in ("joint", "separate"):
        raise ValueError(f"mode must be 'joint' or 'separate', got {mode!r}")
    if 0 not in prompts:
        raise ValueError(f"the first frame needs a prompt; prompts are given at frames {sorted(prompts)}")
    precision = precision or resolve_precision("fp32")
    run = PromptedRun(mode)
    stepper = make_tracker() if mode == "joint" else PerObjectTracker(make_tracker)
    named = {str(t): prompt for t, prompt in prompts.items()}
    for frame in track_video(stepper, [(str(t), image) for t, image in enumerate(frames)], named,
                             step_context=precision.autocast):
        run.seconds.append(frame.seconds)
        run.labels.append(frame.labels.astype(np.uint8))
        run.known.append(sorted(stepper.object_ids))
        run.conflicts.append(stepper.conflicts if mode == "separate" else 0)
    return run


def refine_runs(refiner: Refiner, clips: Sequence[LabelledClip], runs: Sequence[ClipRun]
                ) -> tuple[list[list[RefineResult]], list[list[float]]]:
    """Refine the raw VMOS masks of every propagated frame (exact for ``write="raw"``: the memory never sees the
    refined masks). Returns the refinements and the seconds per frame, per clip."""
    results, seconds = [], []
    for clip, run in zip(clips, runs):
        cv2.setRNGSeed(0)  # GrabCut draws from OpenCV's global RNG: each clip's refinement independent of history
        ids = [int(i) for i in np.unique(clip.masks[0]) if i != 0]
        clip_results, clip_seconds = [], []
        for t in range(1, len(run.labels)):  # refines stored VMOS masks (no tracker runs): not a video loop
            start = time.perf_counter()
            clip_results.append(refiner.refine(clip.frames[t], run.labels[t], ids))
            clip_seconds.append(time.perf_counter() - start)  # (process CPU time of the refiner: not separated)
        results.append(clip_results)
        seconds.append(clip_seconds)
    return results, seconds


def score_runs(clips: Sequence[LabelledClip], labels: dict[str, list[np.ndarray]], workspace: Path,
               variant: str) -> dict:
    """DAVIS J, F, J&F and VOTS Q, A, R of one variant, per clip and overall.

    ``workspace`` holds the VOTS sequences (written once per clip) and ``results/<variant>/``."""
    davis = DavisScore()
    names = []
    for clip in clips:
        pred = labels[clip.name]
        gt = clip.masks[: len(pred)]
        davis.sequences[clip.name] = score_sequence(clip.name, gt, pred, clip.stems[: len(pred)])
        ids = [int(i) for i in np.unique(np.stack(gt)) if i != 0]
        seq_dir = workspace / "sequences" / clip.name
        if not (seq_dir / "sequence").is_file() or len(list((seq_dir / "color").iterdir())) != len(pred):
            write_vots_sequence(workspace / "sequences", clip.name, clip.frames[: len(pred)],
                                {str(i): [g == i for g in gt] for i in ids})
        write_vots_results(workspace / "results" / variant, clip.name, {str(i): [p == i for p in pred] for i in ids})
        names.append(clip.name)
    vots = evaluate_vots(workspace / "sequences", workspace / "results" / variant, names).to_json()
    d = davis.to_json()
    per_sequence = {
        name: {"J": s["J"], "F": s["F"], "JF": s["JF"], **{k: vots["sequences"][name][k] for k in VOTS_MEASURES},
               "frames": len(labels[name]),
               # per object: what the object-weighted DAVIS global of several shards is merged from
               "objects": {str(i): {"J": float(o.J), "F": float(o.F)} for i, o in davis.sequences[name].objects.items()},
               # per evaluated frame (1 .. n-2), mean over objects: what a notebook's live slice is checked against
               "J_frames": np.mean([o.J_frames for o in davis.sequences[name].objects.values()], axis=0).tolist()}
        for name, s in d["sequences"].items()
    }
    return {"J": d["J"], "F": d["F"], "JF": d["JF"], **{k: vots[k] for k in VOTS_MEASURES}, "sequences": per_sequence}


def _timings(runs: Sequence[ClipRun]) -> dict:
    """The per-frame seconds of the runs, pooled (and the largest memory state): what :func:`summarize` turns
    into medians, and what results computed sequence by sequence (:mod:`hqtrack_core.ablation.shards`) pool
    again before summarising, so that both give the same medians."""
    return {"vmos": [s for r in runs for s in r.vmos_seconds], "refine": [s for r in runs for s in r.refine_seconds],
            "cpu": [s for r in runs for s in r.cpu_seconds], "memory_bytes": max(r.memory_bytes for r in runs)}


def summarize(timings: dict, peak_rss_mb: float | None = None) -> dict:
    """Latency and memory figures of a variant from its pooled :func:`_timings` (``peak_rss_mb``: this process's
    peak RSS by default)."""
    median = lambda v: float(np.median(v)) if v else None  # noqa: E731
    if peak_rss_mb is None:
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "latency_s_per_frame": median([a + b for a, b in zip(timings["vmos"], timings["refine"])]),
        "vmos_s_per_frame": median(timings["vmos"]), "refiner_s_per_frame": median(timings["refine"]),
        "vmos_cpu_s_per_frame": median(timings["cpu"]),
        "memory_state_peak_mb": timings["memory_bytes"] / 2**20, "process_peak_rss_mb": peak_rss_mb,
    }


def _summary(runs: Sequence[ClipRun]) -> dict:
    return summarize(_timings(runs))


@dataclass
class RowContext:
    """What a row run needs besides the row: the tracker factory per variant and the refiners.

    ``make_tracker(variant)`` returns a fresh :class:`~hqtrack_core.inference.engine.VMOSTracker` with the
    variant's network and memory policy; ``make_refiner(variant)`` the variant's refiner, or ``None``; a variant
    for which ``skip(variant)`` returns a reason is reported as not run.
    """

    make_tracker: Callable[[Variant], object]
    make_refiner: Callable[[Variant], Refiner | None]
    skip: Callable[[Variant], str | None]
    precision: PrecisionChoice
    max_frames: int | None = None


def run_row(row: Row, clips: Sequence[LabelledClip], ctx: RowContext, log: Callable[[str], None] = print,
            on_variant: Callable[[str, int], None] | None = None) -> list[dict]:
    """Every variant of ``row`` on ``clips``: a list of per-variant records (scores, latency, memory, and the
    per-frame ``timings`` they come from) in row order; variants that cannot run carry ``status: "not run: ..."``
    and no scores. ``on_variant(name, frames)`` is called after each variant that ran."""
    records: dict[str, dict] = {}
    labels: dict[str, dict[str, list[np.ndarray]]] = {}
    summaries: dict[str, dict] = {}
    timings: dict[str, dict] = {}
    vmos_runs: dict[tuple, list[ClipRun]] = {}
    refinements: dict[tuple, tuple[list[list[RefineResult]], list[list[float]]]] = {}
    with tempfile.TemporaryDirectory(prefix="hqtrack-ablate-") as tmp:
        workspace = Path(tmp)
        for variant in row.variants:
            reason = ctx.skip(variant)
            if reason:
                records[variant.name] = {"status": reason}
                log(f"{row.name}/{variant.name}: {reason}")
                if on_variant is not None:
                    on_variant(variant.name, 0)
                continue
            start = time.perf_counter()
            if not variant.joint:
                runs = [track_separate(lambda: ctx.make_tracker(variant), clip, ctx.precision, ctx.max_frames)
                        for clip in clips]
                labels[variant.name] = {c.name: r.labels for c, r in zip(clips, runs)}
                timings[variant.name] = _timings(runs)
                summaries[variant.name] = summarize(timings[variant.name])
            else:
                tracker = ctx.make_tracker(variant)
                memory_key = (variant.model, tuple(sorted(variant.memory_overrides().items())))
                if tracker.policy.write == "refined" and variant.refiner != "none":
                    # refined masks enter memory: this (refiner, threshold) needs its own pass
                    refiner = ctx.make_refiner(variant)
                    pairs = [track_joint(tracker, clip, ctx.precision, refiner, ctx.max_frames) for clip in clips]
                    runs = [p[0] for p in pairs]
                    refined = [[r.labels for r in p[1][1:]] for p in pairs]
                else:
                    if memory_key not in vmos_runs:
                        vmos_runs[memory_key] = [track_joint(tracker, clip, ctx.precision, None, ctx.max_frames)[0]
                                                 for clip in clips]
                    runs = vmos_runs[memory_key]
                    refined = None
                    if variant.refiner != "none":
                        refine_key = (memory_key, variant.refiner)
                        if refine_key not in refinements:
                            refinements[refine_key] = refine_runs(ctx.make_refiner(variant), clips, runs)
                        results, seconds = refinements[refine_key]
                        runs = [ClipRun(r.labels, r.vmos_seconds, s, r.memory_bytes, r.cpu_seconds)
                                for r, s in zip(runs, seconds)]
                        refined = [[res.reselect(variant.threshold).labels for res in clip_results]
                                   for clip_results in results]
                labels[variant.name] = {
                    c.name: r.labels if refined is None else [r.labels[0], *(m.astype(np.uint8) for m in ref)]
                    for c, r, ref in zip(clips, runs, refined or [None] * len(clips))}
                timings[variant.name] = _timings(runs)
                summaries[variant.name] = summarize(timings[variant.name])
            scores = score_runs(clips, labels[variant.name], workspace, variant.name)
            records[variant.name] = {"status": "run", **scores, **summaries[variant.name],
                                     "compute_seconds": time.perf_counter() - start,
                                     "timings": timings[variant.name]}
            log(f"{row.name}/{variant.name}: J&F {scores['JF']:.3f}  Q {scores['Q']:.3f}  "
                f"{summaries[variant.name]['latency_s_per_frame']:.3f} s/frame")
            if on_variant is not None:  # progress: this variant's frames are done
                on_variant(variant.name, sum(len(v) for v in labels[variant.name].values()))
    return [{"name": v.name, "label": v.label, "variant": v.to_dict(), **records[v.name]} for v in row.variants]


__all__ = ["ClipRun", "PromptedRun", "RowContext", "track_joint", "track_separate", "track_prompted", "score_runs",
           "run_row"]
