"""The names the ``hqtrack`` parsers offer (``--memory``, ``--refiner``, ``--precision``, ablation rows, training
presets), without the registries behind them: those live in packages whose ``__init__`` loads torch and the networks'
code, seconds that ``--help`` and a usage error must not pay.

Each tuple equals its registry's names, in the registry's order (tests/test_cli_options.py checks it): a name added to
a registry is added here too.
"""

from __future__ import annotations

# hqtrack_core.inference.memory.MEMORY_PRESETS
MEMORY_POLICIES: tuple[str, ...] = ("deaot", "released", "paper")
# hqtrack_core.refine.build.REFINER_KINDS
REFINERS: tuple[str, ...] = ("none", "hqsam", "sam", "classical")
# hqtrack_core.precision.PRECISIONS
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16", "auto")
# hqtrack_core.ablation.rows.ROW_NAMES
ABLATION_ROWS: tuple[str, ...] = ("backbone", "multiscale", "memory", "threshold", "refiner", "joint")
# hqtrack_core.training.config.PRESETS (the built-in presets)
TRAIN_PRESETS: tuple[str, ...] = (
    "paper_stage1", "paper_stage2", "cpu_teach_stage1", "cpu_teach_stage2", "cpu_teach3_stage1", "cpu_teach3_stage2",
    "ci_smoke",
    "cpu_teach_stage1_single_scale", "cpu_teach_stage2_single_scale", "cpu_teach_stage1_fpn_head",
    "cpu_teach_stage2_fpn_head", "cpu_teach_stage1_resnet50", "cpu_teach_stage2_resnet50",
    "cpu_teach_stage1_internimage_t", "cpu_teach_stage2_internimage_t")

# fp16 runs on GPUs only (the tracker refuses it on a CPU): the tracker options offer the others.
CLI_PRECISIONS: tuple[str, ...] = tuple(p for p in PRECISIONS if p != "fp16")
