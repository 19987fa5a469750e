"""Object manager: user object ids <-> (group, slot) of the VMOS.

The network identifies at most ``max_obj_num`` (10) objects at once through its ID bank (slot 0 is the
background). More objects are split into groups of 10 that share the image features and are merged by
soft aggregation (aot-benchmark ``AOTInferEngine``). User ids are any positive ints, added at any time in
order of appearance (group 0 fills first, as the official split of ids 1..N); removed ids free nothing:
their slot stays reserved (the memory still holds its identity) but is masked out of every prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ObjectManager:
    """Maps user object ids to ``(group, slot)``, slots 1..``group_size``."""

    group_size: int = 10
    _slots: dict[int, tuple[int, int]] = field(default_factory=dict)
    _removed: set[int] = field(default_factory=set)
    _used: list[int] = field(default_factory=list)  # slots used per group (incl. removed)

    @property
    def object_ids(self) -> list[int]:
        """Active ids in output order (order of addition)."""
        return [i for i in self._slots if i not in self._removed]

    @property
    def num_groups(self) -> int:
        return len(self._used)

    def __contains__(self, obj_id: int) -> bool:
        return obj_id in self._slots and obj_id not in self._removed

    def check_new(self, obj_ids: list[int]) -> None:
        """Raise ``ValueError`` if any id could not be added (non-positive or removed earlier)."""
        for obj_id in obj_ids:
            if int(obj_id) <= 0:
                raise ValueError(f"object ids must be positive ints (0 is background), got {obj_id}")
            if int(obj_id) in self._removed:
                raise ValueError(f"object id {obj_id} was removed and cannot be re-added; use a new id")

    def add(self, obj_ids: list[int]) -> list[int]:
        """Register new ids (already known ones are ignored); returns the groups that gained objects."""
        touched: list[int] = []
        for obj_id in obj_ids:
            obj_id = int(obj_id)
            if obj_id <= 0:
                raise ValueError(f"object ids must be positive ints (0 is background), got {obj_id}")
            if obj_id in self._slots:
                if obj_id in self._removed:
                    raise ValueError(f"object id {obj_id} was removed and cannot be re-added; use a new id")
                continue
            if not self._used or self._used[-1] >= self.group_size:
                self._used.append(0)
            group = len(self._used) - 1
            self._used[group] += 1
            self._slots[obj_id] = (group, self._used[group])
            if group not in touched:
                touched.append(group)
        return touched

    def remove(self, obj_id: int) -> None:
        if obj_id not in self:
            raise KeyError(f"unknown object id {obj_id}; known: {self.object_ids}")
        self._removed.add(obj_id)

    def slot(self, obj_id: int) -> tuple[int, int]:
        """``(group, slot)`` of an active id."""
        if obj_id not in self:
            raise KeyError(f"unknown object id {obj_id}; known: {self.object_ids}")
        return self._slots[obj_id]

    def group_objects(self, group: int) -> list[tuple[int, int]]:
        """Active ``(obj_id, slot)`` pairs of ``group``."""
        return [(i, s) for i, (g, s) in self._slots.items() if g == group and i not in self._removed]
