"""What an ablation row run depends on (:class:`AblationSettings`, stored in the row's JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..refine.faulty import FaultRates

SCALES: tuple[str, ...] = ("teach", "paper")


@dataclass(frozen=True)
class AblationSettings:
    """Everything a row run depends on (stored in the output JSON).

    ``short_edge``: network input short edge (teach: 240; paper: 480, HQTrack's test size). ``max_frames``: frames
    per clip (``None``: all). ``data_short_edge``: generated clips (ping-pong, composites) are built at this short
    edge. ``checkpoint``: the VMOS of rows 3-6 (``None``: the committed teaching model); ``variant_checkpoints``:
    rows 1-2, one per variant name.
    """

    scale: str = "teach"
    split: str | None = None
    sequences: tuple[str, ...] | None = None
    resolution: str | None = None  # None: the JPEGImages/<res> folder that holds the sequences
    model: str | None = None
    checkpoint: str | None = None
    variant_checkpoints: dict[str, str] = field(default_factory=dict)
    refiner_checkpoint: str | None = None
    refiner_model: str | None = None  # None: vit_tiny at teaching scale, vit_h (HQTrack's HQ-SAM) at paper scale
    refiner_faults: str | None = None  # e.g. "default": proposals fail at documented rates (refine.faulty)
    short_edge: int | None = None  # None: the scale's default
    precision: str = "auto"  # bf16 only where the CPU runs it natively (hqtrack_core.precision)
    memory: str = "released"
    max_frames: int | None = None
    frame_stride: int = 1
    pingpong_factor: float = 4.0
    data_short_edge: int | None = None
    composites: int = 3
    long_clips: int = 0  # memory row: this many long clips with exits and occlusions (0: ping-pong videos)
    long_length: int = 600
    long_scale: tuple[float, float] = (1.0, 1.0)  # memory row: the target's start size / its own (a range)
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"--scale must be one of {', '.join(SCALES)}, got {self.scale!r}")
        if self.refiner_model is None:
            object.__setattr__(self, "refiner_model", "vit_h" if self.scale == "paper" else "vit_tiny")
        if self.frame_stride < 1:
            raise ValueError(f"frame stride must be >= 1, got {self.frame_stride}")
        if self.refiner_faults:
            FaultRates.parse(self.refiner_faults)  # a bad rate fails before any work
        if self.long_clips < 0 or (self.long_clips and self.long_length < 100):
            raise ValueError(f"--long-clips must be >= 0 and --long-length >= 100, got {self.long_clips}, "
                             f"{self.long_length}")
        lo, hi = self.long_scale
        if not 0 < lo <= hi:
            raise ValueError(f"--long-scale must be LO,HI with 0 < LO <= HI (the target's size over its own), "
                             f"got {lo},{hi}")
        if self.max_frames is not None and self.max_frames < 3:
            raise ValueError(f"--max-frames must be >= 3 (J&F drops the first and last frames), got {self.max_frames}")

    @property
    def network_short_edge(self) -> int:
        return self.short_edge or (240 if self.scale == "teach" else 480)
