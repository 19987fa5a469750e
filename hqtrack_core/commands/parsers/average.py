"""``hqtrack average A.safetensors B.safetensors ... --out SOUP.safetensors``: weight averaging ("model soup").

Every weight of the output is the mean of that weight in the inputs: VMOS checkpoints of one architecture,
best fine-tuned from the same parent (e.g. several ``hqtrack train --init PARENT`` continuations). The output
keeps the first input's config and model card (``--notes`` replaces the card's notes) and lists its inputs,
with their SHA-256, in its metadata. Nothing is written when the inputs do not match or the output exists
(``--force`` replaces it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import SUMMARIES


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("average", help=SUMMARIES["average"],
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", type=Path, help="two or more VMOS .safetensors checkpoints")
    p.add_argument("--out", required=True, type=Path, help="the averaged checkpoint (.safetensors)")
    p.add_argument("--notes", default=None, help="replace the model card's notes")
    p.add_argument("--steps", default=None, help="replace the model card's steps text")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(handler="run")
