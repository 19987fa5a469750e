"""``hqtrack eval compare``: OTHER minus BASE on the same sequences, paired bootstrap and sign-flip test."""

import json

import numpy as np
import pytest

from hqtrack_core.ablation import stats
from hqtrack_core.cli import main


def _davis(scores: dict[str, float], objects: dict[str, int] | None = None) -> dict:
    """A minimal ``hqtrack eval davis --json`` record: per-sequence JF (J = F = JF) and its objects."""
    objects = objects or {}
    seqs = {n: {"J": v, "F": v, "JF": v, "frames": 10,
                "objects": {str(i + 1): {"J": v, "F": v} for i in range(objects.get(n, 1))}}
            for n, v in scores.items()}
    return {"J": None, "F": None, "JF": None, "sequences": seqs}


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


BASE = {"a": 0.60, "b": 0.70, "c": 0.80, "d": 0.55, "e": 0.90, "f": 0.75}


def test_a_gain_on_every_sequence_is_detected(tmp_path, capsys):
    other = {n: v + 0.05 + 0.01 * i for i, (n, v) in enumerate(BASE.items())}
    code = main(["eval", "compare", str(_write(tmp_path, "base.json", _davis(BASE))),
                 str(_write(tmp_path, "other.json", _davis(other)))])
    out = capsys.readouterr().out
    assert code == 0
    assert "n = 6 sequences, 6 objects" in out and "sign-flip p 0.031" in out and out.rstrip().endswith("detected")
    assert "no detectable" not in out


def test_mixed_signs_are_no_detectable_difference_and_match_the_stats_module(tmp_path, capsys):
    other = dict(BASE, a=0.70, b=0.62, e=0.93)
    objects = {"c": 3}
    result = stats.compare_scores(_davis(BASE, objects), _davis(other, objects))
    w = np.array([1, 1, 3, 1, 1, 1], float)  # sorted names a..f, c has 3 objects
    base_v, other_v = np.array([[BASE[n] for n in sorted(BASE)]]), np.array([[other[n] for n in sorted(BASE)]])
    assert result["other"] - result["base"] == pytest.approx(stats.point(other_v, w) - stats.point(base_v, w))
    assert result["diff"]["p"] == pytest.approx(stats.sign_flip_p(other_v[0] - base_v[0], w))
    assert result["diff"]["ci95"][0] < 0 < result["diff"]["ci95"][1] and not result["diff"]["detected"]
    assert result["objects"] == 8
    main(["eval", "compare", str(_write(tmp_path, "b.json", _davis(BASE, objects))),
          str(_write(tmp_path, "o.json", _davis(other, objects)))])
    assert capsys.readouterr().out.rstrip().endswith("no detectable difference")


def test_one_sequence_has_no_interval_and_no_p(tmp_path, capsys):
    code = main(["eval", "compare", str(_write(tmp_path, "b.json", _davis({"a": 0.5}))),
                 str(_write(tmp_path, "o.json", _davis({"a": 0.9})))])
    out = capsys.readouterr().out
    assert code == 0 and "n = 1 sequence, 1 object;" in out and "BASE 0.500 n/a" in out
    assert "+0.400 n/a (no p with one sequence): no detectable difference" in out


def test_vots_files_compare_q(tmp_path):
    base = {"sequences": {n: {"Q": v, "A": v, "R": 1.0} for n, v in BASE.items()}}
    other = {"sequences": {n: {"Q": v - 0.1, "A": v, "R": 1.0} for n, v in BASE.items()}}
    result = stats.compare_scores(base, other)
    assert result["key"] == "Q" and result["objects"] is None
    assert result["diff"]["mean"] == pytest.approx(-0.1) and result["diff"]["detected"]


@pytest.mark.parametrize("case, message", [
    ("other sequences", "not scored on the same sequences (only in BASE: ['f']"),
    ("partial", "is PARTIAL"),
    ("not json", "is not a JSON score file"),
    ("missing", "no such file"),
    ("bad key", "--key Q is not a per-sequence measure"),
])
def test_bad_input_is_a_clear_error(tmp_path, capsys, case, message):
    base = _write(tmp_path, "base.json", _davis(BASE))
    other_scores = _davis(BASE)
    args = []
    if case == "other sequences":
        other_scores["sequences"].pop("f")
    if case == "partial":
        other_scores["partial"] = {"scored_sequences": 5, "total_sequences": 6}
    other = _write(tmp_path, "other.json", other_scores)
    if case == "not json":
        other.write_text("J&F 0.7")
    if case == "missing":
        other = tmp_path / "absent.json"
    if case == "bad key":
        args = ["--key", "Q"]
    assert main(["eval", "compare", str(base), str(other), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
