"""Box prompts as text: ``"x0,y0,x1,y1"`` (``hqtrack track --box``, notebook widgets) -> a checked box.

Here, in the data layer, rather than beside the mask-to-box code of ``hqtrack_core.refine.boxes`` (which re-exports
it): the ``hqtrack track`` parser reads ``--box`` with it, and importing ``hqtrack_core.refine`` loads torch.
"""

from __future__ import annotations

import math


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"x0,y0,x1,y1"`` (the ``--box`` option) -> a validated box tuple ``(x0, y0, x1, y1)`` in pixels."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 4:
        raise ValueError(f"a box is 'x0,y0,x1,y1' (4 numbers), got {text!r}")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"a box is 'x0,y0,x1,y1' (4 numbers), got {text!r}") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ValueError(f"box {text!r} has a value that is not a finite number (inf / nan)")
    if min(x0, y0) < 0:
        raise ValueError(f"box {text!r} starts left of / above the image: x0 and y0 are pixels, >= 0")
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"box {text!r} must have x1 > x0 and y1 > y0")
    return x0, y0, x1, y1
