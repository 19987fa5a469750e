"""Issue 35, faults beyond the first mile: training that diverges, training data that does not match, init / resume
files of another model, a run stopped between its checkpoint and its export, weights that parse but hold NaN/inf,
a training checkpoint given where an exported file is expected, and runs that collide (the run lock).

Tiny: ``deaot_t`` with random weights, 3 static 72x88 images, crops of 49-65 pixels, 1-4 steps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hqtrack_core.cli import main
from hqtrack_core.data.masks import write_mask
from hqtrack_core.data.toy_video import make_toy_video

from _toy_helpers import write_toy_clip
from _train_helpers import make_static_folder

REPO = Path(__file__).resolve().parents[1]
TINY = ["--model", "deaot_t", "--checkpoint", "none"]


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture
def data(tmp_path):
    return make_static_folder(tmp_path / "data", n=3)


def _cfg(**changes):
    from hqtrack_core.training.config import TrainConfig

    base = TrainConfig(name="tiny", model="deaot_t", stage=1, seq_len=3, crop=(49, 49), batch_size=2, steps=4,
                       merge_prob=1.0, pretrained_backbone=False, min_object_pixels=10, save_every=1, log_every=1,
                       keep_checkpoints=5)
    return base.replace(**changes)


def _dataset(cfg, data):
    from hqtrack_core.training.dataset import build_dataset

    return build_dataset(cfg, data)


def _train_cli(data, run, *extra) -> list[str]:
    return ["train", "--config", "ci_smoke", "--data", str(data), "--out", str(run), "--no-progress", *extra]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err.splitlines()[-1]


# --- training that diverges --------------------------------------------------------------------------------
def test_fault_train_lr_too_high_stops_with_one_line_and_keeps_finite_checkpoints(data, tmp_path, capsys):
    """lr 1e30: step 1's update blows the weights up, step 2's loss is NaN. One line names the step and the
    likely cause; every checkpoint on disk holds finite weights; metrics.jsonl holds no NaN."""
    run = tmp_path / "run"
    assert main(_train_cli(data, run, "--set", "lr=1e30", "--set", "save_every=1")) == 2
    err = _one_line(capsys)
    assert err.startswith("hqtrack train: error: training diverged at step ")
    assert "learning rate too high" in err and "--resume --set lr=" in err
    from hqtrack_core.training.checkpoints import list_checkpoints, load_checkpoint
    from hqtrack_core.validate import nonfinite_tensors

    kept = list_checkpoints(run)
    step = int(err.split("at step ")[1].split(":")[0])
    assert kept and kept[-1][0] == step  # the steps before the diverged one, nothing of it
    for _, path in kept:
        ckpt = load_checkpoint(path)
        assert nonfinite_tensors(ckpt["model"]) == [] and nonfinite_tensors(ckpt["ema"]["model"]) == []
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["loss"]) for r in records) and len(records) == step


def test_fault_train_bad_data_is_named_as_the_cause(data, tmp_path):
    """A batch whose frames hold NaN (a broken augmentation, a corrupt decoder): the cause named is the data."""
    from hqtrack_core.training.divergence import TrainingDiverged
    from hqtrack_core.training.trainer import Trainer

    cfg = _cfg()
    ds = _dataset(cfg, data)

    class Poisoned(torch.utils.data.Dataset):
        def __len__(self):
            return len(ds)

        def __getitem__(self, sample_id):
            item = ds[sample_id]
            if sample_id >= 2 * cfg.batch_size:  # step 2 on
                item["frames"] = item["frames"].clone()
                item["frames"][0, 0, 0, 0] = float("nan")
            return item

    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"at step 2: the loss is nan \(bad data"):
        Trainer(cfg, run, dataset=Poisoned(), progress=False).run()
    assert [p.name for p in sorted((run / "checkpoints").iterdir())] == ["step_0000001.pt", "step_0000002.pt"]


def test_fault_train_nonfinite_weights_with_finite_loss_are_never_checkpointed(data, tmp_path, monkeypatch):
    """The loss of a step is finite but its update leaves an inf weight: caught before the checkpoint."""
    from hqtrack_core.training.divergence import TrainingDiverged
    from hqtrack_core.training.trainer import Trainer

    cfg = _cfg()
    trainer = Trainer(cfg, tmp_path / "run", dataset=_dataset(cfg, data), progress=False)
    real_step = trainer.optimizer.step

    def step(*args, **kwargs):
        out = real_step(*args, **kwargs)
        if trainer.step == 1:  # (trainer.step is still the step being taken)
            next(trainer.model.parameters()).data[0] = float("inf")
        return out

    monkeypatch.setattr(trainer.optimizer, "step", step)
    with pytest.raises(TrainingDiverged, match="at step 1: weight .* holds NaN/inf after the update"):
        trainer.run()
    assert [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()] == ["step_0000001.pt"]


def test_fault_export_refuses_nonfinite_ema(data, tmp_path):
    from hqtrack_core.commands.train import export_model
    from hqtrack_core.training.trainer import Trainer

    cfg = _cfg()
    trainer = Trainer(cfg, tmp_path / "run", dataset=_dataset(cfg, data), progress=False)
    state = trainer.ema_state_dict()
    name = next(k for k, v in state.items() if v.is_floating_point())
    state[name].fill_(float("nan"))
    trainer.ema_state_dict = lambda: state
    with pytest.raises(ValueError, match=f"EMA of step 0 holds NaN/inf weights: {name}"):
        export_model(trainer, tmp_path / "w.safetensors")
    assert not list(tmp_path.glob("w.*"))


# --- training data ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["mask_size", "all_empty", "no_pairs", "video_mask_size", "no_sequence"])
def test_bad_input_training_data_refused_up_front(tmp_path, capsys, monkeypatch, kind):
    import hqtrack_core.training.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "build_training_model",
                        lambda *a, **k: pytest.fail("the model was built before the data was checked"))
    root = make_static_folder(tmp_path / "d", n=3)
    extra = []
    if kind == "mask_size":
        Image.open(root / "masks" / "001.png").resize((44, 36)).save(root / "masks" / "001.png")
        expected = "mask .*001.png is 44x36 but its frame .*001.jpg is 88x72 \\(1 of 3 pairs differ\\)"
    elif kind == "all_empty":
        for mask in (root / "masks").iterdir():
            write_mask(mask, np.zeros((72, 88), np.uint8))
        expected = "none of the 3 masks holds an object"
    elif kind == "no_pairs":
        for mask in (root / "masks").iterdir():
            mask.rename(mask.with_name("x" + mask.name))
        expected = "no image in .* has a mask of the same name"
    else:  # stage 2, YouTube-VOS layout
        seq = tmp_path / "d2"
        (seq / "Annotations").mkdir(parents=True)
        if kind == "video_mask_size":
            (seq / "JPEGImages" / "a").mkdir(parents=True)
            (seq / "Annotations" / "a").mkdir()
            for i in range(3):
                Image.new("RGB", (88, 72)).save(seq / "JPEGImages" / "a" / f"{i:05d}.jpg")
                write_mask(seq / "Annotations" / "a" / f"{i:05d}.png", np.ones((72 if i else 70, 88), np.uint8))
            expected = "00000.png is 88x70 but its frame"
        else:
            expected = "no video sequence"
        root, extra = seq, ["--set", "stage=2"]
    assert main(_train_cli(root, tmp_path / "run", *extra)) == 2
    err = _one_line(capsys)
    assert err.startswith("hqtrack train: error: ")
    import re

    assert re.search(expected, err), err


# --- init / resume of another model -------------------------------------------------------------------------
def test_bad_input_init_of_another_model_names_both(data, tmp_path):
    from hqtrack_core.model.checkpoint import save_vmos
    from hqtrack_core.model.build import vmos_from_preset
    from hqtrack_core.training.trainer import Trainer

    cfg = _cfg(steps=1)
    ds = _dataset(cfg, data)
    Trainer(cfg, tmp_path / "run", dataset=ds, progress=False).run()
    pt = tmp_path / "run" / "checkpoints" / "step_0000001.pt"
    with pytest.raises(ValueError, match="step_0000001.pt is a run of model deaot_t, this run trains deaot_s"):
        Trainer(cfg.replace(model="deaot_s", init_checkpoint=str(pt)), tmp_path / "r2", dataset=ds, progress=False)
    other = tmp_path / "s.safetensors"
    save_vmos(vmos_from_preset("deaot_s"), other, preset="deaot_s")
    with pytest.raises(ValueError, match="s.safetensors holds another model than deaot_t"):
        Trainer(cfg.replace(init_checkpoint=str(other)), tmp_path / "r3", dataset=ds, progress=False)
    bare = tmp_path / "bare.pth"  # a plain state dict of another size: names match, shapes do not
    torch.save(vmos_from_preset("deaot_s").state_dict(), bare)
    with pytest.raises(ValueError, match="bare.pth does not fit model deaot_t"):
        Trainer(cfg.replace(init_checkpoint=str(bare)), tmp_path / "r4", dataset=ds, progress=False)


# --- stopped between the checkpoint and its export ------------------------------------------------------------
def test_fault_stopped_before_export_resume_exports_the_same_weights(data, tmp_path, capsys):
    """The run finished (final checkpoint written) but was killed before or during --export: ``--resume --export``
    runs no step and writes the EMA of that checkpoint, equal to what the uninterrupted run exported."""
    from safetensors.torch import load_file

    cfg_file = tmp_path / "tiny.json"
    cfg_file.write_text(_cfg(steps=2, save_every=2).to_json())
    run, first = tmp_path / "run", tmp_path / "first.safetensors"
    assert main(["train", "--config", str(cfg_file), "--data", str(data), "--out", str(run), "--no-progress",
                 "--export", str(first)]) == 0
    again = tmp_path / "again.safetensors"  # the kill: nothing exported yet
    assert main(["train", "--config", str(cfg_file), "--data", str(data), "--out", str(run), "--no-progress",
                 "--resume", "--export", str(again)]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "step 2/2" in out
    a, b = load_file(str(first)), load_file(str(again))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads(again.with_suffix(".json").read_text())["step"] == 2
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step_0000002.pt"]
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp") or p.name.endswith(".lock")]


# --- weights broken in content ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    return write_toy_clip(root, make_toy_video(num_frames=3, height=64, width=80, num_objects=2, seed=3))


@pytest.fixture
def no_tracking(monkeypatch):
    import hqtrack_core.commands.track as tracking

    monkeypatch.setattr(tracking, "track_video", lambda *a, **k: pytest.fail("a frame was tracked"))


@pytest.mark.parametrize("kind", ["safetensors", "official_pth"])
def test_bad_input_weights_with_nan_refused_before_tracking(toy, tmp_path, capsys, no_tracking, kind):
    from hqtrack_core.model.checkpoint import save_vmos
    from hqtrack_core.model.build import vmos_from_preset

    net = vmos_from_preset("deaot_t")
    name = next(k for k, v in net.state_dict().items() if v.is_floating_point() and v.numel() > 4)
    with torch.no_grad():
        net.state_dict()[name].view(-1)[:3] = float("nan")
    if kind == "safetensors":
        path, extra = save_vmos(net, tmp_path / "nan.safetensors", preset="deaot_t"), []
    else:
        path, extra = tmp_path / "nan.pth", ["--model", "deaot_t"]
        torch.save({"state_dict": net.state_dict()}, path)
    frames, mask = toy
    assert main(["track", str(frames), "--mask", str(mask), "--out", str(tmp_path / "out"), "--checkpoint",
                 str(path), *extra]) == 2
    err = _one_line(capsys)
    assert f"{path.name} holds NaN/inf weights: {name} has 3 of" in err, err
    assert not (tmp_path / "out").exists()


def test_fault_training_checkpoint_as_checkpoint_tracks_with_its_ema(data, toy, tmp_path, capsys):
    from hqtrack_core.api import build_vmos
    from hqtrack_core.training.trainer import Trainer

    cfg = _cfg(steps=1)
    trainer = Trainer(cfg, tmp_path / "run", dataset=_dataset(cfg, data), progress=False)
    trainer.run()
    pt = tmp_path / "run" / "checkpoints" / "step_0000001.pt"
    net, description = build_vmos(checkpoint=pt)
    assert "EMA weights of training checkpoint step_0000001.pt (step 1" in description
    ema = trainer.ema_state_dict()
    assert all(torch.equal(v.float(), ema[k].float()) for k, v in net.state_dict().items() if k in ema)
    frames, mask = toy
    assert main(["track", str(frames), "--mask", str(mask), "--out", str(tmp_path / "out"), "--checkpoint",
                 str(pt)]) == 0
    assert "EMA weights of training checkpoint" in capsys.readouterr().err
    assert len(list((tmp_path / "out").glob("*.png"))) == 3
    assert main(["track", str(frames), "--mask", str(mask), "--out", str(tmp_path / "o2"), "--checkpoint", str(pt),
                 "--model", "deaot_s"]) == 2
    assert "--model deaot_s conflicts with step_0000001.pt, a training checkpoint of deaot_t" in _one_line(capsys)


# --- runs that collide ----------------------------------------------------------------------------------------
def _hold_lock(dest: Path, what: str) -> subprocess.Popen:
    """Another process holding ``dest``'s lock until killed."""
    code = ("import sys, time; from hqtrack_core.atomic import run_lock\n"
            f"with run_lock({str(dest)!r}, {what!r}):\n    print('held', flush=True); time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_fault_two_track_runs_into_one_out(toy, tmp_path, capsys):
    """The second run fails at once naming the first (pid, command); after the first is killed (kill -9 leaves
    its lock file) the next run takes the stale lock over, warns, and writes its masks."""
    frames, mask = toy
    out = tmp_path / "out"
    holder = _hold_lock(out, "hqtrack track")
    try:
        assert main(["track", str(frames), "--mask", str(mask), "--out", str(out), *TINY]) == 2
        err = _one_line(capsys)
        assert f"is in use by hqtrack track (pid {holder.pid} on " in err and "choose another folder" in err
        assert not out.exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (tmp_path / ".out.lock").exists()  # kill -9: no cleanup ran
    assert main(["track", str(frames), "--mask", str(mask), "--out", str(out), *TINY]) == 0
    err = capsys.readouterr().err
    assert f"took over the lock of {out} left by hqtrack track (pid {holder.pid}" in err
    assert len(list(out.glob("*.png"))) == 3 and not (tmp_path / ".out.lock").exists()


def test_fault_training_and_ablation_started_twice_in_one_folder(data, tmp_path, capsys):
    from hqtrack_core.atomic import LockHeld, run_lock
    from hqtrack_core.training.trainer import Trainer

    run = tmp_path / "run"
    holder = _hold_lock(run, "hqtrack train")
    try:
        cfg = _cfg(steps=1)
        with pytest.raises(LockHeld, match=f"in use by hqtrack train \\(pid {holder.pid}"):
            Trainer(cfg, run, dataset=_dataset(cfg, data), progress=False).run()
        assert not (run / "checkpoints").exists()
        assert main(_train_cli(data, run)) == 2
        assert "in use by hqtrack train" in _one_line(capsys)
    finally:
        holder.kill()  # (SIGKILL: its lock file stays, taken over below)
        holder.wait()
    out = tmp_path / "study"
    holder = _hold_lock(out / "memory.json", "hqtrack ablate memory")
    try:
        assert main(["ablate", "memory", "--data", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
        assert f"in use by hqtrack ablate memory (pid {holder.pid}" in _one_line(capsys)
    finally:
        holder.kill()
        holder.wait()
    with pytest.warns(UserWarning, match="took over the lock"), run_lock(run, "outer"), run_lock(run, "inner"):
        assert (tmp_path / ".run.lock").read_text().split("\t")[1] == str(os.getpid())
    assert not (tmp_path / ".run.lock").exists()


@pytest.mark.parametrize("option,target", [("--preview", "ro/p.png"), ("--overlay", "ro/o.gif"),
                                           ("--preview", "adir")])
def test_bad_input_overlay_or_preview_not_writable_fails_before_the_model(toy, tmp_path, capsys, monkeypatch,
                                                                          option, target):
    import hqtrack_core.commands.tracker_options as tracker_options

    monkeypatch.setattr(tracker_options, "build_tracker", lambda *a, **k: pytest.fail("model loaded before the check"))
    (tmp_path / "ro").mkdir()
    (tmp_path / "adir").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path / "ro" else real_access(p, mode))
    frames, mask = toy
    assert main(["track", str(frames), "--mask", str(mask), "--out", str(tmp_path / "out"), *TINY,
                 option, str(tmp_path / target)]) == 2
    err = _one_line(capsys)
    assert option in err and str(tmp_path / target) in err, err
    assert not (tmp_path / "out").exists()


def test_resume_with_init_on_a_fresh_folder_starts_from_the_init_weights(data, tmp_path):
    """``--resume --init W`` in a folder without checkpoints is a first launch: it starts from W (it used to
    ignore W and start from scratch); once a checkpoint exists, resuming wins over W."""
    from hqtrack_core.training.trainer import Trainer

    cfg = _cfg(steps=2)
    ds = _dataset(cfg, data)
    Trainer(cfg, tmp_path / "a", dataset=ds, progress=False).run()
    init = tmp_path / "a" / "checkpoints" / "step_0000002.pt"
    ema = torch.load(init, map_location="cpu", weights_only=False)["ema"]["model"]

    def starts_from_init(trainer) -> bool:
        state = trainer.model.state_dict()
        return all(torch.equal(state[k], v.to(state[k].dtype)) for k, v in ema.items() if k in state)

    assert not starts_from_init(Trainer(cfg, tmp_path / "c", dataset=ds, progress=False))  # the test can fail
    fresh = Trainer(cfg.replace(init_checkpoint=str(init)), tmp_path / "b", dataset=ds, progress=False, resume=True)
    assert fresh.resumed_from is None and starts_from_init(fresh)
    fresh.stop_after = 1
    fresh.run()
    again = Trainer(cfg.replace(init_checkpoint=str(init)), tmp_path / "b", dataset=ds, progress=False, resume=True)
    assert again.resumed_from is not None and again.step == 1
