"""The ablation study's statistics (hqtrack_core.ablation.stats) on synthetic rows whose answer is known: clear
support, clear contradiction, a tie, too few sequences or seeds to decide, pairing, reproducibility; and the
committed rows carry the keys other tools read."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hqtrack_core.ablation import stats
from hqtrack_core.ablation.report import load_all, results_dir, row_table, summary_table
from hqtrack_core.ablation.study import rescore
from hqtrack_core.evaluation.vots import VOTS_MEASURES


def _row(scores: dict[str, np.ndarray], paper: str = "a", compare=(), seed_runs: dict | None = None,
         objects=None) -> dict:
    """A row JSON with ``scores[name][i]`` as J&F and Q of sequence ``i``; ``seed_runs[name]``: ``(S, N)`` more seeds."""
    n = len(next(iter(scores.values())))
    names = [f"s{i}" for i in range(n)]
    objects = objects or [1] * n
    variants = []
    for name, values in scores.items():
        seq = {s: {"JF": float(v), "Q": float(v)} for s, v in zip(names, values)}
        rec = {"name": name, "label": name, "status": "run", "JF": float(np.mean(values)), "Q": float(np.mean(values)),
               "sequences": seq}
        if seed_runs and name in seed_runs:
            rec["seed_runs"] = [{"seed": k + 1, "sequences": {s: {"JF": float(v), "Q": float(v)}
                                                              for s, v in zip(names, run)}}
                                for k, run in enumerate(seed_runs[name])]
        variants.append(rec)
    return {"row": "synthetic", "number": 0, "scale": "teach", "paper": {}, "expected_best": paper,
            "compare": list(compare), "variants": variants,
            "clips": [{"name": s, "frames": 10, "objects": list(range(1, k + 1))} for s, k in zip(names, objects)]}


def _spread(n: int, seed: int = 1) -> np.ndarray:
    """Per-sequence difficulty: large between-sequence spread (0.3 .. 0.9)."""
    return np.random.default_rng(seed).uniform(0.3, 0.9, n)


def test_stats_clear_support_contradiction_and_tie():
    base = _spread(12)
    noise = np.random.default_rng(2).normal(0, 0.005, 12)
    support = stats.row_uncertainty(_row({"a": base + 0.05 + noise, "b": base}))
    assert support["verdict"] == "supports"
    diff = support["variants"]["b"]["diff_vs_paper"]
    assert diff["mean"] == pytest.approx(-0.05 - noise.mean()) and diff["ci95"][1] < 0 < 0.06 + diff["ci95"][0]
    contra = stats.row_uncertainty(_row({"a": base, "b": base + 0.05 + noise}))
    assert contra["verdict"] == "contradicts" and "b" in contra["verdict_reason"]
    tie = stats.row_uncertainty(_row({"a": base, "b": base + np.random.default_rng(3).normal(0, 0.02, 12)}))
    assert tie["verdict"] == "inconclusive"
    lo, hi = tie["variants"]["b"]["diff_vs_paper"]["ci95"]
    assert lo < 0 < hi
    same = stats.row_uncertainty(_row({"a": base, "b": base}))
    assert same["verdict"] == "inconclusive" and same["variants"]["b"]["diff_vs_paper"]["ci95"] == [0.0, 0.0]


def test_stats_pairing_detects_a_consistent_difference_under_a_large_spread():
    """Sequence difficulty varies by 0.6, the difference is a steady 0.02: paired, it is detected; the per-variant
    intervals overlap almost entirely (an unpaired comparison would call it a tie)."""
    base = _spread(10)
    u = stats.row_uncertainty(_row({"a": base + 0.02, "b": base}))
    assert u["verdict"] == "supports"
    ca, cb = u["variants"]["a"]["jf_ci95"], u["variants"]["b"]["jf_ci95"]
    assert cb[1] > ca[0]  # overlapping intervals
    assert u["variants"]["b"]["diff_vs_paper"]["ci95"] == pytest.approx([-0.02, -0.02], abs=1e-9)


def test_stats_four_sequences_cannot_decide():
    """All 4 differences favour the paper's choice and the bootstrap interval excludes 0, yet the exact sign-flip
    test's smallest p is 2/16: the verdict stays inconclusive (the percentile bootstrap is too narrow at n=4)."""
    base = _spread(4)
    u = stats.row_uncertainty(_row({"a": base + np.array([0.03, 0.05, 0.04, 0.06]), "b": base}))
    diff = u["variants"]["b"]["diff_vs_paper"]
    assert diff["ci95"][1] < 0 and diff["p"] == pytest.approx(0.125)
    assert u["verdict"] == "inconclusive" and u["n"] == {"sequences": 4, "frames": 40, "objects": 4, "seeds": 1}
    assert stats.sign_flip_p([0.1] * 6) == pytest.approx(2 / 64)


def test_stats_one_sequence_has_no_interval():
    u = stats.row_uncertainty(_row({"a": np.array([0.5]), "b": np.array([0.9])}))
    assert u["variants"]["b"]["jf_ci95"] is None and u["variants"]["b"]["diff_vs_paper"]["ci95"] is None
    assert u["verdict"] == "inconclusive" and "one sequence" in u["verdict_reason"]


def test_stats_seeds_are_replicates():
    """Trained variants: the seeds carry the training noise. 3 seeds against 3 cannot reach p < 0.05 (smallest
    2/20); 5 against 5 with a clear gap can; a gap smaller than the seed spread cannot."""
    base = _spread(6)
    rng = np.random.default_rng(4)
    a_runs = [base + 0.08 + rng.normal(0, 0.01) for _ in range(4)]
    b_runs = [base + rng.normal(0, 0.01) for _ in range(4)]
    three = stats.row_uncertainty(_row({"a": base + 0.08, "b": base}, seed_runs={"a": a_runs[:2], "b": b_runs[:2]}))
    assert three["n"]["seeds"] == 3 and three["variants"]["b"]["diff_vs_paper"]["p"] == pytest.approx(0.1)
    assert three["verdict"] == "inconclusive"
    five = stats.row_uncertainty(_row({"a": base + 0.08, "b": base}, seed_runs={"a": a_runs, "b": b_runs}))
    assert five["verdict"] == "supports"
    noisy_a = [base + 0.01 + rng.normal(0, 0.05) for _ in range(4)]
    noisy_b = [base + rng.normal(0, 0.05) for _ in range(4)]
    noisy = stats.row_uncertainty(_row({"a": base + 0.01, "b": base}, seed_runs={"a": noisy_a, "b": noisy_b}))
    assert noisy["verdict"] == "inconclusive"
    # the seed resampling widens the interval of a variant against a single-run one
    single = stats.row_uncertainty(_row({"a": base + 0.01, "b": base}))
    w = lambda u: np.diff(u["variants"]["b"]["diff_vs_paper"]["ci95"])[0]  # noqa: E731
    assert w(noisy) > w(single)


def test_stats_several_rivals_and_reference_variants():
    """Supports needs every compared rival beaten; a variant outside ``compare`` is for reference only; one rival
    detectably better contradicts."""
    base = _spread(12)
    scores = {"a": base + 0.05, "b": base, "c": base + 0.05, "ref": base + 0.3}
    u = stats.row_uncertainty(_row(scores, compare=("a", "b", "c")))
    assert u["verdict"] == "inconclusive" and "c" in u["verdict_reason"]
    u = stats.row_uncertainty(_row({**scores, "c": base}, compare=("a", "b", "c")))
    assert u["verdict"] == "supports" and u["rivals"] == ["b", "c"]
    u = stats.row_uncertainty(_row({**scores, "c": base + 0.1}, compare=("a", "b", "c")))
    assert u["verdict"] == "contradicts"


def test_stats_objects_weight_jf_and_output_is_reproducible():
    """J&F is the object-weighted mean (the DAVIS global), Q the sequence mean; the same seed gives the same
    intervals, another seed slightly different ones."""
    row = _row({"a": np.array([0.2, 0.8, 0.5]), "b": np.array([0.1, 0.7, 0.4])}, objects=[3, 1, 1])
    u = stats.apply(row)
    a = next(v for v in u["variants"] if v["name"] == "a")
    assert u["n"]["objects"] == 5
    b = next(v for v in u["variants"] if v["name"] == "b")
    assert b["diff_vs_paper"]["mean"] == pytest.approx(-0.1)
    assert stats.point(np.array([[0.2, 0.8, 0.5]]), np.array([3.0, 1, 1])) == pytest.approx((0.6 + 0.8 + 0.5) / 5)
    # the one weighting rule of the rows and of hqtrack eval compare
    assert stats.sequence_weights([3, 1, 1], "F").tolist() == [3, 1, 1]
    assert stats.sequence_weights([3, 1, 1], "Q").tolist() == [1, 1, 1]
    assert a["jf_ci95"][0] >= 0.2 - 1e-9 and a["jf_ci95"][1] <= 0.8 + 1e-9
    wide = _row({"a": _spread(8), "b": _spread(8, seed=5)})
    ci = lambda **kw: stats.apply(wide, **kw)["variants"][0]["jf_ci95"]  # noqa: E731
    assert ci() == ci() and ci() != ci(seed=1)
    assert np.allclose(ci(), ci(seed=1), atol=0.03)  # 10,000 resamples: the seed moves the ends a little


def test_stats_paper_choice_not_run():
    row = _row({"a": _spread(5), "b": _spread(5) + 0.1})
    row["variants"][0]["status"] = "not run: needs weights"
    u = stats.apply(row)
    assert u["verdict"] == "inconclusive" and "needs weights" in u["verdict_reason"]
    assert u["variants"][1]["diff_vs_paper"] is None and u["variants"][1]["jf_ci95"] is not None


def test_stats_committed_rows_carry_the_keys(tmp_path):
    """Every committed row is rescored: the keys the issue names, n matching its clips, and rescoring again changes
    nothing but the stamp."""
    rows = load_all()
    assert len(rows) >= 6
    for row in rows:
        assert row["verdict"] in stats.VERDICTS
        assert set(row["n"]) == {"sequences", "frames", "objects", "seeds"}
        assert row["n"]["sequences"] == len(row["clips"])
        assert row["n"]["frames"] == sum(c["frames"] for c in row["clips"])
        for v in row["variants"]:
            if v["status"] == "run":
                assert "jf_ci95" in v and (v["jf_ci95"] is None or len(v["jf_ci95"]) == 2)
                assert v["diff_vs_paper"] is None or set(v["diff_vs_paper"]) >= {"mean", "ci95"}
                # Q, A, R and the failure rates NRE, DRE, ADQ: overall and per sequence (notebooks 11-14 read them)
                assert all(k in v for k in VOTS_MEASURES), (row["row"], v["name"])
                assert all(k in s for s in v["sequences"].values() for k in VOTS_MEASURES), (row["row"], v["name"])
        again = rescore(json.loads(json.dumps(row)))
        assert {k: v for k, v in again.items() if k != "rescored"} == {k: v for k, v in row.items() if k != "rescored"}
        assert "same_direction_Q" not in row
        for ckpt in row["settings"]["checkpoints"].values():
            if ckpt["sha256"] == "5c564b7ef89b78ab8f847a985de286ec062f65a212ba60c7af209b211c38a4f7":
                assert ckpt["path"].endswith("hqtrack_teach_v2.safetensors")
    table = summary_table(rows)
    assert "inconclusive" in table and "[" in table
    assert "95% CI" in row_table(rows[0])


def test_stats_cli_rescore(tmp_path, capsys):
    """``hqtrack ablate ROW --rescore --out DIR``: no data, no tracking; the row gets its intervals and verdict
    back and the table shows them; a missing row file is a one-line error."""
    from hqtrack_core.cli import main

    committed = json.loads((results_dir() / "threshold.json").read_text())
    row = json.loads(json.dumps(committed))
    for key in ("verdict", "n", "verdict_reason", "verdict_Q", "verdict_Q_reason", "uncertainty", "rescored"):
        row.pop(key, None)
    for v in row["variants"]:
        for key in ("jf_ci95", "q_ci95", "diff_vs_paper", "diff_vs_paper_Q", "seeds"):
            v.pop(key, None)
    (tmp_path / "threshold.json").write_text(json.dumps(row))
    assert main(["ablate", "threshold", "--rescore", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    n = committed["n"]
    assert "95% CI" in out and f"verdict (J&F): {committed['verdict']}" in out
    assert f"n = {n['sequences']} sequences, {n['frames']} frames" in out
    again = json.loads((tmp_path / "threshold.json").read_text())
    assert again["verdict"] == committed["verdict"] and again["n"] == n  # what was stripped comes back
    assert all(len(v["jf_ci95"]) == 2 and len(v["diff_vs_paper"]["ci95"]) == 2 for v in again["variants"])
    assert main(["ablate", "joint", "--rescore", "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["ablate", "joint", "--out", str(tmp_path)]) == 2
    assert "--data DAVIS_ROOT is required" in capsys.readouterr().err


def test_stats_seed_runs_join_a_row():
    """Rows 1-2: the same row scored with other seeds' checkpoints joins as seed_runs (then the seeds are the
    replicates); another clip list or the same checkpoint twice is refused."""
    base = _spread(6)
    row = _row({"a": base + 0.05, "b": base})
    row["settings"] = {"checkpoints": {"a": {"sha256": "a0"}, "b": {"sha256": "b0"}}}
    others = []
    for k in (1, 2, 3, 4):
        other = _row({"a": base + 0.05 + 0.002 * k, "b": base - 0.002 * k})
        other["settings"] = {"checkpoints": {"a": {"sha256": f"a{k}"}, "b": {"sha256": f"b{k}"}}}
        others.append(other)
    joined = stats.apply(stats.attach_seed_runs(row, others))
    assert joined["n"]["seeds"] == 5 and len(joined["variants"][0]["seed_runs"]) == 4
    assert joined["verdict"] == "supports"  # 5 seeds against 5, all apart: p = 2/252
    with pytest.raises(ValueError, match="same training run"):
        stats.attach_seed_runs(row, [row])
    short = _row({"a": base[:5], "b": base[:5]})
    short["settings"] = others[0]["settings"]
    with pytest.raises(ValueError, match="same clips"):
        stats.attach_seed_runs(row, [short])


def test_seed_spread_and_table():
    """How far retraining alone moves J&F: per variant the weighted score of each training run (committed first),
    their range and SD; the table sets the largest range beside the largest difference between variants, and says
    so when each variant has a single run."""
    from hqtrack_core.ablation.report import seed_table

    base = _spread(4)
    row = _row({"a": base + 0.05, "b": base}, seed_runs={"a": [base + 0.07, base + 0.02]}, objects=[1, 3, 1, 1])
    spread = stats.seed_spread(row)
    weights = np.array([1, 3, 1, 1], float)
    expect = [float((x * weights).sum() / weights.sum()) for x in (base + 0.05, base + 0.07, base + 0.02)]
    assert spread["a"]["per_run"] == pytest.approx(expect)
    assert spread["a"]["range"] == pytest.approx(0.05) and spread["a"]["sd"] == pytest.approx(np.std(expect, ddof=1))
    assert spread["b"]["range"] is None and spread["b"]["sd"] is None  # one run: nothing to spread
    assert stats.seed_spread(row, "Q")["a"]["per_run"][0] == pytest.approx(float(np.mean(base + 0.05)))  # unweighted
    table = seed_table(row)
    assert "Retraining alone moved J&F by up to 0.050 (a)" in table
    assert f"the variants' means differ by up to {np.mean(expect) - expect[0] + 0.05:.3f}" in table
    assert "not measured" in seed_table(_row({"a": base, "b": base}))
