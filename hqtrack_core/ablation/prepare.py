"""A row ready to run in this process (:func:`prepare`): the request checked, the clips built, and the factories of
the trackers and refiners its variants run (each network loaded once)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Sequence

import torch

from ..api.build import build_vmos, resolve_device
from ..api.checkpoints import ablation_checkpoint, is_default_model
from ..inference.engine import VMOSTracker
from ..inference.memory import memory_policy
from ..inference.preprocess import ResizePolicy
from ..precision import resolve_precision
from ..refine import build_refiner
from ..refine.faulty import FaultRates, FaultyRefiner
from .dataset import build_clips, clips_selection, load_videos
from .generators import LabelledClip
from .official import check_named_checkpoints, complete_paper_settings, official_source, refiner_checkpoint_for
from .provenance import sha256_file
from .rows import Row, Variant, get_row
from .runner import RowContext
from .settings import AblationSettings


def parameter_count(net) -> int:
    return int(sum(p.numel() for p in net.parameters()))


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


@dataclass
class _Factories:
    """The trackers, refiners and skip reasons of a row's variants; ``nets`` / ``checkpoints``: the networks loaded
    so far (one per variant for a trained row, one for the row otherwise) and what each was loaded from."""

    row: Row
    settings: AblationSettings
    device: torch.device
    resize: ResizePolicy
    nets: dict = dataclasses.field(default_factory=dict)
    checkpoints: dict = dataclasses.field(default_factory=dict)

    def net_for(self, variant: Variant):
        key = variant.name if self.row.trained else "vmos"
        if key not in self.nets:
            with torch.random.fork_rng():  # random weights (checkpoint "none") are the same in every process
                torch.manual_seed(self.settings.seed)
                self.nets[key], self.checkpoints[key] = self.load(variant)
        return self.nets[key]

    def load(self, variant: Variant):
        settings = self.settings
        if self.row.trained:
            path = settings.variant_checkpoints.get(variant.name)
            net, description = build_vmos(model=variant.model, checkpoint=path if path else "none")
        else:
            path = settings.checkpoint
            if path is None and is_default_model(settings.model):
                baseline = ablation_checkpoint(settings.model)  # the teaching model the study runs (v2)
                path = str(baseline) if baseline.is_file() else None
            net, description = build_vmos(model=settings.model, checkpoint=path)
        path = None if path is None or str(path).lower() == "none" else str(path)
        return net.eval(), {"description": description, "path": path,
                            "sha256": sha256_file(path) if path else None, "parameters": parameter_count(net)}

    def make_tracker(self, variant: Variant):
        policy = memory_policy(self.settings.memory, **variant.memory_overrides())
        return VMOSTracker(self.net_for(variant), policy=policy, device=self.device, resize=self.resize)

    def make_refiner(self, variant: Variant):
        settings = self.settings
        ckpt = refiner_checkpoint_for(variant, settings)
        ckpt = None if ckpt is not None and ckpt.lower() == "none" else ckpt  # "none": random weights (mechanics)
        refiner = build_refiner(variant.refiner, checkpoint=ckpt, model_type=settings.refiner_model, device=self.device,
                                threshold=variant.threshold)
        if refiner is not None and settings.refiner_faults:
            refiner = FaultyRefiner(refiner, FaultRates.parse(settings.refiner_faults), seed=settings.seed)
        return refiner

    def skip(self, variant: Variant) -> str | None:
        if variant.needs == "refiner weights" and not refiner_checkpoint_for(variant, self.settings):
            return "not run: needs weights (--refiner-checkpoint sam_hq_vit_*.pth)"
        if self.row.trained and variant.name not in self.settings.variant_checkpoints:
            how = (f"hqtrack train --config {variant.train_preset.replace('stage2', 'stage1')} then "
                   f"{variant.train_preset}" if variant.train_preset else official_source(variant.name))
            return f"not run: needs a trained checkpoint ({how}; then --checkpoint {variant.name}=PATH)"
        return None


def _checked_settings(row: Row, settings: AblationSettings) -> AblationSettings:
    """The request checked against the row (before any work), completed with the committed checkpoints of a trained
    row: the teaching model is the `hqtrack_teach` variant, the other variants trained with its recipe live in
    data/checkpoints/ablation/."""
    unknown = sorted(set(settings.variant_checkpoints) - {v.name for v in row.variants})
    if unknown:
        raise KeyError(f"--checkpoint {unknown[0]}=...: row {row.name!r} has no variant {unknown[0]!r} "
                       f"(variants: {[v.name for v in row.variants]})")
    if row.trained and settings.checkpoint:
        raise ValueError(f"row {row.name!r} compares trained variants: give --checkpoint VARIANT=PATH per variant")
    memory_policy(settings.memory)  # unknown names fail before any work
    if row.trained:
        committed = {v.name: ablation_checkpoint(v.model) for v in row.variants}
        defaults = {name: str(path) for name, path in committed.items() if path.is_file()}
        settings = dataclasses.replace(settings, variant_checkpoints={**defaults, **settings.variant_checkpoints})
    check_named_checkpoints(row, settings)  # rows 3-6: NAME=FILE only for a (HQ-)SAM refiner variant
    return complete_paper_settings(row, settings)  # --scale paper: every official file given, or a clear error


def prepare(row_name: str, data_root: str | os.PathLike, settings: AblationSettings,
            variants: Sequence[str] | None = None, clip_names: Sequence[str] | None = None,
            truncate: int | None = None) -> Prepared:
    """Check the request, load the data and build the clips and the network factories (no tracking yet)."""
    row = get_row(row_name, settings.scale)
    settings = _checked_settings(row, settings)
    precision = resolve_precision(settings.precision, settings.device)
    device = resolve_device(settings.device)
    resize = ResizePolicy(min_short_edge=settings.network_short_edge, max_short_edge=settings.network_short_edge)
    videos = load_videos(data_root, settings)
    clips = build_clips(row, videos, settings, clip_names)
    clips = clips_selection(clips, clip_names) or clips
    if truncate is not None:
        clips = [LabelledClip(c.name, c.frames[:truncate], c.masks[:truncate], {**c.source, "truncate": truncate})
                 for c in clips]
    if variants is not None:
        row = dataclasses.replace(row, variants=tuple(row.variant(v) for v in variants))
    factories = _Factories(row, settings, device, resize)
    ctx = RowContext(factories.make_tracker, factories.make_refiner, factories.skip, precision, settings.max_frames)
    return Prepared(row, settings, clips, precision, ctx, factories.checkpoints, factories.nets, device)
