"""The sharded, resumable dataset runner of ``hqtrack ablate`` (hqtrack_core.ablation.shards) on tiny inputs:
merging per-sequence results gives what one pass over all sequences gives, worker processes give what one process
gives, an interrupted run resumes without recomputing finished sequences, and the torchrun sharding arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hqtrack_core.ablation import shards
from hqtrack_core.ablation.runner import run_row
from hqtrack_core.ablation.shards import RunOptions, dist_env, shard_indices
from hqtrack_core.ablation.prepare import prepare
from hqtrack_core.ablation.settings import AblationSettings
from hqtrack_core.ablation.study import ablate
from hqtrack_core.cli import main

from _toy_helpers import write_toy_davis

SCORES = ("J", "F", "JF", "Q", "A", "R", "NRE", "DRE", "ADQ")  # every row records the VOTS failure rates too


@pytest.fixture(scope="module")
def tiny_davis(tmp_path_factory) -> Path:
    return write_toy_davis(tmp_path_factory.mktemp("davis") / "runner_davis",
                           [("alpha", 6, 1, 0), ("beta", 7, 2, 1), ("gamma", 6, 1, 2)], size=(40, 56),
                           resolution="480p")


SETTINGS = AblationSettings(checkpoint="none", precision="fp32", short_edge=33, max_frames=5)


def _scores(result: dict) -> dict:
    """Every score of every variant, per sequence and per frame (no timings)."""
    out = {}
    for v in result["variants"]:
        if v["status"] == "run":
            out[v["name"]] = {**{k: v[k] for k in SCORES},
                              "sequences": {n: {k: s[k] for k in (*SCORES, "J_frames", "objects")}
                                            for n, s in v["sequences"].items()}}
    return out


def test_runner_shard_arithmetic():
    for count in (0, 1, 5, 10, 11):
        for world in (1, 2, 3, 4, 8):
            shares = [shard_indices(count, r, world) for r in range(world)]
            flat = sorted(i for s in shares for i in s)
            assert flat == list(range(count))  # every sequence exactly once
            assert max(map(len, shares)) - min(map(len, shares)) <= 1
    assert shard_indices(10, 1, 4) == [1, 5, 9]
    assert dist_env({}) == (0, 1, 0)
    assert dist_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == (3, 4, 1)
    with pytest.raises(ValueError, match="outside"):
        dist_env({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(ValueError, match="integers"):
        dist_env({"RANK": "a"})
    with pytest.raises(ValueError, match="shared folder"):
        RunOptions(world_size=2, rank=1)
    with pytest.raises(ValueError, match="workers"):
        RunOptions(workers=0)


def test_runner_merge_equals_one_pass(tiny_davis):
    """Sequence by sequence then merged == all sequences in one run_row (the path before the runner): DAVIS
    global over all objects (beta has 2), VOTS means, per-frame J."""
    prep = prepare("threshold", tiny_davis, SETTINGS, variants=["t0.1", "t0.9"])
    one_pass = run_row(prep.row, prep.clips, prep.ctx, log=lambda m: None)
    merged = ablate("threshold", tiny_davis, SETTINGS, log=lambda m: None, variants=["t0.1", "t0.9"])
    for a, b in zip(one_pass, merged["variants"]):
        assert {k: a[k] for k in SCORES} == {k: b[k] for k in SCORES}
        assert {n: {k: s[k] for k in (*SCORES, "J_frames")} for n, s in a["sequences"].items()} == \
               {n: {k: s[k] for k in (*SCORES, "J_frames")} for n, s in b["sequences"].items()}
        assert a["memory_state_peak_mb"] == b["memory_state_peak_mb"]
    assert merged["n"] == {"sequences": 3, "frames": 15, "objects": 4, "seeds": 1}


def test_runner_resumes_after_interrupt(tiny_davis, tmp_path, monkeypatch):
    """Interrupted after its first sequence, the run leaves that sequence on disk; the same call again computes
    only the two others and gives the uninterrupted result; a changed setting does not reuse them."""
    full = ablate("joint", tiny_davis, SETTINGS, log=lambda m: None, run=RunOptions(shard_dir=tmp_path / "a"))
    real = shards.run_clip
    calls = []

    def interrupted(prep, index, path, key, **kw):
        if calls:
            raise KeyboardInterrupt
        calls.append(index)
        return real(prep, index, path, key, **kw)

    monkeypatch.setattr(shards, "run_clip", interrupted)
    opts = RunOptions(shard_dir=tmp_path / "b")
    with pytest.raises(KeyboardInterrupt):
        ablate("joint", tiny_davis, SETTINGS, log=lambda m: None, run=opts)
    done = list((tmp_path / "b").glob("*/*.json"))
    assert len(done) == 1 and json.loads(done[0].read_text())["clip"] == full["clips"][0]["name"]
    assert not list((tmp_path / "b").glob("*/.*"))  # nothing half-written

    def counting(prep, index, path, key, **kw):
        calls.append(index)
        return real(prep, index, path, key, **kw)

    calls.clear()
    monkeypatch.setattr(shards, "run_clip", counting)
    logs = []
    resumed = ablate("joint", tiny_davis, SETTINGS, log=logs.append, run=opts)
    assert sorted(calls) == [1, 2] and any("resuming: 1 of 3" in m for m in logs)
    assert _scores(resumed) == _scores(full)
    calls.clear()
    import dataclasses

    ablate("joint", tiny_davis, dataclasses.replace(SETTINGS, max_frames=4), log=lambda m: None, run=opts)
    assert sorted(calls) == [0, 1, 2]  # another setting: another key, nothing reused


def test_runner_ranks_share_the_sequences(tiny_davis, tmp_path):
    """torchrun without torchrun: rank 1 of 2 runs sequence 1 only and returns None; rank 0 runs 0 and 2, finds
    rank 1's result in the shared folder and writes the row, identical to one process."""
    single = ablate("joint", tiny_davis, SETTINGS, log=lambda m: None)
    folder = tmp_path / "shared"
    assert ablate("joint", tiny_davis, SETTINGS, log=lambda m: None,
                  run=RunOptions(rank=1, world_size=2, shard_dir=folder)) is None
    assert [json.loads(p.read_text())["clip"] for p in folder.glob("*/*.json")] == [single["clips"][1]["name"]]
    merged = ablate("joint", tiny_davis, SETTINGS, log=lambda m: None,
                    run=RunOptions(rank=0, world_size=2, shard_dir=folder))
    assert _scores(merged) == _scores(single)
    with pytest.raises(TimeoutError, match="never arrived"):  # rank 1 never ran in this folder
        ablate("joint", tiny_davis, SETTINGS, log=lambda m: None,
               run=RunOptions(rank=0, world_size=2, shard_dir=tmp_path / "alone", wait_seconds=0))


@pytest.mark.slow
def test_runner_workers_identical_to_one_process(tiny_davis, tmp_path, capsys):
    """``--workers 2`` (spawned processes, 1 thread each) writes the same scores as ``--workers 1 --threads 1``,
    shows progress, and removes its per-sequence folder once the row is written."""
    base = ["--data", str(tiny_davis), "--checkpoint", "none", "--precision", "fp32", "--short-edge", "33",
            "--max-frames", "4", "--composites", "2"]
    assert main(["ablate", "joint", *base, "--out", str(tmp_path / "one"), "--workers", "1", "--threads", "1"]) == 0
    assert main(["ablate", "joint", *base, "--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    err = capsys.readouterr().err
    assert "2 workers x 1 threads" in err and "sequences 2/2" in err and "frames/s" in err
    one = json.loads((tmp_path / "one" / "joint.json").read_text())
    two = json.loads((tmp_path / "two" / "joint.json").read_text())
    assert _scores(one) == _scores(two)
    assert two["settings"]["workers"] == 2 and two["settings"]["torch_threads"] == 1
    assert not (tmp_path / "two" / ".joint.sequences").exists()
