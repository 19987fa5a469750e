"""Accuracy of reduced precision, measured: the same weights run in fp32 and in bf16 (or fp16 on a GPU).

- :func:`compare_precisions`: one sequence through two :class:`~hqtrack_core.inference.engine.VMOSTracker` s
  built from the same network, fp32 and the reduced precision, frame by frame; per propagated frame the max
  ``|logit difference|`` (merged logits at the image size) and the share of pixels whose label agrees. Each side
  writes its *own* prediction into its memory, as a user's run would (differences can accumulate).
- :func:`dev_jf_by_precision`: J&F on the DAVIS-2016 dev sequences, fp32 vs bf16, run as ``hqtrack track SEQ
  --mask 00000.png --short-edge 240 --precision P`` then ``hqtrack eval davis`` run them: the same config (the
  model card's, with the short edge and precision given), the same video loop, masks written and scored as files.

``python -m hqtrack_core.bench.precision [--write]`` prints both (and with ``--write`` merges them into
``figures/bench.json``).
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..api import InferenceConfig, build_tracker, track_video
from ..data.frames import open_frames
from ..data.masks import read_prompt_mask, write_mask
from ..evaluation.davis import evaluate_davis
from ..inference.engine import ResizePolicy, VMOSTracker
from ..inference.memory import MemoryPolicy, memory_policy
from ..paths import data_root as default_data_root

BENCH_KEYS: tuple[str, ...] = ("fast_jf_fp32_dev", "fast_jf_bf16_dev", "fast_jf_delta_dev",
                               "bf16_label_agreement_min_dev", "fast_jf_loadavg")


@dataclass(frozen=True)
class PrecisionAgreement:
    """Per propagated frame (the prompt frame 0 is excluded): fp32 vs ``precision``.

    Attributes:
        precision: the reduced precision compared with fp32 (``"bf16"``).
        stems: frame names, in order.
        max_abs_logit_diff: ``max |logits_fp32 - logits_low|`` over the image, per frame.
        label_agreement: share of pixels with the same label, per frame.
    """

    precision: str
    stems: list[str] = field(default_factory=list)
    max_abs_logit_diff: list[float] = field(default_factory=list)
    label_agreement: list[float] = field(default_factory=list)

    @property
    def min_agreement(self) -> float:
        return min(self.label_agreement) if self.label_agreement else 1.0

    @property
    def mean_agreement(self) -> float:
        return float(np.mean(self.label_agreement)) if self.label_agreement else 1.0

    @property
    def worst_logit_diff(self) -> float:
        return max(self.max_abs_logit_diff) if self.max_abs_logit_diff else 0.0


def compare_precisions(model: torch.nn.Module, frames: Iterable[tuple[str, np.ndarray]], mask: np.ndarray,
                       precision: str = "bf16", policy: MemoryPolicy | None = None,
                       resize: ResizePolicy | None = None, device: str | torch.device = "cpu",
                       max_frames: int | None = None, flip: bool = False) -> PrecisionAgreement:
    """Track ``frames`` (``(stem, HxWx3 uint8)`` pairs, the first prompted by ``mask`` ``HxW`` ids) with ``model``
    in fp32 and in ``precision`` (both with the test-time flip when ``flip``); see :class:`PrecisionAgreement`."""
    policy = policy or memory_policy("released")
    exact = VMOSTracker(model, policy=policy, device=device, resize=resize, precision="fp32", flip=flip)
    low = VMOSTracker(model, policy=policy, device=device, resize=resize, precision=precision, flip=flip)
    if not low.precision.reduced:
        raise ValueError(f"precision {precision!r} resolved to fp32 here: nothing to compare")
    result = PrecisionAgreement(low.precision.name)
    frames = list(frames if max_frames is None else itertools.islice(frames, max_frames))
    prompts = {frames[0][0]: mask} if frames else {}
    for a, b in zip(track_video(exact, frames, prompts, outputs=True), track_video(low, frames, prompts, outputs=True)):
        if a.index == 0:
            continue
        result.stems.append(a.stem)
        result.max_abs_logit_diff.append(float((a.output.logits - b.output.logits.float()).abs().max()))
        result.label_agreement.append(float(np.mean(a.labels == b.labels)))
    if not result.stems:
        raise ValueError("compare_precisions needs at least two frames (the prompt and one to propagate)")
    return result


def dev_jf_by_precision(data_root: str | Path | None = None, precisions: Sequence[str] = ("fp32", "bf16"),
                        short_edge: int = 240, sequences: Sequence[str] | None = None,
                        work_dir: str | Path | None = None) -> dict[str, float]:
    """J&F of the default model on the DAVIS-2016 dev sequences for each precision, as ``hqtrack track`` (the model
    card's config with ``short_edge`` and the precision, on the CPU) and ``hqtrack eval davis`` give it. Returns
    ``{"fast_jf_<p>_dev": J&F, "fast_jf_<p>_<seq>": J&F, ...}`` and, for exactly two precisions,
    ``fast_jf_delta_dev`` (second minus first)."""
    root = Path(data_root) if data_root is not None else default_data_root()
    if root is None:
        raise FileNotFoundError("no shared data: set HQTRACK_DATA (DAVIS-2016 dev sequences are needed)")
    davis = root / "davis2016"
    frames_root, gt_root = davis / "JPEGImages" / "480p", davis / "Annotations" / "480p"
    names = list(sequences) if sequences else (davis / "ImageSets" / "dev.txt").read_text().split()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        for precision in precisions:
            pred = Path(tmp) / precision
            config = InferenceConfig.from_card(short_edge=short_edge, precision=precision, device="cpu")
            pipeline = build_tracker(config)
            for name in names:
                pipeline.tracker.reset()  # a new video, the same networks
                frames = open_frames(frames_root / name)
                mask = read_prompt_mask(gt_root / name / "00000.png", frames.size)
                (pred / name).mkdir(parents=True)
                for frame in track_video(pipeline, frames, {frames.stems[0]: mask}):
                    write_mask(pred / name / f"{frame.stem}.png", frame.labels)
            score = evaluate_davis(gt_root, pred, sequences=names)
            figures[f"fast_jf_{precision}_dev"] = float(score.measures()["JF"])
            for name in names:
                figures[f"fast_jf_{precision}_{name}"] = float(score.sequences[name].JF)
    if len(precisions) == 2:
        figures["fast_jf_delta_dev"] = figures[f"fast_jf_{precisions[1]}_dev"] - figures[f"fast_jf_{precisions[0]}_dev"]
    return figures
