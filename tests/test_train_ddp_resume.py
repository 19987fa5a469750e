"""Distributed training (2 CPU processes, gloo) keeps replicas identical; kill-and-resume reproduces an
uninterrupted run exactly; the unrolled training forward equals the official engine's."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from hqtrack_core.data.synthetic import SyntheticClips, pairs_from_folders
from hqtrack_core.training.checkpoints import latest_checkpoint, list_checkpoints, load_checkpoint
from hqtrack_core.training.config import TrainConfig
from hqtrack_core.training.records import read_metrics
from hqtrack_core.training.trainer import Trainer

from _train_helpers import make_static_folder

TINY = TrainConfig(name="tiny", model="deaot_t", stage=1, seq_len=3, crop=(49, 49), batch_size=2, steps=4,
                   merge_prob=1.0, pretrained_backbone=False, min_object_pixels=10, save_every=2, log_every=1,
                   long_term_gap=1, seq_training_start_ratio=0.5, aux_ratio=0.5, lr=1e-3, keep_checkpoints=3)


def _dataset(root: Path, cfg: TrainConfig) -> SyntheticClips:
    pairs = pairs_from_folders(root / "images", root / "masks")
    return SyntheticClips(pairs, cfg.crop, cfg.seq_len, cfg.max_objects, cfg.min_object_pixels, cfg.merge_prob,
                          cfg.seed)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, data: str, out: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    from hqtrack_core.training.distributed import cleanup_distributed

    cfg = TINY.replace(steps=3, save_every=3)
    trainer = Trainer(cfg, out, dataset=_dataset(Path(data), cfg), progress=False)
    init = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.run()
    torch.save({"init": init, "final": trainer.model.state_dict(), "ema": trainer.ema_state_dict()},
               Path(out) / f"rank{rank}.pt")
    cleanup_distributed()


def test_ddp_two_cpu_processes_keep_identical_replicas(tmp_path):
    data = make_static_folder(tmp_path / "data")
    out = tmp_path / "run"
    out.mkdir()
    mp.start_processes(_ddp_worker, args=(2, _free_port(), str(data), str(out)), nprocs=2, join=True,
                       start_method="spawn")
    r0, r1 = (torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    changed = 0
    for name, v0 in r0["final"].items():
        assert torch.equal(v0, r1["final"][name]), f"replicas differ at {name}"
        assert torch.equal(r0["init"][name], r1["init"][name]), f"replicas started differently at {name}"
        changed += not torch.equal(v0, r0["init"][name])
    assert changed > 10  # training really moved the weights
    for name, v0 in r0["ema"].items():
        assert torch.equal(v0, r1["ema"][name])
    # rank 0 alone wrote the checkpoint and the log, with losses averaged over both ranks
    assert [s for s, _ in list_checkpoints(out)] == [3]
    assert [r["step"] for r in read_metrics(out / "metrics.jsonl")] == [0, 1, 2]


def test_resume_after_kill_reproduces_the_uninterrupted_run(tmp_path):
    torch.set_num_threads(1)
    data = make_static_folder(tmp_path / "data")
    ds = _dataset(data, TINY)
    full = Trainer(TINY, tmp_path / "full", dataset=ds, progress=False)
    full_result = full.run()
    assert full_result.finished and full_result.step == 4

    killed = Trainer(TINY, tmp_path / "killed", dataset=ds, progress=False, stop_after=3)
    killed_result = killed.run()  # "killed" after step 3: the newest checkpoint is step 2
    assert not killed_result.finished
    assert latest_checkpoint(tmp_path / "killed").name == "step_0000002.pt"
    resumed = Trainer(TINY, tmp_path / "killed", dataset=ds, progress=False, resume=True)
    assert resumed.step == 2 and resumed.resumed_from is not None
    resumed_result = resumed.run()
    assert resumed_result.finished

    a = load_checkpoint(latest_checkpoint(tmp_path / "full"))
    b = load_checkpoint(latest_checkpoint(tmp_path / "killed"))
    assert a["step"] == b["step"] == 4
    for key in ("model",):
        for name, va in a[key].items():
            assert torch.equal(va, b[key][name]), f"{key}.{name} differs after resume"
    for name, va in a["ema"]["shadow"].items():
        assert torch.equal(va, b["ema"]["shadow"][name]), f"EMA {name} differs after resume"
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert all(torch.equal(sa[k]["exp_avg"], sb[k]["exp_avg"]) for k in sa)
    # the metrics log of the resumed run equals the uninterrupted one (step 2 is not logged twice)
    la = read_metrics(tmp_path / "full" / "metrics.jsonl")
    lb = read_metrics(tmp_path / "killed" / "metrics.jsonl")
    assert [r["step"] for r in lb] == [0, 1, 2, 3]
    assert [r["loss"] for r in la] == [r["loss"] for r in lb]
    # checkpoints are complete files (atomic writes leave no temporaries behind)
    assert not [p for p in (tmp_path / "killed" / "checkpoints").iterdir() if "tmp" in p.name]
    assert set(a) >= {"model", "ema", "optimizer", "step", "rng", "train_config", "scaler"}


def test_unroll_matches_the_official_engine_training_forward():
    aot = pytest.importorskip("aot")
    torch.set_num_threads(1)
    from aot.configs.default import DefaultEngineConfig
    from aot.networks.engines import build_engine
    from aot.networks.layers.loss import CrossEntropyLoss, SoftJaccordLoss
    from aot.networks.models import build_vos_model

    from hqtrack_core.model.build import vmos_from_preset
    from hqtrack_core.training.losses import SegmentationLoss
    from hqtrack_core.training.unroll import ClipUnroller

    cfg = DefaultEngineConfig("parity", "deaott")
    cfg.MODEL_ENCODER_PRETRAIN = None
    official = build_vos_model("deaot", cfg).eval()
    ours = vmos_from_preset("deaot_t").eval()
    ours.load_state_dict(official.state_dict(), strict=True)
    gap = 2
    engine = build_engine("deaotengine", "train", aot_model=official, gpu_id=0, long_term_mem_gap=gap)
    engine.losses = torch.nn.ModuleList([CrossEntropyLoss(0.15, 50000), SoftJaccordLoss()])
    engine.loss_weights, engine.aux_weight, engine.aux_step = [0.5, 0.5], 1.0, 1e5
    unroller = ClipUnroller(ours, SegmentationLoss(0.15, 50000), long_term_gap=gap)
    B, T, S = 2, 5, 65
    frames = torch.randn(B, T, 3, S, S)
    labels = torch.randint(0, 3, (B, T, S, S))
    labels[1][labels[1] == 2] = 0
    worst = 0.0
    for use_prev_pred in (False, True):
        engine.restart_engine(B, False)
        loss, _, frame_losses, _ = engine(frames.transpose(0, 1).reshape(T * B, 3, S, S),
                                          labels.transpose(0, 1).reshape(T * B, 1, S, S), B, obj_nums=[2, 1],
                                          step=1000, use_prev_pred=use_prev_pred)
        out = unroller(frames, labels, [2, 1], 1000, aux_weight=(1e5 - 1000) / 1e5, use_prev_pred=use_prev_pred)
        assert out.loss.mean().item() == pytest.approx(loss.item(), abs=1e-5)
        worst = max(worst, max((a - b).abs().max().item() for a, b in zip(frame_losses, out.frame_losses)))
    print(f"unroll vs official engine: worst per-frame loss difference {worst:.2e}")
    assert worst < 1e-5


@pytest.mark.parametrize("gap,expected", [(1, [1, 2, 3, 4, 5]), (2, [1, 1, 2, 2, 3]), (9999, [1, 1, 1, 1, 1])])
def test_unroll_long_term_memory_grows_every_gap_frames(gap, expected):
    """Frames 1..5 of a 6-frame clip read a long-term memory of the reference plus frame ``t - 1`` whenever ``gap``
    frames have passed since the last entry (never evicted): counted in entries from the keys each propagation
    reads (the short-term memory is one entry)."""
    from hqtrack_core.model.build import vmos_from_preset
    from hqtrack_core.training.losses import SegmentationLoss
    from hqtrack_core.training.unroll import ClipUnroller

    torch.manual_seed(0)
    net = vmos_from_preset("deaot_t").eval()
    entries = []
    real = net.propagate

    def spy(features, memories=None, id_emb=None):
        if memories is not None:
            entries.append(memories[0].long_key.shape[1] / memories[0].short_key.shape[1])
        return real(features, memories, id_emb)

    net.propagate = spy
    unroller = ClipUnroller(net, SegmentationLoss(0.15, 100), long_term_gap=gap)
    labels = torch.zeros(1, 6, 49, 49, dtype=torch.long)
    labels[:, :, 10:30, 12:34] = 1
    with torch.no_grad():
        unroller(torch.randn(1, 6, 3, 49, 49), labels, [1], step=0, aux_weight=0.0, use_prev_pred=False)
    assert entries == expected


def test_export_writes_loadable_ema_weights_that_the_engine_tracks(tmp_path):
    torch.set_num_threads(1)
    import numpy as np

    from hqtrack_core.commands.train import export_model
    from hqtrack_core.inference.engine import VMOSTracker
    from hqtrack_core.inference.memory import memory_policy
    from hqtrack_core.model.checkpoint import load_vmos

    data = make_static_folder(tmp_path / "data")
    cfg = TINY.replace(steps=1, save_every=1)
    trainer = Trainer(cfg, tmp_path / "run", dataset=_dataset(data, cfg), progress=False)
    trainer.run()
    path = export_model(trainer, tmp_path / "w.safetensors", half=True)
    assert path.is_file() and path.with_suffix(".json").is_file()
    net = load_vmos(path)
    ema = trainer.ema_state_dict()
    for name, value in net.state_dict().items():
        assert torch.allclose(value.float(), ema[name].float().half().float()), name
    tracker = VMOSTracker(net, policy=memory_policy("deaot", long_term_gap=2))
    rng = np.random.default_rng(0)
    mask = np.zeros((49, 57), np.uint8)
    mask[10:30, 10:30] = 1
    first = tracker.step(rng.integers(0, 255, (49, 57, 3), dtype=np.uint8), mask)
    assert np.array_equal(first.labels, mask)
    for _ in range(3):
        out = tracker.step(rng.integers(0, 255, (49, 57, 3), dtype=np.uint8))
        assert out.labels.shape == (49, 57) and out.labels.max() <= 1
    tracker.reset()
    with pytest.raises(ValueError, match="first frame needs a mask"):
        tracker.step(rng.integers(0, 255, (49, 57, 3), dtype=np.uint8))
