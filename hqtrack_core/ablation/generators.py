"""Videos with exact ground truth built from real sequences, for the ablation rows that DAVIS alone cannot show.

- :func:`pingpong_video` (memory row): a real clip played forward, backward, forward, ... to ``factor`` times its
  length. DAVIS clips (25-100 frames) are shorter than HQTrack's long-term gap (50), so the gap only matters on
  longer videos; ping-pong keeps real appearance and the real ground truth of every frame.
- :func:`long_clip` (memory row): a long clip (600 frames by default) in which a real target leaves the view or
  is fully occluded by an object pasted from another sequence, and comes back 50-500 frames later.
- :func:`composite_clip` (joint vs separate row): the objects of single-object DAVIS-2016 clips pasted into another
  clip, each moving on a straight path through the background object so that they occlude it and each other.
  Every pasted pixel is known, so the multi-object ground truth is exact (the later object is in front).
- :func:`write_davis_folder`: any of these (or a toy video) as a DAVIS-layout folder on disk
  (``ImageSets/<split>.txt``, ``JPEGImages/<res>/<seq>``, ``Annotations/<res>/<seq>``).

Everything is a deterministic function of its inputs and ``seed``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ..data.datasets import write_davis_masks


@dataclass
class LabelledClip:
    """Frames ``(H, W, 3) uint8`` RGB with a label map ``(H, W) uint8`` per frame; ``source`` says how it was made."""

    name: str
    frames: list[np.ndarray]
    masks: list[np.ndarray]
    source: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.frames) != len(self.masks) or not self.frames:
            raise ValueError(f"clip {self.name!r}: {len(self.frames)} frames and {len(self.masks)} masks")
        size = self.frames[0].shape[:2]
        for t, (f, m) in enumerate(zip(self.frames, self.masks)):
            if f.shape[:2] != size or m.shape != size:
                raise ValueError(f"clip {self.name!r} frame {t}: image {f.shape[:2]}, mask {m.shape}, frame 0 {size}")

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> tuple[int, int]:
        return self.frames[0].shape[:2]

    @property
    def stems(self) -> list[str]:
        return [f"{i:05d}" for i in range(len(self))]

    def object_ids(self) -> list[int]:
        return sorted(int(v) for v in np.unique(np.stack(self.masks)) if v != 0)


def load_clip(video, max_frames: int | None = None, stride: int = 1, short_edge: int | None = None) -> LabelledClip:
    """A :class:`~hqtrack_core.data.datasets.Video` with dense annotations as a :class:`LabelledClip` (every
    ``stride``-th frame, at most ``max_frames``, optionally resized to ``short_edge``)."""
    frames, masks = [], []
    for t, (stem, image) in enumerate(video.frames()):
        if t % stride:
            continue
        if max_frames is not None and len(frames) >= max_frames:
            break
        mask = video.mask(stem)
        if mask is None:
            raise ValueError(f"video {video.name!r}: frame {stem} has no annotation (dense ground truth needed)")
        frames.append(image)
        masks.append(mask)
    clip = LabelledClip(video.name, frames, masks, {"video": video.name, "stride": stride, "max_frames": max_frames})
    return resize_clip(clip, short_edge) if short_edge is not None else clip


def resize_clip(clip: LabelledClip, short_edge: int) -> LabelledClip:
    """The clip with its short edge scaled to ``short_edge`` (images: area/linear, masks: nearest)."""
    h, w = clip.size
    scale = short_edge / min(h, w)
    if scale == 1:
        return clip
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    frames = [cv2.resize(f, size, interpolation=interp) for f in clip.frames]
    masks = [cv2.resize(m, size, interpolation=cv2.INTER_NEAREST) for m in clip.masks]
    return LabelledClip(clip.name, frames, masks, {**clip.source, "short_edge": short_edge})


def pingpong_indices(n: int, length: int) -> list[int]:
    """Frame indices ``0, 1, ..., n-1, n-2, ..., 1, 0, 1, ...`` (period ``2(n-1)``), ``length`` of them."""
    if n < 2:
        raise ValueError(f"ping-pong needs a clip of at least 2 frames, got {n}")
    period = 2 * (n - 1)
    return [t % period if t % period < n else period - t % period for t in range(length)]


def pingpong_video(clip: LabelledClip, factor: float = 4.0) -> LabelledClip:
    """``clip`` played forward and backward to ``round(factor * len(clip))`` frames, with its ground truth."""
    if factor < 1:
        raise ValueError(f"ping-pong factor must be >= 1, got {factor}")
    index = pingpong_indices(len(clip), int(round(factor * len(clip))))
    return LabelledClip(f"{clip.name}-pingpong{factor:g}x", [clip.frames[i] for i in index],
                        [clip.masks[i] for i in index], {**clip.source, "pingpong_factor": factor})


def _paste(canvas: np.ndarray, labels: np.ndarray, patch: np.ndarray, patch_mask: np.ndarray,
           top_left: tuple[int, int], obj: int) -> None:
    """Paste ``patch`` where ``patch_mask`` is set, its top-left corner at ``top_left`` (may be off-frame)."""
    H, W = labels.shape
    y0, x0 = top_left
    h, w = patch_mask.shape
    ya, xa = max(0, y0), max(0, x0)
    yb, xb = min(H, y0 + h), min(W, x0 + w)
    if ya >= yb or xa >= xb:
        return
    sub = patch_mask[ya - y0: yb - y0, xa - x0: xb - x0]
    canvas[ya:yb, xa:xb][sub] = patch[ya - y0: yb - y0, xa - x0: xb - x0][sub]
    labels[ya:yb, xa:xb][sub] = obj


def _object_crop(image: np.ndarray, mask: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    patch = cv2.resize(image[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    pmask = cv2.resize(mask[y0:y1, x0:x1].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return patch, pmask


def composite_clip(background: LabelledClip, foregrounds: Sequence[LabelledClip], seed: int = 0,
                   length: int | None = None, scale_range: tuple[float, float] = (0.45, 0.7),
                   name: str | None = None) -> LabelledClip:
    """Paste the (single, binary) object of each foreground clip into ``background`` as ids 2, 3, ...

    The background clip's object is id 1. Each pasted object keeps its own motion and appearance (its crop follows
    its mask in its own clip, scaled by a random factor relative to the background height) and its crop centre
    moves on a straight line from a random point to its mirror image through the background object's first-frame
    centroid, so it crosses (occludes) the background object half-way. Later ids are in front. ``length`` defaults
    to the shortest clip; shorter foregrounds are ping-ponged. Every object keeps at least 16 visible pixels in the
    first frame (the prompt); paths are resampled (from the same seeded generator) until they do.
    """
    rng = np.random.default_rng(seed)
    length = length or min(len(background), *(len(f) for f in foregrounds))
    if length > len(background):
        raise ValueError(f"composite length {length} exceeds the background clip ({len(background)} frames)")
    H, W = background.size
    bg_ids = background.object_ids()
    if not bg_ids:
        raise ValueError(f"background clip {background.name!r} has no object")
    first_bg = background.masks[0] > 0
    if not first_bg.any():
        raise ValueError(f"background clip {background.name!r}: no object in frame 0")
    cy, cx = (float(v.mean()) for v in np.nonzero(first_bg))
    ids = [1] + [k + 2 for k in range(len(foregrounds))]
    for _attempt in range(20):  # resample the paths until every object is visible in frame 0
        frames = [f.copy() for f in background.frames[:length]]
        labels = [(m > 0).astype(np.uint8) for m in background.masks[:length]]
        paths = []
        for k, fg in enumerate(foregrounds):
            obj = k + 2
            index = pingpong_indices(len(fg), length) if len(fg) < length else list(range(length))
            scale = float(rng.uniform(*scale_range)) * H / fg.size[0]
            angle = float(rng.uniform(0, 2 * np.pi))
            radius = float(rng.uniform(0.25, 0.4)) * min(H, W)
            start = np.array([np.clip(cy + radius * np.sin(angle), 0.15 * H, 0.85 * H),
                              np.clip(cx + radius * np.cos(angle), 0.15 * W, 0.85 * W)])
            end = 2 * np.array([cy, cx]) - start
            paths.append({"object": obj, "clip": fg.name, "scale": scale, "start_yx": start.round(1).tolist(),
                          "end_yx": end.round(1).tolist()})
            for t in range(length):
                mask = fg.masks[index[t]] > 0
                if not mask.any():
                    continue  # the object is absent in its own clip at this frame: absent here too
                patch, pmask = _object_crop(fg.frames[index[t]], mask, scale)
                centre = start + (end - start) * (t / max(1, length - 1))
                top_left = (int(round(centre[0] - pmask.shape[0] / 2)), int(round(centre[1] - pmask.shape[1] / 2)))
                _paste(frames[t], labels[t], patch, pmask, top_left, obj)
        if all((labels[0] == i).sum() >= 16 for i in ids):
            break
    else:
        raise ValueError(f"composite {name or background.name!r}: no paths keep every object visible in frame 0 "
                         f"(try another seed or smaller foreground scales)")
    source = {"background": background.name, "foregrounds": [f.name for f in foregrounds], "seed": seed,
              "length": length, "paths": paths}
    default = "+".join([background.name, *(f.name for f in foregrounds)])
    return LabelledClip(name or default, frames, labels, source)


def _inscribed(mask: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Radius and centre ``(y, x)`` of the largest disc inside ``mask``."""
    dist = cv2.distanceTransform(np.pad(mask.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(dist[y, x]), (float(y), float(x))


def _absence_schedule(rng: np.random.Generator, length: int, events: int, absence: tuple[int, int], transition: int,
                      occluders: Sequence[LabelledClip]) -> list[dict]:
    """The events of :func:`long_clip`: a visible lead-in, then per event: transition out, absence, transition in, a
    visible stretch; at most 60% of the free frames go to absences (the rest: the target visible, so the memory has
    it to hold). Each event: ``kind``, ``out``, ``absent`` ``[first, last + 1]``, ``back``, ``occluder``."""
    lo, hi = absence
    if not 1 <= lo <= hi:
        raise ValueError(f"absence range must satisfy 1 <= lo <= hi, got {absence}")
    lead, stretch = 30, 30
    budget = length - lead - events * (2 * transition + stretch)
    if budget < events * lo:
        raise ValueError(f"{events} absences of at least {lo} frames do not fit in {length} frames")
    cap = max(lo, min(hi, int(0.6 * budget / events)))
    durations = [int(rng.integers(lo, cap + 1)) for _ in range(events)]
    kinds = ["exit", "occlusion"] if rng.uniform() < 0.5 else ["occlusion", "exit"]
    spare = budget - sum(durations)
    schedule, t = [], lead + int(rng.integers(0, spare // (events + 1) + 1))
    for k, d in enumerate(durations):
        schedule.append({"kind": kinds[k % 2], "out": t, "absent": [t + transition, t + transition + d],
                         "back": t + 2 * transition + d, "occluder": occluders[k % len(occluders)].name})
        t += 2 * transition + d + stretch + int(rng.integers(0, spare // (events + 1) + 1))
    return schedule


def _paste_occluder(frame: np.ndarray, label: np.ndarray, occ: LabelledClip, k: int, target_shape: tuple[int, int],
                    centre: np.ndarray, f: float) -> None:
    """Slide frame ``k`` of occluder ``occ`` in from the left over the target (its crop ``target_shape`` centred at
    ``centre``), ``f`` of the way (1: the largest disc inside the occluder covers the target); unlabelled, in
    front."""
    H, W = label.shape
    omask = occ.masks[k] > 0
    if not omask.any():
        return
    radius, _ = _inscribed(_object_crop(occ.frames[k], omask, 1.0)[1])
    half_diag = 0.5 * float(np.hypot(*target_shape)) + 2
    opatch, opmask = _object_crop(occ.frames[k], omask, half_diag / max(radius, 1.0))
    _, (iy, ix) = _inscribed(opmask)
    cover = centre - np.array([iy, ix])  # top-left that puts the disc on the target's centre
    start = cover + np.array([0.0, -(W + opmask.shape[1])])  # comes in from the left, off-frame
    pos = start + (cover - start) * f
    junk = np.zeros((H, W), np.uint8)
    _paste(frame, junk, opatch, opmask, (int(round(pos[0])), int(round(pos[1]))), 1)
    label[junk > 0] = 0  # the occluder is in front and not tracked


def long_clip(target: LabelledClip, background: LabelledClip, occluders: Sequence[LabelledClip], length: int = 600,
              events: int = 2, absence: tuple[int, int] = (50, 500), transition: int = 12, seed: int = 0,
              name: str | None = None, target_scale: tuple[float, float] = (1.0, 1.0)) -> LabelledClip:
    """A long clip (memory row) with exact ground truth in which the target disappears and comes back.

    The target (the object of ``target``, id 1, keeping its own motion and appearance: its crop follows its mask
    in its own clip, played forward and backward) is pasted on ``background`` (played forward and backward; its
    own object is unlabelled scenery) and moves on a slow Lissajous path. Its appearance changes over the clip:
    its size starts at ``target_scale`` times its size in its own video (a factor drawn from the range; both clips
    have the same height) and grows or shrinks by up to half, and its brightness drifts by up to a third. The
    default keeps the target's own size: at 0.35-0.5 of it (the first version) the study's model at 240p tracked
    the visible target at J 0.16 before any absence (10 clips, frames 1-39), so the memory row measured
    small-object failure (figures/README.md). ``events`` times it
    disappears for a number of frames drawn from ``absence`` (capped so that absences take at most 60% of the frames
    left after the transitions) and comes back, alternating two ways (the first drawn):
    ``"exit"``, it slides out of the image over ``transition`` frames, stays out and slides back; ``"occlusion"``,
    an object pasted from ``occluders`` (unlabelled, in front) slides over it and covers it entirely (scaled so
    that the largest disc inside its mask covers the target's box), then slides away. Every frame's label map is
    the visible target. ``source["events"]`` lists each event's kind and the frames the target is fully absent
    (``absent: [first, last + 1]``); a ValueError says when the events do not fit in ``length``.
    """
    rng = np.random.default_rng(seed)
    if not target.object_ids() or not (target.masks[0] > 0).any():
        raise ValueError(f"target clip {target.name!r} has no object in frame 0")
    if not occluders:
        raise ValueError("long_clip needs at least one occluder clip")
    H, W = background.size
    schedule = _absence_schedule(rng, length, events, absence, transition, occluders)
    t_index = pingpong_indices(len(target), length) if len(target) < length else list(range(length))
    b_index = pingpong_indices(len(background), length) if len(background) < length else list(range(length))
    o_index = {o.name: pingpong_indices(len(o), length) for o in occluders}  # (once, not per frame)
    scale0 = float(rng.uniform(*target_scale)) * H / target.size[0]
    scale1 = scale0 * float(rng.uniform(0.6, 1.5))
    gain0, gain1 = 1.0, float(rng.uniform(0.7, 1.3))
    phase = rng.uniform(0, 2 * np.pi, size=2)
    periods = rng.uniform(0.6, 1.2, size=2) * length
    frames, labels = [], []
    for t in range(length):
        a = t / max(1, length - 1)
        frame = background.frames[b_index[t]].copy()
        label = np.zeros((H, W), np.uint8)
        mask = target.masks[t_index[t]] > 0
        home = np.array([H / 2 + 0.18 * H * np.sin(2 * np.pi * t / periods[0] + phase[0]),
                         W / 2 + 0.22 * W * np.sin(2 * np.pi * t / periods[1] + phase[1])])
        centre, occluder_at = home, None
        if mask.any():
            patch, pmask = _object_crop(target.frames[t_index[t]], mask, scale0 + (scale1 - scale0) * a)
            gain = gain0 + (gain1 - gain0) * a
            patch = np.clip(patch.astype(np.float32) * gain, 0, 255).astype(np.uint8)
            for ev in schedule:
                if not ev["out"] <= t < ev["back"]:
                    continue
                # 0 -> 1 over the transition out, 1 while absent, 1 -> 0 over the transition back
                f = min(1.0, (t - ev["out"]) / transition, (ev["back"] - t) / transition)
                if ev["kind"] == "exit":  # out through the nearest vertical edge, fully off-frame at f = 1
                    side = -1 if home[1] < W / 2 else 1
                    off = np.array([home[0], W / 2 + side * (W / 2 + pmask.shape[1])])
                    centre = home + (off - home) * f
                else:
                    occluder_at = (ev, f)
            top_left = (int(round(centre[0] - pmask.shape[0] / 2)), int(round(centre[1] - pmask.shape[1] / 2)))
            _paste(frame, label, patch, pmask, top_left, 1)
            if occluder_at is not None:
                ev, f = occluder_at
                occ = next(o for o in occluders if o.name == ev["occluder"])
                _paste_occluder(frame, label, occ, o_index[occ.name][t], pmask.shape, centre, f)
        frames.append(frame)
        labels.append(label)
    for ev in schedule:
        a0, a1 = ev["absent"]
        visible = [t for t in range(a0, a1) if labels[t].any()]
        if visible:
            raise ValueError(f"long clip {name or target.name!r}: the target shows during its {ev['kind']} at "
                             f"frames {visible[:5]} (try another seed)")
    if (labels[0] > 0).sum() < 16:
        raise ValueError(f"long clip {name or target.name!r}: the target is not visible in frame 0")
    source = {"target": target.name, "background": background.name, "occluders": [o.name for o in occluders],
              "seed": seed, "length": length, "events": schedule,
              "scale": [round(scale0, 4), round(scale1, 4)], "gain": [gain0, round(gain1, 4)]}
    return LabelledClip(name or f"{target.name}-long{length}", frames, labels, source)


def write_davis_folder(root: str | os.PathLike, clips: Sequence[LabelledClip], split: str = "val",
                       resolution: str = "480p") -> Path:
    """Write clips as a DAVIS-layout folder: ``ImageSets/<split>.txt``, ``JPEGImages/<res>/<seq>/%05d.jpg``,
    ``Annotations/<res>/<seq>/%05d.png`` (indexed PNGs; binary clips written 0/255 as DAVIS-2016 does)."""
    root = Path(root)
    for clip in clips:
        images = root / "JPEGImages" / resolution / clip.name
        images.mkdir(parents=True, exist_ok=True)
        for stem, frame in zip(clip.stems, clip.frames):
            if not cv2.imwrite(str(images / f"{stem}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
                raise OSError(f"cannot write {images / f'{stem}.jpg'}")
        binary = clip.object_ids() == [1]
        masks = {s: (m > 0).astype(np.uint8) * 255 if binary else m for s, m in zip(clip.stems, clip.masks)}
        if binary:
            ann = root / "Annotations" / resolution / clip.name
            ann.mkdir(parents=True, exist_ok=True)
            for stem, m in masks.items():
                cv2.imwrite(str(ann / f"{stem}.png"), m)
        else:
            write_davis_masks(root / "Annotations" / resolution / clip.name, masks)
    sets = root / "ImageSets"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / f"{split}.txt").write_text("".join(f"{c.name}\n" for c in clips))
    return root


__all__ = ["LabelledClip", "load_clip", "resize_clip", "pingpong_indices", "pingpong_video", "composite_clip",
           "long_clip", "write_davis_folder"]
