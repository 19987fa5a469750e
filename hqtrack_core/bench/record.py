"""``figures/bench.json``: one flat JSON object of named benchmark figures, merged by every benchmark.

Each benchmark writes only its own keys (see ``hqtrack_core/bench/__init__.py`` for the key list); the
file is rewritten atomically so an interrupted run never leaves it half-written.

Beside the figures, two keys say which CPU each figure was measured on: ``measured_on`` maps a figure's key to a
CPU kind (:func:`cpu_slug`), and ``cpus`` maps the kind to its record (:func:`cpu_record`: model, AVX2 / AVX-512 /
AVX512-BF16 / AMX-BF16 flags, torch's kernel level, an ISA cap set in the environment). Every write fills them for
the keys it writes; figures written before this record existed have no entry (their CPU is named in the README).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from ..atomic import write_json_atomic
from ..paths import committed_figures_dir
from ..precision import cpu_flags, cpu_model

CPU_KEYS = ("measured_on", "cpus")


def cpu_record(threads: int | None = None) -> dict[str, Any]:
    """The CPU this process runs on: model name, the flags that decide the kernels, the ISA torch uses, an ISA cap
    set in the environment (``ATEN_CPU_CAPABILITY`` / ``ONEDNN_MAX_CPU_ISA``), and ``threads`` when given."""
    flags = cpu_flags()
    record = {
        "cpu": cpu_model(),
        "avx2": "avx2" in flags, "avx512f": "avx512f" in flags, "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "isa_cap": {k: os.environ[k] for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if k in os.environ},
        "torch": torch.__version__,
    }
    return record if threads is None else {**record, "threads": threads}


def cpu_slug(record: dict[str, Any]) -> str:
    """A key naming the CPU kind: the model, its bf16 features and the ISA cap when one is set, e.g.
    ``amd_epyc_avx512_bf16`` or ``amd_epyc_avx512_bf16_avx2`` (capped to AVX2)."""
    features = "_amx_bf16" if record["amx_bf16"] else "_avx512_bf16" if record["avx512_bf16"] else \
        "_avx512" if record["avx512f"] else "_avx2" if record["avx2"] else ""
    caps = dict.fromkeys(v.lower() for v in record["isa_cap"].values())  # the same ISA named by both variables: once
    text = record["cpu"] + features + "".join(f"_cap_{v}" for v in caps)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def bench_path() -> Path:
    return committed_figures_dir() / "bench.json"


def read_bench(path: Path | None = None) -> dict[str, Any]:
    path = path or bench_path()
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def update_bench(values: dict[str, Any], path: Path | None = None, cpu: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    """Merge ``values`` into the bench file (atomic replace), note the CPU they were measured on (``cpu``, default
    this process's :func:`cpu_record`) and return the merged content."""
    path = path or bench_path()
    merged = read_bench(path)
    merged.update(values)
    cpu = {k: v for k, v in (cpu or cpu_record()).items() if k != "threads"}
    slug = cpu_slug(cpu)
    merged["cpus"] = {**merged.get("cpus", {}), slug: cpu}
    merged["measured_on"] = dict(sorted({**merged.get("measured_on", {}), **dict.fromkeys(values, slug)}.items()))
    write_json_atomic(path, dict(sorted(merged.items())))
    return merged


def report(values: dict[str, Any], record: bool = True) -> None:
    """The end of every benchmark command: merge ``values`` into the bench file (unless ``record`` is false) and
    print them as JSON."""
    if record:
        update_bench(values)
    print(json.dumps(values, indent=2), flush=True)
