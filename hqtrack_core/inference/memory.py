"""Typed, inspectable VMOS memory and the policy that decides what is remembered.

DeAOT attends to two memories per LSTT layer:

- **long-term**: every stored entry (reference frames + one frame every ``long_term_gap`` frames), global
  attention over all their tokens;
- **short-term**: one recent frame, 15x15 local attention (the previous frame, or ``short_term_skip``
  frames back).

Entry order and bounds follow the official engines (aot-benchmark ``AOTEngine`` and HQTrack's
``msaot_engine_v2``): the newest long-term entry comes first; with ``max_long_term`` set (HQTrack releases
6; the paper says 8) a new entry evicts the oldest non-reference entry once ``references + long-term``
would exceed the bound; reference entries are pinned. ``max_long_term=None`` grows without bound (DeAOT).
Attention is permutation-invariant over keys, so the (cached) concatenation is ``[long-term newest first,
references newest first]``.

Short-term: the official engine keeps a list of the last ``short_term_skip`` written frames and attends to
the oldest of them; a reference frame resets the list. :class:`MemoryState` reproduces this exactly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Literal

import torch

from ..model.gpm import LayerMemory

WriteMode = Literal["raw", "refined"]


@dataclass(frozen=True)
class MemoryPolicy:
    """When and what the VMOS writes into memory (test-time behaviour, not architecture).

    - ``long_term_gap``: a long-term entry every ``gap`` frames after the last one (aot-benchmark test
      config: 5 for DeAOT-L/R50-DeAOT-L, 9999 = never for DeAOT-T/S; HQTrack: 50).
    - ``max_long_term``: bound on ``references + long-term`` entries (``None``: unbounded, DeAOT).
    - ``short_term_skip``: attend to the frame ``skip`` writes back (1: previous frame; HQTrack release: 4).
    - ``write``: which label map the pipeline writes: ``"raw"`` VMOS prediction (HQTrack release) or the
      ``"refined"`` mask (a reading of the paper text). The engine writes what it is given; the
      refiner pipeline uses this field to choose.
    """

    long_term_gap: int = 5
    max_long_term: int | None = None
    short_term_skip: int = 1
    write: WriteMode = "raw"

    def __post_init__(self) -> None:
        if self.long_term_gap < 1:
            raise ValueError(f"long_term_gap must be >= 1, got {self.long_term_gap}")
        if self.max_long_term is not None and self.max_long_term < 2:
            raise ValueError(f"max_long_term must be None or >= 2 (reference + 1), got {self.max_long_term}")
        if self.short_term_skip < 1:
            raise ValueError(f"short_term_skip must be >= 1, got {self.short_term_skip}")
        if self.write not in ("raw", "refined"):
            raise ValueError(f"write must be 'raw' or 'refined', got {self.write!r}")


MEMORY_PRESETS: dict[str, MemoryPolicy] = {
    # aot-benchmark evaluation of DeAOT-L / R50-DeAOT-L (TEST_LONG_TERM_MEM_GAP = 5), unbounded
    "deaot": MemoryPolicy(long_term_gap=5, max_long_term=None, short_term_skip=1, write="raw"),
    # HQTrack as released: gap 50, at most 6 entries, short-term 4 frames back, raw masks written
    "released": MemoryPolicy(long_term_gap=50, max_long_term=6, short_term_skip=4, write="raw"),
    # HQTrack as the paper describes it: 8 entries, previous frame as short-term, refined masks written
    "paper": MemoryPolicy(long_term_gap=50, max_long_term=8, short_term_skip=1, write="refined"),
}


def memory_policy(name: str, **overrides) -> MemoryPolicy:
    """A named :data:`MEMORY_PRESETS` policy, optionally with fields replaced."""
    try:
        policy = MEMORY_PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown memory policy {name!r}; known: {sorted(MEMORY_PRESETS)}") from None
    return replace(policy, **overrides) if overrides else policy


@dataclass
class MemoryEntry:
    """One remembered frame: per LSTT layer, keys ``(B, L, d_att)`` and values ``(B, L, 2E)``.

    ``B`` is the number of object groups sharing this memory (usually 1).
    """

    frame_index: int
    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    kind: Literal["reference", "long_term", "short_term"] = "long_term"

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))


@dataclass
class MemoryState:
    """The memory of one object group (see the module docstring for the semantics)."""

    policy: MemoryPolicy
    references: list[MemoryEntry] = field(default_factory=list)  # newest first, pinned
    long_term: list[MemoryEntry] = field(default_factory=list)  # newest first
    short_term_queue: deque = field(default_factory=deque)  # last `short_term_skip` writes, oldest first
    last_long_term_frame: int = -1
    _cache: list[tuple[torch.Tensor, torch.Tensor]] | None = field(default=None, repr=False)

    # -- inspection --------------------------------------------------------------------------------
    @property
    def short_term(self) -> MemoryEntry | None:
        """The entry the short-term attention reads (oldest of the queue)."""
        return self.short_term_queue[0] if self.short_term_queue else None

    @property
    def num_long_term_entries(self) -> int:
        """Entries the long-term attention reads (references + long-term)."""
        return len(self.references) + len(self.long_term)

    @property
    def frame_indices(self) -> list[int]:
        return [e.frame_index for e in self.long_term] + [e.frame_index for e in self.references]

    def nbytes(self) -> int:
        """Bytes held by the entries (a frame in both the short- and long-term memory counts once)."""
        seen: dict[tuple[int, int], int] = {}
        for e in (*self.references, *self.long_term, *self.short_term_queue):
            for t in (*e.keys, *e.values):
                seen[(t.data_ptr(), t.numel())] = t.numel() * t.element_size()
        return sum(seen.values())

    def is_empty(self) -> bool:
        return not self.references

    # -- writing -----------------------------------------------------------------------------------
    def add_reference(self, entry: MemoryEntry) -> None:
        """A frame with a user mask: pinned long-term entry, and the short-term memory restarts from it."""
        entry.kind = "reference"
        self.references.insert(0, entry)
        self._evict()
        self.short_term_queue = deque([entry])
        self.last_long_term_frame = entry.frame_index
        self._cache = None

    def add_frame(self, entry: MemoryEntry) -> bool:
        """A propagated frame with its (predicted) mask: short-term always, long-term every ``gap`` frames.

        Returns whether it became a long-term entry.
        """
        if self.is_empty():
            raise ValueError("memory has no reference frame yet: the first frame needs a mask")
        self.short_term_queue.append(entry)
        while len(self.short_term_queue) > self.policy.short_term_skip:
            self.short_term_queue.popleft()
        if entry.frame_index - self.last_long_term_frame >= self.policy.long_term_gap:
            self.long_term.insert(0, MemoryEntry(entry.frame_index, entry.keys, entry.values, "long_term"))
            self._evict()
            self.last_long_term_frame = entry.frame_index
            self._cache = None
            return True
        return False

    def _evict(self) -> None:
        bound = self.policy.max_long_term
        if bound is None:
            return
        while self.long_term and self.num_long_term_entries > bound:
            self.long_term.pop()  # oldest non-reference entry

    # -- reading -----------------------------------------------------------------------------------
    def long_term_tokens(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Concatenated keys ``(B, M, d_att)`` and values ``(B, M, 2E)`` of all long-term entries."""
        if self._cache is None:
            entries = [*self.long_term, *self.references]
            n_layers = len(entries[0].keys)
            if len(entries) == 1:
                self._cache = [(entries[0].keys[i], entries[0].values[i]) for i in range(n_layers)]
            else:
                self._cache = [(torch.cat([e.keys[i] for e in entries], dim=1),
                                torch.cat([e.values[i] for e in entries], dim=1)) for i in range(n_layers)]
        return self._cache[layer]

    def layer_memories(self) -> list[LayerMemory]:
        """What each layer attends to: the long-term tokens and the short-term entry (every layer stored in the
        entries; the multi-scale VMOS stores one more, at 1/8)."""
        if self.is_empty():
            raise ValueError("memory has no reference frame yet: the first frame needs a mask")
        short = self.short_term
        out = []
        for i in range(len(short.keys)):
            lk, lv = self.long_term_tokens(i)
            out.append(LayerMemory(lk, lv, short.keys[i], short.values[i]))
        return out
