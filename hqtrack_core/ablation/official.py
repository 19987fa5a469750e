"""The official checkpoints of the paper-scale ablation (``hqtrack ablate ROW --scale paper``): which file each row
needs, how it is passed, where to download it, and a clear error naming a file that is missing.

The reviewer's recipe (files, data layout, commands, expected time on one GPU) is ``PAPER_SCALE.md`` beside this
module. At paper scale:

- rows 1-2 (``backbone``, ``multiscale``): ``--checkpoint VARIANT=FILE`` per variant with a public checkpoint
  (``r50_deaot_l``: aot-benchmark's R50-DeAOT-L; ``hqtrack_vmos``: HQTrack's VMOS). ``internt_deaot_l`` has none
  and is reported as not run.
- rows 3-6 (``memory``, ``threshold``, ``refiner``, ``joint``): ``--checkpoint FILE``, HQTrack's VMOS (preset
  ``hqtrack_vmos`` unless ``--model`` names another). Rows ``threshold`` and ``refiner`` also need
  ``--refiner-checkpoint sam_hq_vit_h.pth`` (HQ-SAM ViT-H; ``--refiner-model`` defaults to ``vit_h`` at paper
  scale). The ``refiner`` row's ``sam`` variant runs SAM's own weights inside that file (HQ-SAM keeps SAM's weights
  frozen and adds its HQ modules), or the official SAM file given as ``--checkpoint sam=sam_vit_h_4b8939.pth``.

Any file may be given as ``none`` (random weights: the mechanics only, the scores mean nothing). A file given
under a name the row cannot use is an error, never ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path


from ..weights import load_torch_file
from .provenance import sha256_file
from .rows import Row, Variant

RECIPE = "hqtrack_core/ablation/PAPER_SCALE.md"


@dataclass(frozen=True)
class OfficialFile:
    """One released checkpoint: ``filename`` as released, what it holds, where to get it (``url``; the page that
    lists it in ``source``), its approximate size, and the ``hqtrack ablate`` option that takes it."""

    key: str
    filename: str
    what: str
    url: str
    source: str
    size: str
    option: str

    def hint(self) -> str:
        """``FILE (what; download URL, listed in SOURCE)``: the part of an error message saying where to get it."""
        return f"{self.filename} ({self.what}, {self.size}; download: {self.url}, listed in {self.source})"


OFFICIAL_FILES: dict[str, OfficialFile] = {f.key: f for f in (
    OfficialFile("hqtrack_vmos", "save_step_42000.pth",
                 "HQTrack's VMOS, InternImage-T + multi-scale DeAOT-L (MSDeAOT_V2), 33.8 M parameters",
                 "https://drive.google.com/drive/folders/1Hh10hLtz3YL_zE3PfBCiLB0tvj3Yvv26",
                 "github.com/jiawen-zhu/HQTrack README, 'Model Preparation' (Baidu mirror: "
                 "https://pan.baidu.com/s/120iNn5OEVrqDz0SKjEooig?pwd=vots)",
                 "about 135 MB of fp32 weights", "--checkpoint FILE (rows 3-6) or --checkpoint hqtrack_vmos=FILE"),
    OfficialFile("r50_deaot_l", "R50_DeAOTL_PRE_YTB_DAV.pth",
                 "aot-benchmark's R50-DeAOT-L, stage PRE_YTB_DAV, 19.8 M parameters",
                 "https://drive.google.com/file/d/1QoChMkTVxdYZ_eBlZhK2acq9KMQZccPJ",
                 "github.com/yoxu515/aot-benchmark MODEL_ZOO.md", "about 80 MB of fp32 weights",
                 "--checkpoint r50_deaot_l=FILE"),
    OfficialFile("hqsam", "sam_hq_vit_h.pth", "HQ-SAM ViT-H (SAM ViT-H's weights plus HQ-SAM's modules)",
                 "https://huggingface.co/lkeab/hq-sam/resolve/main/sam_hq_vit_h.pth",
                 "github.com/SysCV/sam-hq README, 'Model Checkpoints' (the file HQTrack's README links)",
                 "about 2.6 GB", "--refiner-checkpoint FILE"),
    OfficialFile("sam", "sam_vit_h_4b8939.pth", "SAM ViT-H (optional: the sam variant runs SAM's weights inside "
                 "sam_hq_vit_h.pth without it)",
                 "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth",
                 "github.com/facebookresearch/segment-anything README", "about 2.6 GB",
                 "--checkpoint sam=FILE (refiner row)"),
)}

# the official file each trained variant of rows 1-2 loads at paper scale (variants absent here have none)
VARIANT_FILES: dict[str, str] = {"r50_deaot_l": "r50_deaot_l", "hqtrack_vmos": "hqtrack_vmos"}
PAPER_VMOS = "hqtrack_vmos"  # the VMOS preset rows 3-6 run at paper scale
PAPER_REFINER_MODEL = "vit_h"  # HQTrack refines with HQ-SAM ViT-H


def _is_random(path: str | None) -> bool:
    return path is not None and str(path).lower() == "none"


def _check_exists(path: str | None, official: OfficialFile, option: str) -> None:
    if path and not _is_random(path) and not Path(path).is_file():
        raise FileNotFoundError(f"{option.replace('FILE', str(path))}: no such file; expected {official.hint()} "
                                f"(recipe: {RECIPE})")


def official_source(variant: str) -> str:
    """Where a paper-scale trained variant's weights come from: the official file and its download address, or that
    no public checkpoint exists (``internt_deaot_l``)."""
    key = VARIANT_FILES.get(variant)
    if key is None:
        return "no public checkpoint exists: train one with the official recipe"
    return f"the official {OFFICIAL_FILES[key].filename}, {OFFICIAL_FILES[key].url}"


def refiner_checkpoint_for(variant: Variant, settings) -> str | None:
    """The (HQ-)SAM weights ``variant`` refines with: its own ``--checkpoint NAME=FILE`` (``sam`` / ``hqsam`` of the
    refiner row), else ``--refiner-checkpoint``; ``None`` for a variant without a SAM refiner or without weights."""
    if variant.refiner not in ("sam", "hqsam"):
        return None
    return settings.variant_checkpoints.get(variant.name) or settings.refiner_checkpoint


def check_named_checkpoints(row: Row, settings) -> None:
    """Rows 3-6 take ``--checkpoint NAME=FILE`` only for a variant that refines with (HQ-)SAM (its refiner's
    weights); any other name would be ignored, so it is an error saying what to give instead."""
    if row.trained:
        return
    for name in settings.variant_checkpoints:
        variant = row.variant(name)  # an unknown name was refused before (KeyError listing the variants)
        if variant.refiner not in ("sam", "hqsam"):
            refining = [v.name for v in row.variants if v.refiner in ("sam", "hqsam")]
            raise ValueError(f"--checkpoint {name}=...: row {row.name!r} runs one VMOS for all its variants "
                             f"(give it as --checkpoint FILE); NAME=FILE names the (HQ-)SAM weights of a refiner "
                             f"variant ({', '.join(refining) or 'none in this row'})")


def _missing(what: str, official: OfficialFile, option: str) -> FileNotFoundError:
    return FileNotFoundError(f"--scale paper: {what} needs {official.hint()}: give it as {option} "
                             f"(or 'none' for random weights, mechanics only; recipe: {RECIPE})")


# width of the ViT image encoder's patch embedding -> SAM model type (vit_tiny is a TinyViT: ``image_encoder.layers``)
_SAM_WIDTHS = {768: "vit_b", 1024: "vit_l", 1280: "vit_h"}


def sam_model_type(path: str | Path) -> str | None:
    """The (HQ-)SAM size a checkpoint holds (``vit_tiny`` | ``vit_b`` | ``vit_l`` | ``vit_h``), read from its tensor
    shapes without loading the weights (memory-mapped); ``None`` when the file cannot be read that way."""
    try:
        state = load_torch_file(path, "SAM checkpoint", weights_only=True, mmap=True)
    except (ValueError, OSError):  # an older torch format, or damaged: the loader reports it when the refiner is built
        return None
    if isinstance(state, dict):
        for key in ("model", "state_dict"):
            if isinstance(state.get(key), dict):
                state = state[key]
    if not isinstance(state, dict):
        return None
    state = {str(k).removeprefix("module."): v for k, v in state.items()}
    if any(k.startswith("image_encoder.layers.") for k in state):
        return "vit_tiny"
    weight = state.get("image_encoder.patch_embed.proj.weight")
    return _SAM_WIDTHS.get(int(weight.shape[0])) if weight is not None and weight.ndim == 4 else None


def _check_sam_size(path: str | None, settings, option: str) -> None:
    if not path or _is_random(path):
        return
    found = sam_model_type(path)
    if found is not None and found != settings.refiner_model:
        raise ValueError(f"{option.replace('FILE', str(path))} holds a {found} (HQ-)SAM but the refiner is built as "
                         f"{settings.refiner_model}: give --refiner-model {found} (the paper's refiner is "
                         f"{PAPER_REFINER_MODEL}, {OFFICIAL_FILES['hqsam'].filename})")


def complete_paper_settings(row: Row, settings):
    """``settings`` of a paper-scale run completed with the paper's VMOS preset (rows 3-6, unless ``--model`` names
    another), after checking that every official file the row needs was given and exists (a
    :class:`FileNotFoundError` names the file, the option and where to download it). Teaching-scale settings come
    back unchanged. (:func:`check_named_checkpoints` is the caller's, at every scale.)"""
    if settings.scale != "paper":
        return settings
    if row.trained:
        for variant in row.variants:
            key = VARIANT_FILES.get(variant.name)
            if key is None:
                continue
            path, option = settings.variant_checkpoints.get(variant.name), f"--checkpoint {variant.name}=FILE"
            if not path:
                raise _missing(f"row {row.name!r}, variant {variant.name!r},", OFFICIAL_FILES[key], option)
            _check_exists(path, OFFICIAL_FILES[key], option)
        return settings
    changes: dict = {}
    if settings.model in (None, "", "auto"):
        changes["model"] = PAPER_VMOS
    if not settings.checkpoint:
        raise _missing(f"row {row.name!r} (VMOS {changes.get('model', settings.model)})",
                       OFFICIAL_FILES[PAPER_VMOS], "--checkpoint FILE")
    _check_exists(settings.checkpoint, OFFICIAL_FILES[PAPER_VMOS], "--checkpoint FILE")
    for variant in row.variants:
        if variant.needs == "refiner weights" and not refiner_checkpoint_for(variant, settings):
            raise _missing(f"row {row.name!r}, variant {variant.name!r} (refiner {variant.refiner}),",
                           OFFICIAL_FILES["hqsam"], "--refiner-checkpoint FILE")
    _check_exists(settings.refiner_checkpoint, OFFICIAL_FILES["hqsam"], "--refiner-checkpoint FILE")
    if any(v.refiner in ("sam", "hqsam") for v in row.variants):
        _check_sam_size(settings.refiner_checkpoint, settings, "--refiner-checkpoint FILE")
    for name, path in settings.variant_checkpoints.items():
        option = f"--checkpoint {name}=FILE"
        _check_exists(path, OFFICIAL_FILES["sam" if name == "sam" else "hqsam"], option)
        _check_sam_size(path, settings, option)
    return dataclasses.replace(settings, **changes) if changes else settings


def refiner_records(row: Row, settings) -> dict[str, dict]:
    """What the row's (HQ-)SAM weights were, for the row JSON's ``settings.checkpoints``: ``refiner`` (the
    ``--refiner-checkpoint`` file) and ``refiner_<variant>`` (a variant's own file), each with its path and sha256
    and the variants that ran it."""
    users: dict[str, list[str]] = {}
    for variant in row.variants:
        path = refiner_checkpoint_for(variant, settings)
        if path:
            key = "refiner" if path == settings.refiner_checkpoint else f"refiner_{variant.name}"
            users.setdefault(key, []).append(variant.name)
    records = {}
    for key, names in users.items():
        path = settings.refiner_checkpoint if key == "refiner" else settings.variant_checkpoints[names[0]]
        random = _is_random(path)
        records[key] = {"description": f"{settings.refiner_model} (HQ-)SAM weights of {', '.join(names)}"
                                       + (" (random weights)" if random else ""),
                        "path": None if random else str(path),
                        "sha256": None if random else sha256_file(path), "parameters": None}
    return records


__all__ = ["OFFICIAL_FILES", "OfficialFile", "PAPER_VMOS", "PAPER_REFINER_MODEL", "RECIPE", "VARIANT_FILES",
           "check_named_checkpoints", "complete_paper_settings", "official_source", "refiner_checkpoint_for",
           "refiner_records",
           "sam_model_type"]
