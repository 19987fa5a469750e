"""Stage-2 training data: clips sampled from real videos in DAVIS / YouTube-VOS layout.

The official recipe (aot-benchmark ``VOSTrain`` with the "v2" transforms): the video is reversed with
probability 0.5; a reference frame with more than 200 foreground pixels is drawn, then ``seq_len - 1``
frames follow it with random gaps in ``[1, max_gap]`` (reflected at the ends), re-drawn (up to 5 times)
until every object of the later frames is in the reference; frames are rescaled to a random short edge
(``short_edge * [0.7, 1.3]``), cropped at random so that the reference keeps an object of more than 100
pixels (up to 5 tries; at most ``max_objects``), colour-jittered, flipped (p 0.5) and padded to the crop.
With probability ``merge_prob`` (0.3) a second video's clip is pasted over (as in stage 1).

Clips are pure functions of ``(seed, sample_id)``: :class:`ClipIndex` maps a global sample number to an
item (a fresh permutation per epoch) and a random generator, so runs are reproducible and resumable and
DDP ranks draw disjoint samples.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from . import transforms as T
from .datasets import davis_videos
from .frames import read_frame, resize_to
from .hard_augment import HardAugment, apply_clip_augment
from .masks import read_mask


@dataclass(frozen=True)
class ClipIndex:
    """Global sample number -> (item, generator): epoch ``e`` visits the items in permutation ``P(seed, e)``."""

    length: int
    seed: int

    def locate(self, sample_id: int) -> tuple[int, np.random.Generator]:
        if sample_id < 0:
            raise IndexError(f"sample ids are non-negative, got {sample_id}")
        epoch, pos = divmod(int(sample_id), self.length)
        perm = np.random.default_rng([self.seed, epoch, 7]).permutation(self.length)
        return int(perm[pos]), np.random.default_rng([self.seed, int(sample_id)])

    def augment_rng(self, sample_id: int) -> np.random.Generator:
        """The generator of sample ``sample_id``'s failure-aimed augmentations (:mod:`.hard_augment`), independent
        of :meth:`locate`'s: switching them on leaves every other random choice of the clip as it was."""
        return np.random.default_rng([self.seed, int(sample_id), 34])


def clip_sample(images: list[torch.Tensor], labels: list[torch.Tensor], n_objects: int, sample_id: int,
                normalize: bool = True) -> dict:
    """The dict a clip dataset returns (default-collatable):

    ``frames`` (T, 3, H, W) float (ImageNet-normalised) or uint8; ``labels`` (T, H, W) long object ids;
    ``n_objects`` int; ``sample_id`` int.
    """
    frames = torch.stack(images)
    return {
        "frames": T.normalize(frames) if normalize else frames,
        "labels": torch.stack(labels).long(),
        "n_objects": int(n_objects),
        "sample_id": int(sample_id),
    }


@dataclass(frozen=True)
class VideoSequence:
    """One annotated video: frame files and mask files, aligned (same stems)."""

    name: str
    frames: tuple[Path, ...]
    masks: tuple[Path, ...]


def video_from_folders(name: str, frames_dir: str | os.PathLike, masks_dir: str | os.PathLike) -> VideoSequence:
    """Frames paired by stem with masks (YouTube-VOS train annotates every 5th frame: only those are used)."""
    frames_dir, masks_dir = Path(frames_dir), Path(masks_dir)
    for folder in (frames_dir, masks_dir):
        if not folder.is_dir():
            raise FileNotFoundError(f"folder not found: {folder}")
    masks = {p.stem: p for p in masks_dir.iterdir() if p.suffix.lower() == ".png"}
    frames = [p for p in sorted(frames_dir.iterdir())
              if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.stem in masks]
    if not frames:
        raise FileNotFoundError(f"no frame in {frames_dir} has a mask in {masks_dir}")
    return VideoSequence(name, tuple(frames), tuple(masks[p.stem] for p in frames))


def davis_sequences(root: str | os.PathLike, split: str = "train", resolution: str = "480p"
                    ) -> list[VideoSequence]:
    """Sequences of a DAVIS layout split (``ImageSets/<split>.txt`` or ``ImageSets/2017/<split>.txt``), read by
    :func:`hqtrack_core.data.datasets.davis_videos` (dense annotations, clear errors) and kept as file lists."""
    return [VideoSequence(v.name, tuple(v.source.frames), tuple(v.masks[stem] for stem in v.stems))
            for v in davis_videos(root, resolution, split=split, year=2017)]


def youtube_vos_sequences(root: str | os.PathLike) -> list[VideoSequence]:
    """Sequences of a YouTube-VOS split folder (``<root>/JPEGImages/<seq>``, ``<root>/Annotations/<seq>``)."""
    root = Path(root)
    ann = root / "Annotations"
    if not ann.is_dir():
        raise FileNotFoundError(f"no Annotations folder under {root}")
    return [video_from_folders(p.name, root / "JPEGImages" / p.name, p) for p in sorted(ann.iterdir()) if p.is_dir()]


class VideoClips(Dataset):
    """Stage-2 clips. ``dataset[sample_id]`` -> dict (see :func:`clip_sample`)."""

    def __init__(self, sequences: list[VideoSequence], crop: tuple[int, int], seq_len: int = 5,
                 max_gap: int = 12, random_reverse: bool = True, repeat: int = 1, short_edge: int = 480,
                 scale_range: tuple[float, float] = (0.7, 1.3), flip_prob: float = 0.5, max_objects: int = 10,
                 min_object_pixels: int = 100, merge_prob: float = 0.3, seed: int = 0,
                 normalize: bool = True, augment: HardAugment | None = None) -> None:
        if not sequences:
            raise ValueError("no video sequences given")
        if max_gap < 1:
            raise ValueError(f"max_gap must be >= 1, got {max_gap}")
        self.sequences = list(sequences)
        self.crop = (int(crop[0]), int(crop[1]))
        self.seq_len = seq_len
        self.max_gap = max_gap
        self.random_reverse = random_reverse
        self.repeat = repeat
        self.short_edge = short_edge
        self.scale_range = scale_range
        self.flip_prob = flip_prob
        self.max_objects = max_objects
        self.min_object_pixels = min_object_pixels
        self.merge_prob = merge_prob
        self.normalize = normalize
        self.augment = augment or HardAugment()
        self.index = ClipIndex(len(self.sequences) * repeat, seed)
        self._mask_cache: dict[Path, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.sequences) * self.repeat

    def _mask(self, path: Path) -> np.ndarray:
        if path not in self._mask_cache:
            self._mask_cache[path] = read_mask(path)
        return self._mask_cache[path]

    # --- frame choice ---------------------------------------------------------------------------------
    def choose_frames(self, seq: VideoSequence, rng: np.random.Generator,
                      aug_rng: np.random.Generator | None = None) -> list[int]:
        """Indices (into ``seq.frames``) of the reference and the following frames; with ``aug_rng`` and
        ``augment.fast_gap_prob`` the clip may draw its gaps up to ``augment.fast_max_gap`` (fast motion)."""
        n = len(seq.frames)
        max_gap = self.max_gap
        if aug_rng is not None and self.augment.fast_gap_prob > 0 and aug_rng.random() < self.augment.fast_gap_prob:
            max_gap = max(self.max_gap, self.augment.fast_max_gap)
        order = list(range(n))
        if self.random_reverse and rng.random() < 0.5:
            order = order[::-1]
        indices = [order[0]] * self.seq_len
        for _ in range(5):
            ref = self._reference(seq, order, rng)
            pos, picks = ref, [ref]
            for _ in range(self.seq_len - 1):
                pos += int(rng.integers(1, max_gap + 1))
                picks.append(_reflect(pos, n))
            indices = [order[p] for p in picks]
            ref_ids = set(np.unique(self._mask(seq.masks[indices[0]])).tolist())
            later = set().union(*(np.unique(self._mask(seq.masks[i])).tolist() for i in indices[1:]))
            if later <= ref_ids | {0}:
                break
        return indices

    def _reference(self, seq: VideoSequence, order: list[int], rng: np.random.Generator) -> int:
        bad: set[int] = set()
        pos = 0
        for _ in range(20):
            pos = int(rng.integers(len(order)))
            if pos in bad:
                continue
            if np.count_nonzero(self._mask(seq.masks[order[pos]])) > 200:
                return pos
            bad.add(pos)
        return pos

    # --- one clip ---------------------------------------------------------------------------------------
    def sequence(self, item: int, rng: np.random.Generator, aug_rng: np.random.Generator | None = None
                 ) -> tuple[list[torch.Tensor], list[torch.Tensor], int]:
        seq = self.sequences[item % len(self.sequences)]
        indices = self.choose_frames(seq, rng, aug_rng)
        raw = [(read_frame(seq.frames[i]), self._mask(seq.masks[i])) for i in indices]
        h, w = raw[0][1].shape
        scale = float(rng.uniform(*self.scale_range)) * self.short_edge / min(h, w)
        size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
        images, labels = [], []
        for img, lb in raw:
            if lb.shape != img.shape[:2]:
                raise ValueError(f"{seq.name}: mask {lb.shape} does not match frame {img.shape[:2]}")
            img = resize_to(img, size[::-1], "cubic")
            lb = resize_to(lb, size[::-1], "nearest")
            ti, tl = T.to_tensor_pair(img, lb)
            images.append(ti)
            labels.append(tl)
        images, labels, n = self._balanced_crop(images, labels, rng)
        images = [T.photometric(img, rng) for img in images]
        if rng.random() < self.flip_prob:
            pairs = [T.hflip(i, lb) for i, lb in zip(images, labels)]
            images, labels = [p[0] for p in pairs], [p[1] for p in pairs]
        images, labels = zip(*(_pad_to(i, lb, self.crop) for i, lb in zip(images, labels)))
        return list(images), list(labels), n

    def _balanced_crop(self, images: list[torch.Tensor], labels: list[torch.Tensor], rng: np.random.Generator
                       ) -> tuple[list[torch.Tensor], list[torch.Tensor], int]:
        h, w = labels[0].shape
        ch, cw = min(self.crop[0], h), min(self.crop[1], w)
        for _ in range(5):
            top = int(rng.integers(0, h - ch + 1))
            left = int(rng.integers(0, w - cw + 1))
            ref = labels[0][top:top + ch, left:left + cw]
            ids, counts = torch.unique(ref, return_counts=True)
            if any(i != 0 and c > self.min_object_pixels for i, c in zip(ids.tolist(), counts.tolist())):
                break
        images = [img[:, top:top + ch, left:left + cw] for img in images]
        labels = [lb[top:top + ch, left:left + cw] for lb in labels]
        labels, n = T.select_objects(labels, rng, self.max_objects, self.min_object_pixels)
        return images, labels, n

    def __getitem__(self, sample_id: int) -> dict:
        item, rng = self.index.locate(sample_id)
        aug_rng = self.index.augment_rng(sample_id)
        images, labels, n = self.sequence(item, rng, aug_rng)
        if n == 0 or rng.random() < self.merge_prob:
            other = int(rng.integers(len(self.sequences) - 1)) if len(self.sequences) > 1 else 0
            other += other >= item % len(self.sequences) and len(self.sequences) > 1
            images2, labels2, n2 = self.sequence(other, rng, aug_rng)
            images, labels, n = T.paste_clip(images, labels, n, images2, labels2, n2, rng,
                                             self.max_objects, self.min_object_pixels)
        if self.augment.any_clip_level:
            images, labels, n = apply_clip_augment(images, labels, n, self.augment, aug_rng, self.max_objects,
                                                   self.min_object_pixels)
        return clip_sample(images, labels, n, sample_id, self.normalize)


def _reflect(index: int, length: int) -> int:
    """Reflect an index running past either end of a video (as the official sampler)."""
    if length <= 1:
        return 0
    while index < 0 or index >= length:
        index = -index if index < 0 else 2 * (length - 1) - index
    return index


def _pad_to(image: torch.Tensor, labels: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad (bottom/right) up to ``size`` when the rescaled frame is smaller than the crop."""
    ph, pw = size[0] - labels.shape[0], size[1] - labels.shape[1]
    if ph <= 0 and pw <= 0:
        return image, labels
    ph, pw = max(ph, 0), max(pw, 0)
    return F.pad(image, (0, pw, 0, ph)), F.pad(labels, (0, pw, 0, ph))
