"""A refiner whose proposals fail as real refiners fail, at documented rates: what the IoU selector is for.

:class:`FaultyRefiner` wraps any :class:`~hqtrack_core.refine.base.Refiner` and, per object and frame, replaces its
proposal with one of these failures (rates in :class:`FaultRates`):

- ``neighbour``: the mask of a neighbouring region (SAM segments the thing next to the prompted one): the proposal
  moved sideways by its own box width, to the side that stays most inside the image.
- ``drift``: the prompt box drifted (a box from a lagging mask): the proposal moved by 20-60% of its box size in a
  random direction.
- ``empty``: nothing segmented (a low-contrast object).
- ``whole_box``: the whole prompt box filled (SAM returning the box region on clutter).

The draw of a frame's failure depends only on ``seed``, the frame's pixels and the object's index: the same frame
fails the same way in every run, whatever was refined before (a sharded run equals a single pass).
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass

import numpy as np

from .base import Proposals, Refiner
from .perturb import shift

FAULTS = ("neighbour", "drift", "empty", "whole_box")


@dataclass(frozen=True)
class FaultRates:
    """Probability of each failure per object and frame (the rest: the wrapped refiner's own proposal)."""

    neighbour: float = 0.10
    drift: float = 0.10
    empty: float = 0.05
    whole_box: float = 0.05

    def __post_init__(self) -> None:
        rates = asdict(self)
        if any(r < 0 for r in rates.values()) or sum(rates.values()) > 1:
            raise ValueError(f"fault rates must be >= 0 and sum to <= 1, got {rates}")

    @classmethod
    def parse(cls, text: str) -> "FaultRates":
        """``"default"`` or ``"neighbour=0.1,drift=0.1,empty=0.05,whole_box=0.05"`` (missing names: 0)."""
        if text.strip() == "default":
            return cls()
        values = {}
        for item in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = item.partition("=")
            if not sep or name not in FAULTS:
                raise ValueError(f"fault rates: expected NAME=RATE with NAME in {', '.join(FAULTS)}, got {item!r}")
            try:
                values[name] = float(value)
            except ValueError:
                raise ValueError(f"fault rates: {item!r} is not a number") from None
        return cls(**{name: values.get(name, 0.0) for name in FAULTS})


def _box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return None
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def apply_fault(kind: str, proposal: np.ndarray, prompt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``proposal`` ``(H, W)`` bool failed as ``kind`` (``prompt``: the VMOS mask whose box prompted it)."""
    h, w = proposal.shape
    box = _box(proposal) or _box(prompt)
    if kind == "empty" or box is None:
        return np.zeros_like(proposal)
    y0, y1, x0, x1 = box if kind != "whole_box" else (_box(prompt) or box)
    if kind == "whole_box":
        out = np.zeros_like(proposal)
        out[y0:y1, x0:x1] = True
        return out
    if kind == "neighbour":
        width = x1 - x0
        right, left = w - x1, x0  # room on each side
        return shift(proposal, dx=width if right >= left else -width, dy=0)
    if kind == "drift":
        frac = rng.uniform(0.2, 0.6)
        angle = rng.uniform(0, 2 * np.pi)
        return shift(proposal, dx=int(round(frac * (x1 - x0) * np.cos(angle))),
                     dy=int(round(frac * (y1 - y0) * np.sin(angle))))
    raise ValueError(f"unknown fault {kind!r}; faults: {', '.join(FAULTS)}")


class FaultyRefiner(Refiner):
    """``inner``'s proposals, each replaced by a failure at ``rates`` (see the module docstring). ``faults``
    counts the failures drawn so far by kind (``"none"``: the inner proposal kept)."""

    name = "faulty"

    def __init__(self, inner: Refiner, rates: FaultRates | None = None, seed: int = 0) -> None:
        super().__init__(inner.threshold, inner.overlap)
        self.inner, self.rates, self.seed = inner, rates or FaultRates(), int(seed)
        self.name = f"{inner.name}+faults"
        self.faults = {k: 0 for k in ("none", *FAULTS)}

    def _draws(self, image: np.ndarray, n: int) -> list[tuple[str, np.random.Generator]]:
        digest = zlib.crc32(np.ascontiguousarray(image).tobytes())
        out = []
        for i in range(n):
            rng = np.random.default_rng([self.seed, digest, i])
            u = rng.uniform()
            kind, edge = "none", 0.0
            for name in FAULTS:
                edge += getattr(self.rates, name)
                if u < edge:
                    kind = name
                    break
            out.append((kind, rng))
        return out

    def _fail(self, image: np.ndarray, prompts: np.ndarray, out: Proposals) -> Proposals:
        masks = out.masks.copy()
        for i, (kind, rng) in enumerate(self._draws(image, len(masks))):
            self.faults[kind] += 1
            if kind != "none":
                masks[i] = apply_fault(kind, masks[i], prompts[i], rng)
        return Proposals(masks, out.scores)

    def propose(self, image: np.ndarray, masks: np.ndarray) -> Proposals:
        return self._fail(image, masks, self.inner.propose(image, masks))

    def segment_boxes(self, image: np.ndarray, boxes: np.ndarray) -> Proposals:
        boxes = np.asarray(boxes)
        prompts = np.zeros((len(boxes), *image.shape[:2]), dtype=bool)
        for i, (x0, y0, x1, y1) in enumerate(boxes.astype(int)):
            prompts[i, y0:y1, x0:x1] = True
        return self._fail(image, prompts, self.inner.segment_boxes(image, boxes))


__all__ = ["FAULTS", "FaultRates", "FaultyRefiner", "apply_fault"]
