"""Numeric precision as one named setting: ``fp32`` | ``bf16`` | ``fp16`` | ``auto``.

``fp32`` is exact (what the parity tests use). ``bf16`` / ``fp16`` run the network under
``torch.autocast`` (weights stay fp32: matmuls and convolutions run in the low precision, reductions and
softmax where autocast keeps them in fp32). ``auto`` picks, honestly and once:

- CUDA: bf16 where the GPU supports it, else fp16;
- CPU: bf16 when the CPU has a bf16 matrix instruction (AMX-BF16 or AVX512-BF16), else fp32;
- anything else (MPS, ...): fp32.

:func:`resolve_precision` returns a :class:`PrecisionChoice` that says what was chosen and why, for the first
log line of a run.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import torch

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16", "auto")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class CpuBf16Support:
    """Which bf16 instructions this CPU has (read from torch, falling back to ``/proc/cpuinfo``)."""

    amx_bf16: bool
    avx512_bf16: bool
    source: str

    @property
    def any(self) -> bool:
        return self.amx_bf16 or self.avx512_bf16

    def describe(self) -> str:
        if self.amx_bf16:
            return "AMX-BF16"
        if self.avx512_bf16:
            return "AVX512-BF16 (no AMX)"
        return "no bf16 instruction"


@lru_cache(maxsize=1)
def cpu_bf16_support() -> CpuBf16Support:
    """Detect AMX-BF16 / AVX512-BF16 on this CPU."""
    flags: set[str] = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                flags.update(line.split(":", 1)[1].split())
                break
    amx = "amx_bf16" in flags
    avx = "avx512_bf16" in flags
    source = "/proc/cpuinfo" if flags else "torch"
    cpu_mod = getattr(torch._C, "_cpu", None)
    if cpu_mod is not None:  # torch's own cpuinfo (also works where /proc is absent, e.g. macOS)
        try:
            amx = amx or bool(cpu_mod._is_amx_tile_supported())
            avx = avx or bool(cpu_mod._is_avx512_bf16_supported())
        except AttributeError:
            pass
    return CpuBf16Support(amx_bf16=amx, avx512_bf16=avx, source=source)


@dataclass(frozen=True)
class PrecisionChoice:
    """A resolved precision: ``name`` in ``fp32|bf16|fp16``, the device type it applies to and why."""

    name: str
    device_type: str
    reason: str

    @property
    def dtype(self) -> torch.dtype:
        return _DTYPES[self.name]

    @property
    def reduced(self) -> bool:
        """True when the network runs under autocast (bf16 / fp16)."""
        return self.name != "fp32"

    def autocast(self) -> contextlib.AbstractContextManager:
        """``torch.autocast`` for this choice (a no-op context for fp32)."""
        if not self.reduced:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def describe(self) -> str:
        return f"{self.name} ({self.reason})"


def _device_type(device: str | torch.device | None) -> str:
    if device is None:
        return "cpu"
    return torch.device(device).type


def resolve_precision(precision: str | PrecisionChoice = "fp32",
                      device: str | torch.device | None = "cpu") -> PrecisionChoice:
    """Resolve ``fp32|bf16|fp16|auto`` for ``device``; ``ValueError`` naming the problem otherwise."""
    if isinstance(precision, PrecisionChoice):
        return precision
    name = str(precision).lower()
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    kind = _device_type(device)
    if name == "auto":
        if kind == "cuda":
            if torch.cuda.is_bf16_supported():
                return PrecisionChoice("bf16", kind, "auto: the GPU supports bf16")
            return PrecisionChoice("fp16", kind, "auto: the GPU has no bf16, fp16 instead")
        if kind == "cpu":
            support = cpu_bf16_support()
            if support.any:
                return PrecisionChoice("bf16", kind, f"auto: the CPU has {support.describe()}")
            return PrecisionChoice("fp32", kind, "auto: the CPU has no bf16 instruction")
        return PrecisionChoice("fp32", kind, f"auto: fp32 on {kind}")
    if name == "fp16" and kind == "cpu":
        raise ValueError("precision fp16 is for GPUs; on the CPU use bf16 (or auto)")
    if name == "bf16" and kind == "cpu":
        support = cpu_bf16_support()
        why = f"requested; the CPU has {support.describe()}"
        if not support.any:
            why += ": bf16 is emulated and slower than fp32 here"
        return PrecisionChoice("bf16", kind, why)
    return PrecisionChoice(name, kind, "requested")


@contextlib.contextmanager
def autocast_for(precision: str | PrecisionChoice, device: str | torch.device | None = "cpu") -> Iterator[PrecisionChoice]:
    """``with autocast_for("bf16", device) as choice:`` runs the block under the resolved precision."""
    choice = resolve_precision(precision, device)
    with choice.autocast():
        yield choice


__all__ = ["PRECISIONS", "CpuBf16Support", "PrecisionChoice", "cpu_bf16_support", "resolve_precision",
           "autocast_for"]
