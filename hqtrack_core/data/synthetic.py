"""Stage-1 training data: synthetic clips made from static images with instance masks.

The official recipe (aot-benchmark ``StaticTrain``): the image is flipped (p 0.5) once; frame 0 is the
image itself, every later frame is flipped (p 0.3) and warped by a random affine (rotate 20 deg, translate
0.1, scale 0.9-1.1, shear 10); every frame gets colour jitter, a random resized crop (area 0.8-1) and the
grey-scale/blur augmentations. With probability ``merge_prob`` (1.0 in stage 1, or always when the image
has no object) a second image's clip is made the same way and its objects are pasted over the first;
objects with at most ``min_object_pixels`` pixels in the first frame are dropped, and at most
``max_objects`` are kept.

A clip is a pure function of ``(seed, sample_id)`` (see :class:`hqtrack_core.data.clips.ClipIndex`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from . import transforms as T
from .clips import ClipIndex, clip_sample, davis_sequences
from .frames import read_frame
from .hard_augment import HardAugment, apply_clip_augment
from .masks import read_mask

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class StaticPair:
    """One static training image and its instance / indexed mask (same stem)."""

    image: Path
    mask: Path


def pairs_from_folders(images_dir: str | os.PathLike, masks_dir: str | os.PathLike) -> list[StaticPair]:
    """Images in ``images_dir`` paired by file stem with PNG masks in ``masks_dir`` (COCO-like export,
    or the frames of a segmentation dataset). Images without a mask are skipped."""
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    for folder in (images_dir, masks_dir):
        if not folder.is_dir():
            raise FileNotFoundError(f"folder not found: {folder}")
    masks = {p.stem: p for p in masks_dir.iterdir() if p.suffix.lower() == ".png"}
    pairs = [StaticPair(p, masks[p.stem]) for p in sorted(images_dir.iterdir())
             if p.suffix.lower() in _IMAGE_SUFFIXES and p.stem in masks]
    if not pairs:
        raise FileNotFoundError(f"no image in {images_dir} has a mask of the same name in {masks_dir}")
    return pairs


def pairs_from_davis(root: str | os.PathLike, split: str = "train", resolution: str = "240p",
                     frame_stride: int = 1) -> list[StaticPair]:
    """Frames of the DAVIS sequences listed in ``ImageSets/<split>.txt`` used as static images
    (every ``frame_stride``-th frame)."""
    pairs = []
    for seq in davis_sequences(root, split, resolution):
        pairs += [StaticPair(img, msk) for img, msk in zip(seq.frames[::frame_stride], seq.masks[::frame_stride])]
    return pairs


class SyntheticClips(Dataset):
    """Stage-1 clips from static images. ``dataset[sample_id]`` -> dict (see :func:`clip_sample`)."""

    def __init__(self, pairs: list[StaticPair], crop: tuple[int, int], seq_len: int = 5, max_objects: int = 10,
                 min_object_pixels: int = 100, merge_prob: float = 1.0, seed: int = 0,
                 normalize: bool = True, augment: HardAugment | None = None) -> None:
        if len(pairs) < 2:
            raise ValueError(f"need at least 2 static images (pasting draws a second one), got {len(pairs)}")
        self.pairs = list(pairs)
        self.crop = (int(crop[0]), int(crop[1]))
        self.seq_len = seq_len
        self.max_objects = max_objects
        self.min_object_pixels = min_object_pixels
        self.merge_prob = merge_prob
        self.normalize = normalize
        self.augment = augment or HardAugment()
        self.index = ClipIndex(len(self.pairs), seed)

    def __len__(self) -> int:
        return len(self.pairs)

    def _load(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        pair = self.pairs[item]
        image = read_frame(pair.image)
        labels = read_mask(pair.mask)
        if labels.shape != image.shape[:2]:
            raise ValueError(f"mask {pair.mask} is {labels.shape}, image {pair.image} is {image.shape[:2]}")
        return T.to_tensor_pair(image, labels)

    def sequence(self, item: int, rng: np.random.Generator) -> tuple[list[torch.Tensor], list[torch.Tensor], int]:
        """One augmented clip of the static image ``item``: frames, renumbered label maps, object count."""
        base_img, base_lb = self._load(item)
        if rng.random() < 0.5:
            base_img, base_lb = T.hflip(base_img, base_lb)
        images, labels = [], []
        for i in range(self.seq_len):
            img, lb = base_img, base_lb
            if i > 0:
                if rng.random() < 0.3:
                    img, lb = T.hflip(img, lb)
                img, lb = T.random_affine(img, lb, rng, translate=self.augment.static_translate)
            img, lb = T.random_resized_crop(img, lb, self.crop, rng)
            img = T.photometric(img, rng)
            images.append(img)
            labels.append(lb)
        labels, n = T.select_objects(labels, rng, self.max_objects)
        return images, labels, n

    def __getitem__(self, sample_id: int) -> dict:
        item, rng = self.index.locate(sample_id)
        images, labels, n = self.sequence(item, rng)
        if n == 0 or rng.random() < self.merge_prob:
            other = int(rng.integers(len(self.pairs) - 1))
            other += other >= item  # any image but this one
            images2, labels2, n2 = self.sequence(other, rng)
            images, labels, n = T.paste_clip(images, labels, n, images2, labels2, n2, rng,
                                             self.max_objects, self.min_object_pixels)
        if self.augment.any_clip_level:
            images, labels, n = apply_clip_augment(images, labels, n, self.augment, self.index.augment_rng(sample_id),
                                                   self.max_objects, self.min_object_pixels)
        return clip_sample(images, labels, n, sample_id, self.normalize)
