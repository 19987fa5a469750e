"""``hqtrack eval davis`` and ``hqtrack eval vots``: tables, JSON schemas of issue 5, clear errors."""

from __future__ import annotations

import json

import numpy as np

from hqtrack_core.cli import main
from hqtrack_core.data.vots import write_vots_results, write_vots_sequence
from hqtrack_core.evaluation.davis import evaluate_davis
from hqtrack_core.evaluation.report import davis_table, vots_table
from hqtrack_core.evaluation.vots import evaluate_vots

from _toy_helpers import write_davis_results


def test_eval_davis_cli(tmp_path, capsys):
    write_davis_results(tmp_path, {"s1": 1, "s2": 2}, noise=0.05)
    out = tmp_path / "out" / "davis.json"
    assert main(["eval", "davis", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "s1" in table and "global" in table
    # one table for the CLI and the notebooks: the davis2017-evaluation columns, recalls and decays included
    assert table == davis_table(evaluate_davis(tmp_path / "gt", tmp_path / "pred")) + f"\nwrote {out}\n"
    assert table.split()[:9] == ["sequence", "obj", "JF", "J", "F", "J_recall", "F_recall", "J_decay", "F_decay"]
    data = json.loads(out.read_text())
    assert set(data["sequences"]) == {"s1", "s2"}
    for entry in [data, *data["sequences"].values()]:
        assert {"J", "F", "JF"} <= set(entry) and all(0 <= entry[k] <= 1 for k in ("J", "F", "JF"))
    s2 = data["sequences"]["s2"]
    assert len(s2["objects"]) == 2
    assert abs(s2["J"] - np.mean([o["J"] for o in s2["objects"].values()])) < 1e-12
    assert abs(data["JF"] - (data["J"] + data["F"]) / 2) < 1e-12
    assert 0.5 < data["J"] < 1.0  # noisy predictions: good, not perfect


def test_eval_davis_cli_errors(tmp_path, capsys):
    write_davis_results(tmp_path, {"s1": 1, "s2": 2}, noise=0.05)
    assert main(["eval", "davis", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "nothing")]) == 2
    assert "prediction folder not found" in capsys.readouterr().err
    (tmp_path / "pred" / "s1" / "00003.png").unlink()
    assert main(["eval", "davis", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred")]) == 2
    assert "00003.png" in capsys.readouterr().err


def test_eval_vots_cli(tmp_path, capsys):
    h, w, length = 16, 20, 14
    frames = [np.zeros((h, w, 3), np.uint8)] * length
    for name, n_objects in (("one", 1), ("two", 2)):
        gts, preds = {}, {}
        for o in range(1, n_objects + 1):
            g_list, p_list = [], []
            for t in range(length):
                g = np.zeros((h, w), bool)
                if t < 12 or o == 1:
                    g[o : o + 4, t % 10 : t % 10 + 5] = True
                p = np.roll(g, 1, axis=1) if t % 3 else np.zeros_like(g)
                g_list.append(g)
                p_list.append(p)
            gts[str(o)], preds[str(o)] = g_list, p_list
        write_vots_sequence(tmp_path / "seqs", name, frames, gts)
        write_vots_results(tmp_path / "results", name, preds, binary=(name == "one"))
    out = tmp_path / "vots.json"
    assert main(["eval", "vots", "--sequences", str(tmp_path / "seqs"), "--results", str(tmp_path / "results"),
                 "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert table == vots_table(evaluate_vots(tmp_path / "seqs", tmp_path / "results")) + f"\nwrote {out}\n"
    assert table.split()[:7] == ["sequence", "Q", "A", "R", "NRE", "DRE", "ADQ"] and "\noverall " in table
    data = json.loads(out.read_text())
    keys = {"Q", "A", "R", "NRE", "DRE", "ADQ"}
    assert set(data) == keys | {"sequences"} and set(data["sequences"]) == {"one", "two"}
    assert all(keys == set(s) for s in data["sequences"].values())
    assert data["ADQ"] is None  # N + H never exceeds 10 here
    assert 0 < data["Q"] < 1 and abs(data["Q"] - np.mean([s["Q"] for s in data["sequences"].values()])) < 1e-12
    assert (tmp_path / "results" / "one" / "one_001.bin").is_file()
    (tmp_path / "results" / "two" / "two_2_001.txt").unlink()
    assert main(["eval", "vots", "--sequences", str(tmp_path / "seqs"), "--results", str(tmp_path / "results")]) == 2
    assert "two_2_001" in capsys.readouterr().err
