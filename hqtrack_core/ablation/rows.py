"""The paper's ablation rows as data: each row is a claim, the paper's numbers and a list of variants.

A :class:`Variant` says what changes against the row's baseline: the memory policy, the refiner and its IoU
threshold, joint or separate tracking of multiple objects, or (rows 1-2) the network itself (a VMOS preset that
must be trained, plus the training preset that trains it at teaching scale). Rows 3-6 change nothing learned and
run directly with one checkpoint; rows 1-2 need one trained checkpoint per variant.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

ROW_NAMES: tuple[str, ...] = ("backbone", "multiscale", "memory", "threshold", "refiner", "joint")


@dataclass(frozen=True)
class Variant:
    """One column of an ablation row.

    Attributes:
        name: short key (used in the JSON and on the command line as ``NAME=CHECKPOINT``).
        label: what a table shows.
        long_term_gap / max_long_term / short_term_skip: memory policy (``None``: the released value).
        refiner: ``none`` | ``classical`` | ``sam`` | ``hqsam``.
        threshold: IoU-selector threshold of the refiner.
        joint: all objects in one tracker (HQTrack) or one tracker per object, merged afterwards.
        model: VMOS preset of a trained variant (rows 1-2); ``None``: the checkpoint given to the run.
        train_preset: the ``hqtrack train --config`` preset that trains this variant at teaching scale.
        needs: what the variant needs beyond the VMOS checkpoint (``"refiner weights"``), or ``""``.
    """

    name: str
    label: str
    long_term_gap: int | None = None
    max_long_term: int | None = None
    short_term_skip: int | None = None
    refiner: str = "none"
    threshold: float = 0.1
    joint: bool = True
    model: str | None = None
    train_preset: str | None = None
    needs: str = ""

    def memory_overrides(self) -> dict:
        """Fields of :class:`~hqtrack_core.inference.memory.MemoryPolicy` this variant replaces."""
        keys = ("long_term_gap", "max_long_term", "short_term_skip")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Row:
    """One ablation row: the claim, the paper's figures and the variants, in table order.

    ``data`` names the clips the row runs on: ``"davis"`` (the given sequences as they are), ``"pingpong"`` (long
    videos from them, :func:`~hqtrack_core.ablation.generators.pingpong_video`) or ``"composite"`` (multi-object
    clips, :func:`~hqtrack_core.ablation.generators.composite_clip`). ``paper`` maps a variant name to the paper's
    figure (VOTS AUC ~ quality Q) where the paper gives one; ``expected_best`` is the variant the paper finds best.
    """

    name: str
    number: int
    claim: str
    variants: tuple[Variant, ...]
    data: str = "davis"
    paper: dict = field(default_factory=dict)
    expected_best: str | None = None
    trained: bool = False
    paper_note: str = ""
    compare: tuple[str, ...] = ()  # the variants the paper's claim ranks (default: all)

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"row {self.name!r} has no variant {name!r}; variants: {[v.name for v in self.variants]}")


# Rows 1-2 at teaching scale: one VMOS preset per variant (registered in hqtrack_core.model.multiscale) and the
# training preset that trains it with the teaching recipe (hqtrack_core.training.config).
_BACKBONE_TEACH = (
    Variant("mobilenetv2", "MobileNetV2 (teach)", model="hqtrack_teach", train_preset="cpu_teach_stage2"),
    Variant("resnet50", "ResNet-50 (teach)", model="teach_resnet50", train_preset="cpu_teach_stage2_resnet50"),
    Variant("internimage_t", "InternImage-T (teach)", model="teach_internimage_t",
            train_preset="cpu_teach_stage2_internimage_t"),
)
_BACKBONE_PAPER = (
    Variant("r50_deaot_l", "R50-DeAOT-L (official)", model="r50_deaot_l"),
    Variant("hqtrack_vmos", "HQTrack VMOS: InternImage-T + multi-scale (official)", model="hqtrack_vmos"),
)
_MULTISCALE_TEACH = (
    Variant("single_scale", "single-scale 1/16 (DeAOT-T)", model="teach_single_scale",
            train_preset="cpu_teach_stage2_single_scale"),
    Variant("multiscale", "+ 1/8 GPM, 1/4 head (released)", model="hqtrack_teach", train_preset="cpu_teach_stage2"),
    Variant("multiscale_fpn", "+ 1/8 GPM, FPN decoder (paper text)", model="teach_fpn_head",
            train_preset="cpu_teach_stage2_fpn_head"),
)
_MULTISCALE_PAPER = (
    Variant("internt_deaot_l", "InternImage-T DeAOT-L single-scale (no public checkpoint)",
            model="internt_deaot_l"),
    Variant("hqtrack_vmos", "HQTrack VMOS, 1/4 head (official)", model="hqtrack_vmos"),
)

TRAINED_VARIANTS: dict[tuple[str, str], tuple[Variant, ...]] = {
    ("backbone", "teach"): _BACKBONE_TEACH, ("backbone", "paper"): _BACKBONE_PAPER,
    ("multiscale", "teach"): _MULTISCALE_TEACH, ("multiscale", "paper"): _MULTISCALE_PAPER,
}

# What changes at paper scale for rows 1-2 (official checkpoints): the public ones are R50-DeAOT-L and the full
# HQTrack VMOS (InternImage-T + multi-scale); an InternImage-T single-scale DeAOT-L has no public checkpoint.
PAPER_SCALE: dict[str, dict] = {
    "backbone": {"expected_best": "hqtrack_vmos", "paper": {"hqtrack_vmos": 0.650}, "compare": ()},
    "multiscale": {"expected_best": "hqtrack_vmos", "paper": {"internt_deaot_l": 0.611, "hqtrack_vmos": 0.650},
                   "compare": ()},
}

ROWS: dict[str, Row] = {
    "backbone": Row(
        "backbone", 1, "InternImage-T instead of ResNet-50 as the VMOS backbone", _BACKBONE_TEACH,
        paper={"internimage_t": 0.611}, expected_best="internimage_t", trained=True,
        # the claim ranks ResNet-50 against InternImage-T; at teaching scale both start from random weights, while
        # MobileNetV2 (the teaching model) starts from ImageNet and is shown for reference only
        compare=("resnet50", "internimage_t"),
        paper_note="VOTS2023 validation AUC 0.611 with InternImage-T (the ResNet-50 figure is not given); "
                   "test set: +3.2 AUC"),
    "multiscale": Row(
        "multiscale", 2, "cascaded 1/8 multi-scale propagation on top of the 1/16 GPMs", _MULTISCALE_TEACH,
        paper={"single_scale": 0.611, "multiscale": 0.650}, expected_best="multiscale", trained=True,
        # the claim ranks multi-scale against single-scale; the FPN decoder (the paper's text) is shown for reference
        compare=("single_scale", "multiscale"),
        paper_note="VOTS2023 validation AUC 0.611 -> 0.650 (+3.9); the paper describes an FPN decoder, the released "
                   "code decodes with a 1/4 head"),
    "memory": Row(
        "memory", 3, "long-term memory gap 50 is best; memory length (paper 8, released 6); short-term skip "
        "(paper 1, released 4)",
        (
            Variant("gap10", "gap 10", long_term_gap=10),
            Variant("gap25", "gap 25", long_term_gap=25),
            Variant("gap50", "gap 50 (released)", long_term_gap=50),
            Variant("gap100", "gap 100", long_term_gap=100),
            Variant("gap10_len8", "gap 10, length 8 (paper)", long_term_gap=10, max_long_term=8),
            Variant("gap50_skip1", "gap 50, short-term skip 1 (paper)", long_term_gap=50, short_term_skip=1),
        ),
        data="pingpong", expected_best="gap50", compare=("gap10", "gap25", "gap50", "gap100"),
        paper_note="gap sweep on VOTS2023 validation: 50 best (figures not given)"),
    "threshold": Row(
        "threshold", 4, "IoU threshold 0.1 of the refiner's selector is best",
        tuple(Variant(f"t{t:g}", f"threshold {t:g}", refiner="classical", threshold=t)
              for t in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)),
        expected_best="t0.1", paper_note="sweep on VOTS2023 validation: 0.1 best (figures not given)"),
    "refiner": Row(
        "refiner", 5, "a SAM refiner helps, HQ-SAM helps more (VOTS2023 test)",
        (
            Variant("none", "VMOS alone"),
            Variant("classical", "+ GrabCut (weight-free)", refiner="classical"),
            Variant("sam", "+ SAM", refiner="sam", needs="refiner weights"),
            Variant("hqsam", "+ HQ-SAM", refiner="hqsam", needs="refiner weights"),
        ),
        paper={"hqsam": 0.615}, expected_best="hqsam", compare=("none", "sam", "hqsam"),
        paper_note="VOTS2023 test: + SAM-H refinement +1.4 AUC, + HQ-SAM-H Q 0.615"),
    "joint": Row(
        "joint", 6, "tracking all objects jointly beats tracking each object separately",
        (Variant("joint", "joint (one tracker, one ID bank)", joint=True),
         Variant("separate", "separate (one tracker per object, soft merge)", joint=False)),
        data="composite", expected_best="joint", paper_note="joint better (figures not given)"),
}


# Inference-time rows whose variants change at paper scale: the paper sweeps the threshold of HQ-SAM's selector
# (``--refiner-checkpoint sam_hq_vit_h.pth``); at teaching scale the weight-free GrabCut refiner stands in for it.
PAPER_VARIANTS: dict[str, tuple[Variant, ...]] = {
    "threshold": tuple(Variant(f"t{t:g}", f"HQ-SAM, threshold {t:g}", refiner="hqsam", threshold=t,
                               needs="refiner weights") for t in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)),
}


def get_row(name: str, scale: str = "teach") -> Row:
    """The row ``name``; rows 1-2 take the variants of ``scale`` (``teach`` | ``paper``), and so do the rows of
    :data:`PAPER_VARIANTS` at paper scale."""
    if name not in ROWS:
        raise KeyError(f"unknown ablation row {name!r}; rows: {', '.join(ROW_NAMES)}")
    if scale not in ("teach", "paper"):
        raise ValueError(f"scale must be 'teach' or 'paper', got {scale!r}")
    row = ROWS[name]
    if row.trained:
        row = replace(row, variants=TRAINED_VARIANTS[(name, scale)], **(PAPER_SCALE[name] if scale == "paper" else {}))
    elif scale == "paper" and name in PAPER_VARIANTS:
        row = replace(row, variants=PAPER_VARIANTS[name])
    return row


__all__ = ["ROW_NAMES", "ROWS", "Row", "Variant", "TRAINED_VARIANTS", "PAPER_VARIANTS", "get_row"]
