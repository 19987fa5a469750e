"""The training data: the clip dataset of a stage, and the batches of global sample ids each step of each rank reads.

Reproducibility: a clip is a pure function of ``(seed, sample_id)`` and step ``s`` of rank ``r`` uses sample ids
``s * global_batch + r * local_batch + j``: the data order does not depend on workers, ranks or interruptions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from torch.utils.data import Dataset, Sampler

from ..data.clips import VideoClips, davis_sequences, youtube_vos_sequences
from ..data.synthetic import SyntheticClips, pairs_from_davis, pairs_from_folders
from ..validate import check_mask_pairs
from .config import TrainConfig


def build_dataset(cfg: TrainConfig, data: str | os.PathLike) -> Dataset:
    """The clip dataset of ``cfg.stage`` from a data folder.

    Stage 1: a DAVIS layout (``ImageSets/``: frames of the train split used as static images) or a folder
    with ``images/`` and ``masks/``. Stage 2: a DAVIS layout (train split) or a YouTube-VOS split folder
    (``JPEGImages/``, ``Annotations/``).
    """
    root = Path(data)
    if not root.is_dir():
        raise FileNotFoundError(f"training data folder not found: {root}")
    is_davis = (root / "ImageSets").is_dir()
    if cfg.stage == 1:
        pairs = (pairs_from_davis(root, cfg.data_split, cfg.data_resolution, cfg.static_frame_stride) if is_davis
                 else pairs_from_folders(root / "images", root / "masks"))
        check_mask_pairs([(p.image, p.mask) for p in pairs], f"training data {root}")
        return SyntheticClips(pairs, cfg.crop, cfg.seq_len, cfg.max_objects, cfg.min_object_pixels,
                              cfg.merge_prob, cfg.seed, augment=cfg.hard_augment())
    seqs = davis_sequences(root, cfg.data_split, cfg.data_resolution) if is_davis else youtube_vos_sequences(root)
    if not seqs:
        raise ValueError(f"training data {root}: no video sequence (expected ImageSets/ + JPEGImages/ + "
                         "Annotations/ (DAVIS) or JPEGImages/<seq>/ + Annotations/<seq>/ (YouTube-VOS))")
    check_mask_pairs([pair for seq in seqs for pair in zip(seq.frames, seq.masks)], f"training data {root}")
    return VideoClips(seqs, cfg.crop, cfg.seq_len, cfg.max_gap, cfg.random_reverse, cfg.video_repeat,
                      cfg.short_edge, cfg.scale_range, cfg.flip_prob, cfg.max_objects, cfg.min_object_pixels,
                      cfg.merge_prob, cfg.seed, augment=cfg.hard_augment())


class StepBatchSampler(Sampler[list[int]]):
    """Batches of global sample ids for steps ``start..end-1`` of one rank."""

    def __init__(self, start: int, end: int, local_batch: int, rank: int, world: int) -> None:
        self.start, self.end, self.local_batch, self.rank, self.world = start, end, local_batch, rank, world

    def __len__(self) -> int:
        return max(0, self.end - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        g = self.local_batch * self.world
        for step in range(self.start, self.end):
            base = step * g + self.rank * self.local_batch
            yield list(range(base, base + self.local_batch))
