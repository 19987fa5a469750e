"""Numeric precision as one named setting: ``fp32`` | ``bf16`` | ``fp16`` | ``auto``.

``fp32`` is exact (what the parity tests use). ``bf16`` / ``fp16`` run the network under
``torch.autocast`` (weights stay fp32: matmuls and convolutions run in the low precision, reductions and
softmax where autocast keeps them in fp32). ``auto`` picks, honestly and once:

- CUDA: bf16 where the GPU supports it, else fp16;
- CPU: bf16 when the CPU has a bf16 matrix instruction (AMX-BF16 or AVX512-BF16) and torch may use it, else
  fp32 (an ISA cap, ``ONEDNN_MAX_CPU_ISA`` / ``ATEN_CPU_CAPABILITY`` below AVX-512, leaves bf16 emulated);
- anything else (MPS, ...): fp32.

:func:`resolve_precision` returns a :class:`PrecisionChoice` that says what was chosen and why, for the first
log line of a run.
"""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import torch

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16", "auto")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


# oneDNN ISA names (``ONEDNN_MAX_CPU_ISA``) under which no bf16 instruction is used, and ATen's capabilities
# (``ATEN_CPU_CAPABILITY``) below AVX-512: either cap makes bf16 matmuls emulated although the CPU has them.
_ONEDNN_NO_BF16 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI")
_ATEN_NO_BF16 = ("DEFAULT", "AVX2")


def _isa_cap() -> str | None:
    """The environment variable that stops torch from using this CPU's bf16 instructions, or None."""
    for var in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        value = os.environ.get(var, "").upper()
        if value in _ONEDNN_NO_BF16:
            return f"{var}={value}"
    value = os.environ.get("ATEN_CPU_CAPABILITY", "").upper()
    if value in _ATEN_NO_BF16:
        return f"ATEN_CPU_CAPABILITY={value.lower()}"
    return None


@dataclass(frozen=True)
class CpuBf16Support:
    """Which bf16 instructions this CPU has (read from ``/proc/cpuinfo`` and torch), and whether an ISA cap in the
    environment (``capped_by``) stops torch from using them."""

    amx_bf16: bool
    avx512_bf16: bool
    source: str
    capped_by: str | None = None

    @property
    def any(self) -> bool:
        """True when torch can run bf16 matmuls natively here (an instruction exists and no cap hides it)."""
        return (self.amx_bf16 or self.avx512_bf16) and self.capped_by is None

    def describe(self) -> str:
        if self.amx_bf16 or self.avx512_bf16:
            name = "AMX-BF16" if self.amx_bf16 else "AVX512-BF16 (no AMX)"
            return name if self.capped_by is None else f"{name}, unused under {self.capped_by}"
        return "no bf16 instruction"


@lru_cache(maxsize=1)
def cpu_bf16_support() -> CpuBf16Support:
    """Detect AMX-BF16 / AVX512-BF16 on this CPU, and an ISA cap set in the environment."""
    flags = cpu_flags()
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
    return CpuBf16Support(amx_bf16=amx, avx512_bf16=avx, source=source, capped_by=_isa_cap())


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    return frozenset()


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else :func:`platform.processor`)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_cpu() -> str:
    """One line naming the CPU kind a figure or a test run comes from: model, the vector/bf16 features that change
    kernels and rounding (AVX-512, AVX512-BF16, AMX), torch's kernel level, threads and what ``auto`` picks, e.g.
    ``AMD EPYC; AVX2 AVX-512 AVX512-BF16; torch kernels AVX512; 2 threads; auto precision: bf16``."""
    flags = cpu_flags()
    names = [name for flag, name in (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "AVX512-BF16"),
                                     ("amx_bf16", "AMX-BF16")) if flag in flags]
    support = cpu_bf16_support()
    cap = f" ({support.capped_by})" if support.capped_by else ""
    return (f"{cpu_model()}; {' '.join(names) or 'no AVX2/AVX-512/AMX flags read'}; torch kernels "
            f"{torch.backends.cpu.get_cpu_capability()}{cap}; {torch.get_num_threads()} threads; auto precision: "
            f"{resolve_precision('auto').name}")


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
            if support.amx_bf16 or support.avx512_bf16:
                return PrecisionChoice("fp32", kind, f"auto: the CPU has {support.describe()}")
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


__all__ = ["PRECISIONS", "CpuBf16Support", "PrecisionChoice", "cpu_bf16_support", "cpu_flags", "cpu_model",
           "describe_cpu", "resolve_precision", "autocast_for"]
