"""The tracker options shared by ``hqtrack track`` and ``hqtrack vot`` (model, checkpoint, refiner, memory, short
edge, flip, device, precision), declared: ``add_tracker_options(parser)``. Their choices are the registries' names
(:mod:`.choices`); checking them and turning them into an InferenceConfig is ``hqtrack_core.commands.tracker_options``.
"""

from __future__ import annotations

import argparse

from .choices import CLI_PRECISIONS, MEMORY_POLICIES, REFINERS


def add_tracker_options(p: argparse.ArgumentParser) -> None:
    """Register the tracker options on ``p`` (defaults ``None`` mean: the model card's choice)."""
    p.add_argument("--model", default=None,
                   help="model preset name (default: the committed teaching model, hqtrack_teach)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint path: ours (.safetensors) or official aot-benchmark/HQTrack (.pth); "
                        "'none' = random weights (mechanics only)")
    p.add_argument("--refiner", choices=REFINERS, default=None,
                   help="mask refiner (default: the model card's preferred refiner; 'none' without a card)")
    p.add_argument("--refiner-checkpoint", default=None, help="HQ-SAM / SAM checkpoint (.pth)")
    p.add_argument("--refiner-model", default="vit_tiny", help="HQ-SAM / SAM model type (vit_tiny|vit_b|vit_l|vit_h)")
    p.add_argument("--refiner-threshold", type=float, default=0.1,
                   help="IoU selector: keep a refined mask only if IoU(refined, VMOS) >= this (default 0.1)")
    p.add_argument("--refiner-box-margin", type=float, default=0.0,
                   help="HQ-SAM / SAM: grow each box by this fraction of its size per side (released: 0)")
    p.add_argument("--refiner-single-mask", action="store_true",
                   help="HQ-SAM / SAM: the decoder's single-mask output (released: multimask, best by predicted IoU)")
    p.add_argument("--refiner-hq-token-only", action="store_true",
                   help="HQ-SAM: the HQ mask alone (released: HQ mask + SAM's best mask)")
    p.add_argument("--memory", choices=MEMORY_POLICIES, default=None,
                   help=f"memory policy preset ({'|'.join(MEMORY_POLICIES)}); default: the model card's preferred "
                        "policy ('released' without a card)")
    p.add_argument("--short-edge", type=int, default=None,
                   help="run the network at this short edge (masks are written at the input size); "
                        "default: the model card's preferred short edge (the input size without a card)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="test-time flip: also run each frame mirrored and average the two (twice the compute); "
                        "default: the model card's preference (off without a card)")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda|cuda:N|mps")
    p.add_argument("--precision", choices=CLI_PRECISIONS, default=None,
                   help="network precision (default: the model card's preferred precision; auto without a card): "
                        "auto = bf16 where the CPU has AMX/AVX512-BF16 or the GPU "
                        "supports it, else fp32; fp32 = exact; masks are the same format either way")
