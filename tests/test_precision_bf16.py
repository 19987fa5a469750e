"""Precision (fp32 | bf16 | auto): resolution and its errors, the ``--precision`` option of ``hqtrack track``, one
bf16 training step, and bf16 vs fp32 labels on a real DAVIS clip. Selected by ``pytest -k "precision or bf16"``."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from hqtrack_core.cli import main
from hqtrack_core.api import model_card_of
from hqtrack_core.data.masks import read_mask
from hqtrack_core.data.toy_video import make_toy_video
from hqtrack_core.inference.engine import VMOSTracker
from hqtrack_core.inference.preprocess import ResizePolicy
from hqtrack_core.model.build import vmos_from_preset
from hqtrack_core.precision import cpu_bf16_support, cpu_flags, cpu_model, describe_cpu, resolve_precision

from _toy_helpers import write_toy_clip


def test_precision_resolution_names_and_errors():
    assert resolve_precision("fp32", "cpu").name == "fp32"
    assert not resolve_precision("fp32", "cpu").reduced
    bf16 = resolve_precision("BF16", "cpu")
    assert bf16.name == "bf16" and bf16.dtype == torch.bfloat16
    auto = resolve_precision("auto", "cpu")
    assert auto.name == ("bf16" if cpu_bf16_support().any else "fp32")
    assert cpu_bf16_support().describe() in auto.reason  # the first log line says which instruction
    with pytest.raises(ValueError, match="fp16 is for GPUs"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp8", "cpu")


@pytest.mark.parametrize("cap", [("ONEDNN_MAX_CPU_ISA", "AVX2"), ("DNNL_MAX_CPU_ISA", "avx512_core_vnni"),
                                 ("ATEN_CPU_CAPABILITY", "avx2")])
def test_precision_auto_is_fp32_under_an_isa_cap(monkeypatch, cap):
    """An ISA cap below AVX512-BF16 makes torch emulate bf16 even on a CPU that has it, so ``auto`` must pick fp32
    there (as on an AVX2-only CPU); an explicit bf16 still runs and says it is emulated."""
    for var in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(*cap)
    cpu_bf16_support.cache_clear()
    try:
        support = cpu_bf16_support()
        assert support.capped_by is not None and cap[0] in support.capped_by and not support.any
        auto = resolve_precision("auto", "cpu")
        assert auto.name == "fp32" and support.describe() in auto.reason
        assert "emulated" in resolve_precision("bf16", "cpu").reason
    finally:
        cpu_bf16_support.cache_clear()
    monkeypatch.setenv(cap[0], "AVX512_CORE_AMX" if "ISA" in cap[0] else "avx512")  # no cap below bf16
    try:
        assert cpu_bf16_support().capped_by is None
    finally:
        cpu_bf16_support.cache_clear()


def test_describe_cpu_names_the_cpu_kind():
    """The line at the top of every test run (conftest.py) and beside benchmark figures."""
    line = describe_cpu()
    assert cpu_model() in line and f"{torch.get_num_threads()} threads" in line
    assert f"auto precision: {resolve_precision('auto', 'cpu').name}" in line
    assert ("AVX-512" in line) == ("avx512f" in cpu_flags())


def test_precision_unknown_name_fails_before_loading_a_tracker():
    from hqtrack_core.api import InferenceConfig

    with pytest.raises(ValueError, match="precision must be one of"):
        InferenceConfig.from_card(checkpoint="none", device="cpu", precision="half")


def test_precision_tracker_default_is_exact_fp32_and_bf16_outputs_are_fp32():
    torch.manual_seed(0)
    net = vmos_from_preset("deaot_t").eval()
    video = make_toy_video(num_frames=3, height=97, width=129, num_objects=2, seed=1)
    exact = VMOSTracker(net, device="cpu")
    low = VMOSTracker(net, device="cpu", precision="bf16")
    assert exact.precision.name == "fp32" and low.precision.name == "bf16"
    assert all(p.dtype == torch.float32 for p in exact.net.parameters())
    for t, frame in enumerate(video.frames):
        mask = video.labels[0] if t == 0 else None
        a, b = exact.step(frame, mask), low.step(frame, mask)
        assert b.probs.dtype == torch.float32
        if t:
            assert b.logits.dtype == torch.float32 and torch.isfinite(b.logits).all()
            assert 0 < float((a.logits - b.logits).abs().max()) < 5.0  # bf16 ran, and stayed close


@pytest.fixture(scope="module")
def toy_frames(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy_precision")
    video = make_toy_video(num_frames=2, height=96, width=128, num_objects=1, seed=5)
    write_toy_clip(root, video, name="{t:05d}.png")
    return root


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_precision_track_cli_option_and_first_log_line(toy_frames, tmp_path, capsys, precision):
    out = tmp_path / "out"
    code = main(["track", str(toy_frames / "frames"), "--mask", str(toy_frames / "first.png"), "--out", str(out),
                 "--precision", precision, "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0, err
    first = next(line for line in err.splitlines() if line.startswith("hqtrack track: model"))
    assert f"precision {precision} (requested" in first
    assert f"memory policy {model_card_of().preferred_memory!r} (model card)" in first and ", refiner " in first
    assert sorted(p.name for p in out.iterdir()) == ["00000.png", "00001.png"]
    assert read_mask(out / "00001.png").shape == (96, 128)
    # the last line: the frame rate the user got (hqtrack track prints it at the end)
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(r"hqtrack track: 2 frames in \d+\.\d s, \d+\.\d\d frames/s", last), last


def test_precision_track_cli_auto_says_why_and_fp16_is_refused(toy_frames, tmp_path, capsys):
    code = main(["track", str(toy_frames / "frames"), "--mask", str(toy_frames / "first.png"),
                 "--out", str(tmp_path / "auto"), "--device", "cpu"])  # default: auto
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"precision {resolve_precision('auto', 'cpu').name} (auto: the CPU has" in err
    with pytest.raises(SystemExit) as exit_info:  # argparse: not one of fp32, bf16, auto
        main(["track", str(toy_frames / "frames"), "--mask", str(toy_frames / "first.png"),
              "--out", str(tmp_path / "x"), "--precision", "fp16"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'fp16'" in capsys.readouterr().err


def test_precision_classical_refiner_ignores_it_and_sam_refiner_takes_it():
    from hqtrack_core.refine import build_refiner
    from hqtrack_core.refine.classical import GrabCutRefiner

    assert isinstance(build_refiner("classical", precision="bf16"), GrabCutRefiner)
    with pytest.raises(ValueError, match="precision must be one of"):
        build_refiner("classical", precision="fp64")


def test_bf16_training_one_ci_smoke_step_keeps_fp32_master_weights(tmp_path):
    from hqtrack_core.data.synthetic import SyntheticClips, pairs_from_folders
    from hqtrack_core.training.config import get_train_config
    from hqtrack_core.training.trainer import Trainer

    from _train_helpers import make_static_folder

    cfg = get_train_config("ci_smoke").replace(steps=1, save_every=1, precision="bf16")
    root = make_static_folder(tmp_path / "static")
    pairs = pairs_from_folders(root / "images", root / "masks")
    data = SyntheticClips(pairs, cfg.crop, cfg.seq_len, cfg.max_objects, cfg.min_object_pixels, cfg.merge_prob,
                          cfg.seed)
    trainer = Trainer(cfg, tmp_path / "run", dataset=data, progress=False)
    assert trainer.precision.name == "bf16" and not trainer.use_amp  # bf16 needs no loss scaler
    before = {k: v.clone() for k, v in trainer.model.state_dict().items() if v.is_floating_point()}
    result = trainer.run()
    assert result.step == 1 and np.isfinite(result.last_loss)
    after = trainer.model.state_dict()
    assert all(after[k].dtype == torch.float32 for k in before)  # master weights stay fp32
    assert any(not torch.equal(before[k], after[k]) for k in before)  # and the step updated them


@pytest.mark.shared_data
def test_bf16_labels_agree_with_fp32_on_a_davis_clip(shared_data):
    from hqtrack_core.data.frames import open_frames
    from hqtrack_core.evaluation.precision_agreement import compare_precisions
    from hqtrack_core.api import build_vmos, default_checkpoint

    if not default_checkpoint().is_file():
        pytest.skip("the committed teaching checkpoint is absent")
    seq = shared_data / "davis2016" / "JPEGImages" / "480p" / "blackswan"
    mask = read_mask(shared_data / "davis2016" / "Annotations" / "480p" / "blackswan" / "00000.png").astype(np.int64)
    net, _ = build_vmos()
    result = compare_precisions(net.eval(), open_frames(seq), mask, "bf16",
                                resize=ResizePolicy(min_short_edge=240, max_short_edge=240), max_frames=5)
    assert result.precision == "bf16" and len(result.stems) == 4
    assert result.min_agreement >= 0.99, result.label_agreement
    assert all(0 < d < 10 for d in result.max_abs_logit_diff), result.max_abs_logit_diff
