"""The README's teaching-model table, printed from ``data/checkpoints/hqtrack_teach_scores.json`` (never typed by hand).

``python -m hqtrack_core.training.scores_table`` prints it; ``--write README.md`` puts it between the markers
``<!-- teach:scores -->`` and ``<!-- /teach:scores -->`` (``tests/test_teach_scores_table.py`` fails when the README
and the file disagree). One line per scored split: the model, what was scored and in which precision, n, the mean
J&F with its 95% bootstrap interval over the sequences, the two worst sequences and a note.

The file holds, per split, the per-sequence J&F (``"JF": {sequence: value}``, as ``hqtrack eval davis --json``
gives them under ``sequences``) and optionally ``"objects": {sequence: count}`` (default 1: DAVIS-2016 has one
object per sequence); the mean is the DAVIS global (objects weighted, :func:`hqtrack_core.ablation.stats.
sequence_weights`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..ablation.stats import Scores, bootstrap, fmt_ci, interval, point, sequence_weights
from ..paths import artefacts_dir
from ..readme_markers import main as readme_main
from ..readme_markers import replace_section, section

SECTION = "teach:scores"
FIELDS = ("model", "split", "precision", "scored", "note", "JF")


def scores_path() -> Path:
    """``data/checkpoints/hqtrack_teach_scores.json``."""
    return artefacts_dir() / "checkpoints" / "hqtrack_teach_scores.json"


def load_scores(path: str | Path | None = None) -> dict:
    """The scores file; ``ValueError`` naming what a row lacks."""
    path = Path(path) if path else scores_path()
    data = json.loads(path.read_text())
    for k, row in enumerate(data.get("rows", [])):
        missing = [f for f in FIELDS if f not in row]
        if missing or not row["JF"]:
            raise ValueError(f"{path}: row {k} lacks {missing or ['per-sequence JF values']}")
    return data


def summarise(row: dict) -> dict:
    """``{"n", "mean", "ci95", "worst": [(sequence, JF), ...]}`` of one row (``ci95`` ``None`` for one sequence)."""
    names = list(row["JF"])
    values = np.array([[float(row["JF"][n]) for n in names]])
    weights = sequence_weights([int(row.get("objects", {}).get(n, 1)) for n in names], "JF")
    ci = interval(bootstrap([Scores("row", values)], weights)["row"]) if len(names) > 1 else None
    worst = sorted(row["JF"].items(), key=lambda kv: (kv[1], kv[0]))[:2]
    return {"n": len(names), "mean": point(values, weights), "ci95": ci, "worst": worst}


def scores_table(data: dict) -> str:
    """Markdown: one line per row of the scores file."""
    lines = ["| model | split (precision) | n | J&F [95% interval] | worst | note |",
             "| --- | --- | --- | --- | --- | --- |"]
    for row in data["rows"]:
        s = summarise(row)
        worst = ", ".join(f"{name} {value:.3f}" for name, value in s["worst"])
        lines.append(f"| `{row['model']}` | {row['split']} ({row['precision']}) | {s['n']} sequences | "
                     f"**{s['mean']:.3f}** {fmt_ci(s['ci95'])} | {worst} | {row['note']} |")
    return "\n".join(lines) + "\n"


def readme_section(text: str) -> str:
    """The text between the markers of a README (``ValueError`` without them)."""
    return section(text, SECTION)


def write_readme(path: Path, data: dict) -> None:
    replace_section(path, SECTION, scores_table(data))


def main(argv: list[str] | None = None) -> int:
    return readme_main(argv, "python -m hqtrack_core.training.scores_table", __doc__.splitlines()[0], SECTION,
                       lambda: scores_table(load_scores()))


if __name__ == "__main__":
    sys.exit(main())
