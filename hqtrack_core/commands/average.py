"""``hqtrack average``: the weight averaging (the parser and the command's description:
``hqtrack_core.commands.parsers.average``)."""

from __future__ import annotations

import argparse

from ..model.card import read_model_card
from ..model.soup import average_checkpoints


def run(args: argparse.Namespace) -> int:
    card = read_model_card(args.inputs[0])
    changes = {k: v for k, v in (("notes", args.notes), ("steps", args.steps)) if v is not None}
    if changes:
        if card is None:
            raise ValueError(f"{args.inputs[0]} has no model card to change (--notes / --steps)")
        card = card.replace(**changes)
    out = average_checkpoints(args.inputs, args.out, card=card, overwrite=args.force)
    print(f"hqtrack average: wrote {out}, the mean of {len(args.inputs)} checkpoints")
    return 0
