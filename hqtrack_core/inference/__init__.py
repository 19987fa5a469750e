"""Per-video inference: the VMOS tracker (``step(image, mask)``), typed memory, object groups."""

from .engine import StepOutput, VMOSTracker
from .group import GroupEngine
from .memory import MEMORY_PRESETS, MemoryEntry, MemoryPolicy, MemoryState, memory_policy
from .merge import soft_aggregate
from .objects import ObjectManager
from .preprocess import HQTRACK_RESIZE, OFFICIAL_RESIZE, ResizePolicy

__all__ = ["VMOSTracker", "GroupEngine", "StepOutput", "ResizePolicy", "OFFICIAL_RESIZE", "HQTRACK_RESIZE",
           "soft_aggregate", "MemoryPolicy", "MemoryState", "MemoryEntry", "MEMORY_PRESETS",
           "memory_policy", "ObjectManager"]
