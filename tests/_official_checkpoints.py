"""Random-weight stand-ins for the official checkpoints of the paper-scale ablation, written in the official formats,
and a tiny DAVIS-2017-layout folder: what ``hqtrack ablate ROW --scale paper`` reads, without the downloads.

- HQTrack VMOS (``save_step_42000.pth``): ``torch.save({"state_dict": ..., "optimizer": ...})`` as HQTrack's
  ``utils/checkpoint.save_network`` writes it; names and shapes from the official ``MSDeAOT_V2`` state dict
  (``data/fixtures/hqtrack_vmos_parity/official_state_dict_shapes.json``, 957 entries).
- aot-benchmark R50-DeAOT-L (``R50_DeAOTL_PRE_YTB_DAV.pth``): ``{"state_dict": ...}``, names and shapes from the
  official ``r50_deaotl`` model (``data/fixtures/official_checkpoints/r50_deaot_l_state_dict_shapes.json``, 354
  entries, read from ``deaotpy``).
- HQ-SAM / SAM: ``torch.save(model.state_dict())`` of the official model classes (PyPI ``segment-anything-hq``:
  ``sam_model_registry`` for HQ-SAM, ``sam_model_registry_baseline`` for SAM), at the smallest released size,
  ``vit_tiny`` (the paper's ViT-H is 2.6 GB; the format and the loader are the same).

Weights follow :mod:`hqtrack_core.model.init_rules` (a function of name and shape), batch-norm statistics are the
identity (mean 0, variance 1), so the networks run and their masks mean nothing.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from hqtrack_core.paths import artefacts_dir

SHAPES = {
    "hqtrack_vmos": artefacts_dir() / "fixtures" / "hqtrack_vmos_parity" / "official_state_dict_shapes.json",
    "r50_deaot_l": artefacts_dir() / "fixtures" / "official_checkpoints" / "r50_deaot_l_state_dict_shapes.json",
}
FILENAMES = {"hqtrack_vmos": "save_step_42000.pth", "r50_deaot_l": "R50_DeAOTL_PRE_YTB_DAV.pth",
             "hqsam": "sam_hq_vit_tiny.pth", "sam": "sam_vit_tiny.pth"}


def official_state_dict(model: str) -> dict[str, torch.Tensor]:
    """A float32 state dict with the official names and shapes of ``model`` (``hqtrack_vmos`` | ``r50_deaot_l``)."""
    from hqtrack_core.model.init_rules import name_rule_state_dict

    shapes = {k: tuple(v) for k, v in json.loads(SHAPES[model].read_text()).items()}
    state = name_rule_state_dict(shapes)
    for key in state:
        if key.endswith("running_mean"):
            state[key] = torch.zeros_like(state[key])
        elif key.endswith("running_var"):
            state[key] = torch.ones_like(state[key])
    return state


def write_vmos_checkpoint(folder: Path, model: str, state: dict[str, torch.Tensor] | None = None) -> Path:
    """``folder/<official file name>`` of ``model`` in its release's layout (``state``: replaces the weights, e.g.
    with a renamed key)."""
    state = official_state_dict(model) if state is None else state
    payload: dict = {"state_dict": state}
    if model == "hqtrack_vmos":  # HQTrack's save_network also stores the optimizer (a small stand-in here)
        payload["optimizer"] = {"state": {}, "param_groups": [{"lr": 0.0, "params": [0]}]}
    path = Path(folder) / FILENAMES[model]
    torch.save(payload, path)
    return path


def write_sam_checkpoint(folder: Path, kind: str = "hqsam", model_type: str = "vit_tiny", seed: int = 11) -> Path:
    """``folder/sam_hq_vit_tiny.pth`` (``kind="hqsam"``) or ``folder/sam_vit_tiny.pth`` (``"sam"``): a bare state
    dict of the official model class, random weights."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package re-registers TinyViT names in timm's registry
        from segment_anything_hq import sam_model_registry, sam_model_registry_baseline
    registry = sam_model_registry if kind == "hqsam" else sam_model_registry_baseline
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = registry[model_type](checkpoint=None)
    path = Path(folder) / FILENAMES[kind].replace("vit_tiny", model_type)
    torch.save(model.state_dict(), path)
    return path


def write_davis2017(root: Path, sequences: int = 3, frames: int = 5, size: tuple[int, int] = (64, 96)) -> Path:
    """A DAVIS-2017 trainval layout: ``ImageSets/2017/val.txt``, ``JPEGImages/480p/<seq>/00000.jpg`` and
    ``Annotations/480p/<seq>/00000.png`` (indexed PNGs, 2 objects per sequence), tiny frames."""
    from hqtrack_core.ablation.generators import LabelledClip, write_davis_folder
    from hqtrack_core.data.toy_video import make_toy_video

    clips = []
    for k in range(sequences):
        video = make_toy_video(num_frames=frames, height=size[0], width=size[1], num_objects=2, seed=40 + k)
        clips.append(LabelledClip(f"seq{k}", list(video.frames), [np.asarray(m) for m in video.labels]))
    root = write_davis_folder(root, clips, split="val", resolution="480p")
    (root / "ImageSets" / "2017").mkdir()
    (root / "ImageSets" / "val.txt").rename(root / "ImageSets" / "2017" / "val.txt")
    return root
