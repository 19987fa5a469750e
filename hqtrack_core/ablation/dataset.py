"""The data of a row: the DAVIS-layout videos the settings select, and the row's clips built from them (the
sequences, ping-pong long videos, long clips with exits and occlusions, or composited multi-object clips)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.datasets import _split_names, davis_videos
from .generators import LabelledClip, composite_clip, load_clip, long_clip, pingpong_video, resize_clip
from .rows import Row
from .settings import AblationSettings


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


def build_clips(row: Row, videos: list, settings: AblationSettings,
                names: Sequence[str] | None = None) -> list[LabelledClip]:
    """The clips a row runs on (see :attr:`Row.data`). ``names``: only those are needed; long clips are then the
    only ones generated (each depends on its index alone), other kinds are built whole (select with
    :func:`clips_selection`)."""
    if row.data == "davis":
        return [load_clip(v, settings.max_frames, settings.frame_stride, settings.data_short_edge) for v in videos]
    base = [load_clip(v, None, settings.frame_stride, settings.data_short_edge) for v in videos]
    if row.data == "pingpong" and settings.long_clips:
        if len(base) < 3:
            raise ValueError("long clips paste a target and occluders from other sequences: give >= 3 sequences")
        edge = min(min(c.size) for c in base)
        base = [resize_clip(c, edge) for c in base]
        n = len(base)
        all_names = [f"long{k}-{base[k % n].name}" for k in range(settings.long_clips)]
        unknown = [name for name in names or () if name not in all_names]
        if unknown:
            raise KeyError(f"no clip {unknown[0]!r}; clips: {sorted(all_names)}")
        return [long_clip(base[k % n], base[(k + 1) % n], [base[(k + 2) % n], base[(k + 3) % n]],
                          length=settings.long_length, seed=settings.seed + k, name=name,
                          target_scale=tuple(settings.long_scale))
                for k, name in enumerate(all_names) if names is None or name in names]
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
