"""Accuracy of reduced precision, measured: the same weights run in fp32 and in bf16 (or fp16 on a GPU).

- :func:`compare_precisions`: one sequence through two :class:`~hqtrack_core.inference.engine.VMOSTracker` s
  built from the same network, fp32 and the reduced precision, frame by frame; per propagated frame the max
  ``|logit difference|`` (merged logits at the image size) and the share of pixels whose label agrees. Each side
  writes its *own* prediction into its memory, as a user's run would (differences can accumulate).
- :func:`dev_jf_by_precision`: J&F on the DAVIS-2016 dev sequences, fp32 vs bf16, run exactly as a user would:
  ``hqtrack track SEQ --mask 00000.png --short-edge 240 --precision P`` then ``hqtrack eval davis``.

``python -m hqtrack_core.evaluation.precision_agreement [--write]`` prints both (and with ``--write`` merges
``fast_jf_fp32_dev``, ``fast_jf_bf16_dev``, ``fast_jf_delta_dev``, ``bf16_label_agreement_min_dev`` (first 20
frames of each sequence) and ``fast_jf_loadavg`` into ``figures/bench.json``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..inference.engine import ResizePolicy, VMOSTracker
from ..inference.memory import MemoryPolicy, memory_policy


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
    for index, (stem, image) in enumerate(frames):
        if max_frames is not None and index >= max_frames:
            break
        if index == 0:
            exact.step(image, mask)
            low.step(image, mask)
            continue
        a, b = exact.step(image), low.step(image)
        result.stems.append(stem)
        result.max_abs_logit_diff.append(float((a.logits - b.logits.float()).abs().max()))
        result.label_agreement.append(float(np.mean(a.labels == b.labels)))
    if not result.stems:
        raise ValueError("compare_precisions needs at least two frames (the prompt and one to propagate)")
    return result


def dev_jf_by_precision(data_root: str | Path | None = None, precisions: Sequence[str] = ("fp32", "bf16"),
                        short_edge: int = 240, sequences: Sequence[str] | None = None,
                        work_dir: str | Path | None = None) -> dict[str, float]:
    """J&F of the default model on the DAVIS-2016 dev sequences for each precision, through the ``hqtrack track``
    and ``hqtrack eval davis`` commands. Returns ``{"fast_jf_<p>_dev": J&F, "fast_jf_<p>_<seq>": J&F, ...}`` and,
    for exactly two precisions, ``fast_jf_delta_dev`` (second minus first)."""
    from ..cli import main
    from ..evaluation.davis import evaluate_davis
    from ..paths import data_root as default_data_root

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
            for name in names:
                code = main(["track", str(frames_root / name), "--mask", str(gt_root / name / "00000.png"),
                             "--out", str(pred / name), "--short-edge", str(short_edge),
                             "--precision", precision, "--device", "cpu"])
                if code != 0:
                    raise RuntimeError(f"hqtrack track failed on {name} ({precision}), exit {code}")
            score = evaluate_davis(gt_root, pred, sequences=names)
            figures[f"fast_jf_{precision}_dev"] = float(score.measures()["JF"])
            for name in names:
                figures[f"fast_jf_{precision}_{name}"] = float(score.sequences[name].JF)
    if len(precisions) == 2:
        figures["fast_jf_delta_dev"] = figures[f"fast_jf_{precisions[1]}_dev"] - figures[f"fast_jf_{precisions[0]}_dev"]
    return figures


def _main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import os

    parser = argparse.ArgumentParser(prog="python -m hqtrack_core.evaluation.precision_agreement",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short-edge", type=int, default=240)
    parser.add_argument("--sequences", nargs="+", help="default: ImageSets/dev.txt")
    parser.add_argument("--agreement-frames", type=int, default=20,
                        help="frames per sequence for the logit / label comparison (default 20; 0 = skip it)")
    parser.add_argument("--write", action="store_true", help="merge the J&F figures into figures/bench.json")
    args = parser.parse_args(argv)

    from ..data.frames import open_frames
    from ..data.masks import read_mask
    from ..hub import card_flip, card_memory, load_vmos_model, model_card_of
    from ..paths import data_root

    root = data_root()
    if root is None:
        raise SystemExit("no shared data: set HQTRACK_DATA")
    davis = root / "davis2016"
    names = args.sequences or (davis / "ImageSets" / "dev.txt").read_text().split()
    net, description = load_vmos_model()
    resize = ResizePolicy(min_short_edge=args.short_edge, max_short_edge=args.short_edge)
    card = model_card_of()
    memory = card_memory(card)  # the card's policy and flip, as `hqtrack track` below uses
    flip = card_flip(card)
    policy = memory_policy(memory)
    figures: dict[str, float] = {}
    for name in names if args.agreement_frames else []:
        frames = open_frames(davis / "JPEGImages" / "480p" / name)
        mask = read_mask(davis / "Annotations" / "480p" / name / "00000.png").astype(np.int64)
        agree = compare_precisions(net.eval(), frames, mask, "bf16", policy=policy, resize=resize,
                                   max_frames=args.agreement_frames, flip=flip)
        print(f"{name}: bf16 vs fp32 over {len(agree.stems)} frames: labels agree min {agree.min_agreement:.5f} "
              f"mean {agree.mean_agreement:.5f}; max |logit diff| worst {agree.worst_logit_diff:.3f} "
              f"median {float(np.median(agree.max_abs_logit_diff)):.3f}")
        figures[f"bf16_label_agreement_min_{name}"] = agree.min_agreement
        figures[f"bf16_max_abs_logit_diff_{name}"] = agree.worst_logit_diff
    if args.agreement_frames:
        figures["bf16_label_agreement_min_dev"] = min(figures[f"bf16_label_agreement_min_{n}"] for n in names)
    jf = dev_jf_by_precision(root, short_edge=args.short_edge, sequences=names)
    figures.update(jf)
    figures["fast_jf_loadavg"] = os.getloadavg()[0]
    print(f"model {description}, short edge {args.short_edge}, memory {memory}, flip {flip}: "
          f"J&F fp32 {jf['fast_jf_fp32_dev']:.4f}, bf16 {jf['fast_jf_bf16_dev']:.4f}, "
          f"delta {jf['fast_jf_delta_dev']:+.4f}")
    print(json.dumps(figures, indent=2))
    if args.write:
        from ..bench.record import update_bench

        update_bench({k: round(v, 6) for k, v in figures.items() if k in BENCH_KEYS})
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
