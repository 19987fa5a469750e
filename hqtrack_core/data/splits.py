"""Named splits derived from a dataset's own ``ImageSets`` lists, as data.

The teaching model is trained on DAVIS-2016 ``train`` minus a fixed hold-out of 6 sequences, on which its
settings are chosen; DAVIS-2016 ``dev`` (4 validation sequences) is never used for choices, only for the final
number. The hold-out was drawn once, reproducibly: ``sorted(random.Random(2016).sample(sorted(train), 6))``.

A derived split is used wherever a split name is accepted (``hqtrack train --set data_split=train_fit``,
``hqtrack_core.data.datasets.davis_videos(root, split="train_holdout")``); an ``ImageSets/<name>.txt`` file of
the same name in the dataset wins over the definition here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DerivedSplit:
    """``base`` split restricted to (``keep``) or without (``drop``) the listed sequences."""

    base: str
    keep: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()

    def select(self, base_names: list[str]) -> list[str]:
        listed = set(self.keep) | set(self.drop)
        missing = sorted(listed - set(base_names))
        if missing:
            raise ValueError(f"split derived from {self.base!r} names sequences it does not hold: {missing}")
        if self.keep:
            return [n for n in base_names if n in self.keep]
        return [n for n in base_names if n not in self.drop]


TRAIN_HOLDOUT: tuple[str, ...] = ("drift-turn", "kite-walk", "mallard-water", "rhino", "scooter-gray", "swing")

DERIVED_SPLITS: dict[str, DerivedSplit] = {
    "train_fit": DerivedSplit("train", drop=TRAIN_HOLDOUT),
    "train_holdout": DerivedSplit("train", keep=TRAIN_HOLDOUT),
}

__all__ = ["DerivedSplit", "DERIVED_SPLITS", "TRAIN_HOLDOUT"]
