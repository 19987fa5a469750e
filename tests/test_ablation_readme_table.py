"""The README's ablation table is printed from figures/ablations/*.json: it cannot drift from the committed rows."""

from __future__ import annotations

import pytest

from hqtrack_core.ablation.readme_table import readme_section, readme_table, write_readme
from hqtrack_core.ablation.report import load_all
from hqtrack_core.paths import repo_root


def test_readme_ablation_table_equals_the_one_printed_from_the_rows():
    readme = (repo_root() / "README.md").read_text()
    assert readme_section(readme) == readme_table(load_all()), (
        "README's ablation table differs from figures/ablations/*.json: run "
        "`python -m hqtrack_core.ablation.readme_table --write README.md`")


def _row(number, verdict, variants, clips=2, expected="a"):
    return {"number": number, "row": f"row{number}", "expected_best": expected, "verdict": verdict,
            "verdict_Q": verdict,
            "n": {"sequences": clips, "frames": 10 * clips, "objects": clips, "seeds": 1},
            "settings": {}, "uncertainty": {"rivals": [v["name"] for v in variants if v["name"] != expected]},
            "clips": [{"name": f"s{i}", "source": {"video": "x"}} for i in range(clips)], "variants": variants}


def test_table_states_n_verdict_and_each_difference(tmp_path):
    detected = {"mean": 0.05, "ci95": [0.01, 0.09], "p": 0.01, "detected": True}
    rows = [_row(2, "contradicts", [{"name": "a", "status": "run"},
                                    {"name": "b", "status": "run", "diff_vs_paper": detected}]),
            _row(1, "inconclusive", [{"name": "a", "status": "not run: needs weights (--x)"},
                                     {"name": "b", "status": "run"}], clips=1)]
    text = readme_table(rows)
    lines = text.splitlines()
    assert lines[2].startswith("| 1, row1") and lines[3].startswith("| 2, row2")  # in row order
    assert "1 DAVIS sequence |" in lines[2] and "the paper's choice `a` not run: needs weights" in lines[2]
    assert "| 2 / 20 / 2 / 1 | contradicts | `b` +0.050 [0.010, 0.090] **detected** |" in lines[3]
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- ablation:rows -->\nold\n<!-- /ablation:rows -->\nrest\n")
    write_readme(readme, rows)
    assert readme_section(readme.read_text()) == text and readme.read_text().endswith("-->\nrest\n")
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        write_readme(readme, rows)
