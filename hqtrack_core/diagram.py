"""The HQTrack architecture as a matplotlib figure (notebooks 00 and 02).

The drawing is data: :data:`BLOCKS` (what each box says and where it sits) and :data:`ARROWS` (which box feeds
which); :func:`architecture_figure` only lays them out. The numbers shown come from the package: the released
memory policy (``MEMORY_PRESETS["released"]``) with the paper's where it differs, and the selector's default IoU
threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .inference.memory import MEMORY_PRESETS
from .refine.selector import DEFAULT_THRESHOLD

__all__ = ["Block", "BLOCKS", "ARROWS", "architecture_figure"]


@dataclass(frozen=True)
class Block:
    """A box of the diagram: centre ``(x, y)`` and size ``(w, h)`` in axis units (0..16 x 0..9)."""

    key: str
    text: str
    x: float
    y: float
    w: float = 2.2
    h: float = 1.0
    colour: str = "#dde8f5"


_VMOS, _MEM, _REF, _IO = "#dde8f5", "#fbe6c8", "#e3f1dc", "#eeeeee"
_RELEASED, _PAPER = MEMORY_PRESETS["released"], MEMORY_PRESETS["paper"]

BLOCKS: tuple[Block, ...] = (
    Block("frame", "frame t\n(RGB)", 1.2, 6.6, 1.8, 1.0, _IO),
    Block("encoder", "encoder\nInternImage-T\n(DCNv3)", 3.8, 6.6, 2.2, 1.3),
    Block("gpm16", "3 x GPM at 1/16\nlong-term global attn\n+ short-term 15x15 local\n+ gated self-attn",
          7.0, 6.6, 2.9, 1.7),
    Block("gpm8", "cascaded GPM\nat 1/8", 10.2, 6.6, 2.0, 1.1),
    Block("head", "decoder\n1/4 head (FPN)", 12.6, 6.6, 2.0, 1.1),
    Block("vmos_mask", "VMOS mask\n(object ids)", 14.9, 6.6, 1.8, 1.1, _IO),
    Block("long", f"long-term memory\nreference frame pinned\n+ one frame / {_RELEASED.long_term_gap}\n"
                  f"(at most {_RELEASED.max_long_term}; paper: {_PAPER.max_long_term})",
          5.2, 3.3, 2.9, 1.7, _MEM),
    Block("short", f"short-term memory\nframe t-{_RELEASED.short_term_skip}\n(paper: t-{_PAPER.short_term_skip})",
          8.8, 3.3, 2.3, 1.3, _MEM),
    Block("idbank", "ID bank\nmask -> identity\nembedding", 1.9, 3.3, 2.2, 1.3, _MEM),
    Block("box", "box per object\nfrom the VMOS mask", 14.9, 4.4, 2.0, 1.1, _REF),
    Block("hqsam", "HQ-SAM\n(image encoder,\nbox prompt, HQ token)", 14.9, 2.5, 2.2, 1.3, _REF),
    Block("selector", f"IoU selector\nIoU(refined, VMOS) >= {DEFAULT_THRESHOLD:g} ?\nrefined : VMOS",
          12.1, 0.9, 3.0, 1.2, _REF),
    Block("output", "output mask", 8.6, 0.9, 1.8, 0.8, _IO),
)

# (from, to, label); memory reads go up into the propagation, writes come down from the prediction
ARROWS: tuple[tuple[str, str, str], ...] = (
    ("frame", "encoder", ""),
    ("encoder", "gpm16", "1/16"),
    ("gpm16", "gpm8", ""),
    ("encoder", "gpm8", "1/8"),
    ("gpm8", "head", ""),
    ("head", "vmos_mask", ""),
    ("long", "gpm16", "read"),
    ("short", "gpm16", "read"),
    ("idbank", "long", "write"),
    ("vmos_mask", "box", ""),
    ("box", "hqsam", ""),
    ("hqsam", "selector", ""),
    ("vmos_mask", "selector", ""),
    ("selector", "output", ""),
)


def architecture_figure(figsize: tuple[float, float] = (14.0, 7.6)):
    """Draw :data:`BLOCKS` and :data:`ARROWS`: VMOS (top, blue), its memories and ID bank (middle, orange), the
    mask refiner (right and bottom, green). Returns the matplotlib ``Figure``."""
    blocks = {b.key: b for b in BLOCKS}
    fig, ax = plt.subplots(figsize=figsize)
    ax.set_xlim(0, 16.2)
    ax.set_ylim(0, 8.4)
    ax.set_axis_off()
    for b in BLOCKS:
        ax.add_patch(FancyBboxPatch((b.x - b.w / 2, b.y - b.h / 2), b.w, b.h, boxstyle="round,pad=0.05",
                                    facecolor=b.colour, edgecolor="0.3", linewidth=1.0))
        ax.text(b.x, b.y, b.text, ha="center", va="center", fontsize=9)

    def anchor(src: Block, dst: Block) -> tuple[float, float]:
        dx, dy = dst.x - src.x, dst.y - src.y
        if abs(dx) * src.h >= abs(dy) * src.w:  # leaves through a side
            return src.x + (src.w / 2) * (1 if dx > 0 else -1), src.y
        return src.x, src.y + (src.h / 2) * (1 if dy > 0 else -1)

    for a, b, label in ARROWS:
        src, dst = blocks[a], blocks[b]
        start, end = anchor(src, dst), anchor(dst, src)
        rad = 0.0
        if (a, b) == ("encoder", "gpm8"):  # the 1/8 features skip the 1/16 modules: under them
            start, end, rad = (src.x + 0.4, src.y - src.h / 2), (dst.x - 0.4, dst.y - dst.h / 2), 0.3
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color="0.25",
                                     linewidth=1.1, connectionstyle=f"arc3,rad={rad}", shrinkA=4, shrinkB=4))
        if label:
            sag = rad * abs(end[0] - start[0]) / 2
            mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2 - sag - (0.3 if rad else 0.0)
            ax.text(mx, my, label, fontsize=8, color="0.2", ha="center", va="bottom",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    ax.text(0.2, 8.15, "VMOS (DeAOT + multi-scale gated propagation)", fontsize=10, weight="bold", color="#2b5d9b")
    ax.text(0.2, 4.55, "memory (written from each frame's prediction + its ID embedding)", fontsize=10,
            weight="bold", color="#a86512")
    ax.text(9.9, 0.05, "mask refiner (HQ-SAM)", fontsize=10, weight="bold", color="#3d7a2a")
    ax.text(0.2, 1.9, "teaching model (hqtrack_teach):\nMobileNetV2 encoder, 1 GPM at 1/16,\nthe same 1/8 GPM and 1/4 head",
            fontsize=8, color="0.35", va="top")
    fig.suptitle("HQTrack: VMOS proposes, HQ-SAM refines where it agrees", fontsize=12)
    fig.tight_layout()
    return fig
