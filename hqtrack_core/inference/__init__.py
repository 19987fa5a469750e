"""Per-video inference: the VMOS tracker (``step(image, mask)``), typed memory, object groups."""

from .engine import (HQTRACK_RESIZE, OFFICIAL_RESIZE, GroupEngine, ResizePolicy, StepOutput, VMOSTracker,
                     normalize_image, soft_aggregate)
from .memory import MEMORY_PRESETS, MemoryEntry, MemoryPolicy, MemoryState, memory_policy
from .objects import ObjectManager

__all__ = ["VMOSTracker", "GroupEngine", "StepOutput", "ResizePolicy", "OFFICIAL_RESIZE", "HQTRACK_RESIZE",
           "normalize_image", "soft_aggregate", "MemoryPolicy", "MemoryState", "MemoryEntry", "MEMORY_PRESETS",
           "memory_policy", "ObjectManager"]
