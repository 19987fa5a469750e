"""``hqtrack ablate ROW --scale paper`` end to end with the official checkpoints' formats (random weights written as
the releases are: ``tests/_official_checkpoints.py``) on a tiny DAVIS-2017-layout folder: every inference-time row
and the backbone row write a row JSON that names each file by sha256; a file that is missing, misnamed inside or of
the wrong size is a one-line error naming it and where to get it, before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from _official_checkpoints import (official_state_dict, write_davis2017, write_sam_checkpoint,
                                   write_vmos_checkpoint)
from hqtrack_core.ablation.official import OFFICIAL_FILES, sam_model_type
from hqtrack_core.ablation.rows import get_row
from hqtrack_core.cli import main


@pytest.fixture(scope="module")
def official(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("official")
    return {"data": write_davis2017(folder / "DAVIS"),
            "hqtrack_vmos": write_vmos_checkpoint(folder, "hqtrack_vmos"),
            "r50_deaot_l": write_vmos_checkpoint(folder, "r50_deaot_l"),
            "hqsam": write_sam_checkpoint(folder, "hqsam"), "sam": write_sam_checkpoint(folder, "sam")}


def _ablate(official, row: str, out: Path, *args: str) -> int:
    return main(["ablate", row, "--data", str(official["data"]), "--split", "2017/val", "--scale", "paper",
                 "--out", str(out), "--precision", "fp32", "--short-edge", "33", "--no-progress", *args])


def _check_row(out: Path, row: str, sequences: int) -> dict:
    result = json.loads((out / f"{row}.json").read_text())
    assert result["scale"] == "paper" and result["verdict"] in ("supports", "contradicts", "inconclusive")
    assert result["n"]["sequences"] == sequences and result["n"]["objects"] == 2 * sequences
    assert result["n"]["seeds"] == 1 and result["n"]["frames"] == sum(c["frames"] for c in result["clips"])
    assert [v["name"] for v in result["variants"]] == [v.name for v in get_row(row, "paper").variants]
    for v in result["variants"]:
        if v["status"] != "run":
            continue
        assert 0.0 <= v["JF"] <= 1.0 and set(v["diff_vs_paper"]) >= {"mean", "ci95"}
        if sequences >= 2:  # an interval needs two sequences
            lo, hi = v["jf_ci95"]
            assert lo <= v["JF"] <= hi
        else:
            assert "jf_ci95" in v
    assert not (out / f".{row}.sequences").exists()  # the per-sequence files go once the row is written
    return result


@pytest.mark.parametrize("row, args, sequences", [
    ("memory", ["--sequences", "seq0", "seq1", "--max-frames", "3", "--pingpong", "2"], 2),
    ("joint", ["--sequences", "seq0", "seq1", "--max-frames", "3", "--composites", "2"], 2),
])
def test_paper_scale_vmos_rows(official, tmp_path, row, args, sequences):
    """Rows 3 and 6 run HQTrack's VMOS from its release file (preset ``hqtrack_vmos`` by default at paper scale)."""
    out = tmp_path / "out"
    assert _ablate(official, row, out, "--checkpoint", str(official["hqtrack_vmos"]), *args) == 0
    result = _check_row(out, row, sequences)
    vmos = result["settings"]["checkpoints"]["vmos"]
    assert vmos["description"] == "hqtrack_vmos from official checkpoint save_step_42000.pth"
    assert vmos["parameters"] == 33_820_938 and len(vmos["sha256"]) == 64
    assert result["settings"]["model"] == "hqtrack_vmos" and result["settings"]["network_short_edge"] == 33


def test_paper_scale_threshold_row_sweeps_hqsam(official, tmp_path):
    """Row 4 at paper scale sweeps the selector of HQ-SAM (not GrabCut), from the official HQ-SAM file."""
    out = tmp_path / "out"
    assert _ablate(official, "threshold", out, "--checkpoint", str(official["hqtrack_vmos"]), "--refiner-checkpoint",
                   str(official["hqsam"]), "--refiner-model", "vit_tiny", "--sequences", "seq0",
                   "--max-frames", "3") == 0
    result = _check_row(out, "threshold", 1)
    assert {v["variant"]["refiner"] for v in result["variants"]} == {"hqsam"}
    assert all(v["status"] == "run" for v in result["variants"])
    refiner = result["settings"]["checkpoints"]["refiner"]
    assert refiner["path"] == str(official["hqsam"]) and len(refiner["sha256"]) == 64


@pytest.mark.slow  # 25-50 s at a load average of 6-13 on 2 cores
def test_paper_scale_refiner_row_with_sam_and_hqsam_files(official, tmp_path):
    """Row 5: HQ-SAM from --refiner-checkpoint, SAM from its own official file (--checkpoint sam=FILE); both are
    recorded by sha256. (The costliest test here: SAM and HQ-SAM encode each frame at 1024 x 1024.)"""
    out = tmp_path / "out"
    assert _ablate(official, "refiner", out, "--checkpoint", str(official["hqtrack_vmos"]), "--refiner-checkpoint",
                   str(official["hqsam"]), "--checkpoint", f"sam={official['sam']}", "--refiner-model", "vit_tiny",
                   "--sequences", "seq0", "--max-frames", "3") == 0
    result = _check_row(out, "refiner", 1)
    assert all(v["status"] == "run" for v in result["variants"])
    records = result["settings"]["checkpoints"]
    assert records["refiner"]["path"] == str(official["hqsam"]) and "hqsam" in records["refiner"]["description"]
    assert records["refiner_sam"]["path"] == str(official["sam"])
    assert records["refiner"]["sha256"] != records["refiner_sam"]["sha256"]


def test_paper_scale_backbone_row_with_official_files(official, tmp_path):
    """Row 1 at paper scale: aot-benchmark's R50-DeAOT-L against HQTrack's VMOS, each from its release file."""
    out = tmp_path / "out"
    assert _ablate(official, "backbone", out, "--checkpoint", f"r50_deaot_l={official['r50_deaot_l']}",
                   "--checkpoint", f"hqtrack_vmos={official['hqtrack_vmos']}", "--sequences", "seq0", "seq1",
                   "--max-frames", "4") == 0
    result = _check_row(out, "backbone", 2)
    records = result["settings"]["checkpoints"]
    assert records["r50_deaot_l"]["parameters"] == 19_814_894
    assert records["hqtrack_vmos"]["parameters"] == 33_820_938
    assert result["expected_best"] == "hqtrack_vmos" and result["paper"] == {"hqtrack_vmos": 0.650}


def test_paper_scale_multiscale_row_says_the_single_scale_model_has_no_public_checkpoint(official, tmp_path):
    """Row 2 at paper scale: HQTrack's VMOS runs; InternImage-T single-scale DeAOT-L was never released, so it is
    timed on random weights, not scored, and the row cannot decide (it says why)."""
    out = tmp_path / "out"
    assert _ablate(official, "multiscale", out, "--checkpoint", f"hqtrack_vmos={official['hqtrack_vmos']}",
                   "--sequences", "seq0", "seq1", "--max-frames", "3") == 0
    result = _check_row(out, "multiscale", 2)
    single, multi = result["variants"]
    assert single["status"].startswith("not run") and "no public checkpoint" in single["status"]
    assert "JF" not in single and single["latency_s_per_frame"] > 0 and multi["status"] == "run"
    assert result["verdict"] == "inconclusive" and "no rival" in result["verdict_reason"]


def test_paper_scale_errors_name_the_file_and_where_to_get_it(official, tmp_path, capsys):
    out = tmp_path / "out"
    vmos = ["--checkpoint", str(official["hqtrack_vmos"])]
    # no VMOS file: the teaching model must not stand in for it
    assert _ablate(official, "memory", out) == 2
    err = capsys.readouterr().err
    assert "save_step_42000.pth" in err and OFFICIAL_FILES["hqtrack_vmos"].url in err and "--checkpoint FILE" in err
    # a trained variant's file missing
    assert _ablate(official, "backbone", out, "--checkpoint", f"hqtrack_vmos={official['hqtrack_vmos']}") == 2
    err = capsys.readouterr().err
    assert "R50_DeAOTL_PRE_YTB_DAV.pth" in err and OFFICIAL_FILES["r50_deaot_l"].url in err
    # the HQ-SAM file missing, or given at a path that does not exist
    assert _ablate(official, "threshold", out, *vmos) == 2
    assert OFFICIAL_FILES["hqsam"].url in capsys.readouterr().err
    assert _ablate(official, "threshold", out, *vmos, "--refiner-checkpoint", str(tmp_path / "sam_hq_vit_h.pth")) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and str(tmp_path / "sam_hq_vit_h.pth") in err
    # a vit_tiny file where the paper's vit_h is expected (the default refiner size at paper scale)
    assert _ablate(official, "threshold", out, *vmos, "--refiner-checkpoint", str(official["hqsam"])) == 2
    assert "--refiner-model vit_tiny" in capsys.readouterr().err
    # a NAME=FILE the row cannot use is refused, never ignored
    assert _ablate(official, "memory", out, *vmos, "--checkpoint", f"gap10={official['hqtrack_vmos']}") == 2
    assert "runs one VMOS for all its variants" in capsys.readouterr().err
    assert not out.exists() or not list(out.glob("*.json"))


def test_paper_scale_wrong_state_dict_name_is_a_clear_error(official, tmp_path, capsys):
    """One official name changed in the file: the run stops before tracking, naming the missing and the
    unexpected key, and writes no row."""
    state = official_state_dict("hqtrack_vmos")
    state["LSTT.layer_s8.linear_ID_V.weight_renamed"] = state.pop("LSTT.layer_s8.linear_ID_V.weight")
    (tmp_path / "bad").mkdir()
    bad = write_vmos_checkpoint(tmp_path / "bad", "hqtrack_vmos", state)
    out = tmp_path / "out"
    assert _ablate(official, "joint", out, "--checkpoint", str(bad), "--sequences", "seq0", "seq1",
                   "--max-frames", "3", "--composites", "1") == 2
    err = capsys.readouterr().err
    assert "hqtrack ablate: error: checkpoint does not match the model" in err
    assert "missing keys (1): LSTT.layer_s8.linear_ID_V.weight\n" in err
    assert "weight_renamed" in err and not (out / "joint.json").exists()


def test_sam_model_type_reads_the_size_from_the_shapes(official, tmp_path):
    assert sam_model_type(official["hqsam"]) == "vit_tiny" and sam_model_type(official["sam"]) == "vit_tiny"
    for width, name in ((768, "vit_b"), (1024, "vit_l"), (1280, "vit_h")):
        torch.save({"model": {"image_encoder.patch_embed.proj.weight": torch.zeros(width, 3, 1, 1)}},
                   tmp_path / f"{name}.pth")
        assert sam_model_type(tmp_path / f"{name}.pth") == name
    assert sam_model_type(official["hqtrack_vmos"]) is None  # not a SAM file: no claim


def test_r50_shapes_fixture_is_the_official_state_dict():
    """The stored names and shapes are those of the official R50-DeAOT-L (and of our model: it loads 1:1)."""
    import contextlib
    import io

    from hqtrack_core.model.build import vmos_from_preset
    from hqtrack_core.model.checkpoint import load_official_checkpoint

    state = official_state_dict("r50_deaot_l")
    assert load_official_checkpoint(vmos_from_preset("r50_deaot_l"), state) == ([], [])
    aot = pytest.importorskip("aot", reason="deaotpy (official DeAOT) is not installed")
    from aot.configs.default import DefaultEngineConfig
    from aot.networks.models import build_vos_model

    with contextlib.redirect_stdout(io.StringIO()):
        official = build_vos_model("deaot", DefaultEngineConfig("paper", "r50_deaotl")).state_dict()
    assert aot is not None and {k: tuple(v.shape) for k, v in official.items()} == {
        k: tuple(v.shape) for k, v in state.items()}
