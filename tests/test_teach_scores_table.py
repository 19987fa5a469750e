"""The README's teaching-model table is printed from data/checkpoints/hqtrack_teach_scores.json: it cannot drift
from the recorded per-sequence scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hqtrack_core.paths import repo_root
from hqtrack_core.training.scores_table import load_scores, readme_section, scores_table, summarise, write_readme


def test_readme_teaching_table_equals_the_one_printed_from_the_scores():
    readme = (repo_root() / "README.md").read_text()
    assert readme_section(readme) == scores_table(load_scores()), (
        "README's teaching-model table differs from data/checkpoints/hqtrack_teach_scores.json: run "
        "`python -m hqtrack_core.training.scores_table --write README.md`")


def _row(values, **extra):
    return {"model": "m", "split": "dev", "precision": "fp32", "scored": "today", "note": "-",
            "JF": dict(zip("abcdef", values)), **extra}


def test_mean_interval_worst_and_object_weights(tmp_path):
    s = summarise(_row([0.9, 0.5, 0.7, 0.8]))
    assert s["n"] == 4 and s["mean"] == pytest.approx(0.725)
    assert 0.5 <= s["ci95"][0] < 0.725 < s["ci95"][1] <= 0.9  # a percentile interval of resampled means
    assert s["worst"] == [("b", 0.5), ("c", 0.7)]
    weighted = summarise(_row([0.9, 0.5], objects={"a": 3}))  # the DAVIS global: a mean over objects
    assert weighted["mean"] == pytest.approx((3 * 0.9 + 0.5) / 4)
    assert summarise(_row([0.6]))["ci95"] is None  # one sequence: no interval
    text = scores_table({"rows": [_row([0.9, 0.5, 0.7, 0.8])]})
    assert "| `m` | dev (fp32) | 4 sequences | **0.725** [" in text and "| b 0.500, c 0.700 | - |" in text
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- teach:scores -->\nold\n<!-- /teach:scores -->\nrest\n")
    write_readme(readme, {"rows": [_row([0.9, 0.5])]})
    assert readme_section(readme.read_text()).startswith("| model |") and readme.read_text().endswith("-->\nrest\n")


def test_a_row_without_scores_is_refused(tmp_path):
    path = tmp_path / "scores.json"
    path.write_text(json.dumps({"rows": [{**_row([0.5]), "JF": {}}]}))
    with pytest.raises(ValueError, match="row 0 lacks"):
        load_scores(path)
    path.write_text(json.dumps({"rows": [{k: v for k, v in _row([0.5]).items() if k != "note"}]}))
    with pytest.raises(ValueError, match="note"):
        load_scores(path)


def test_recorded_scores_are_in_range():
    for row in load_scores()["rows"]:
        values = np.array(list(row["JF"].values()), dtype=float)
        assert np.all((values >= 0) & (values <= 1)), row["split"]
