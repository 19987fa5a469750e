"""Every notebook's parameters cell is what papermill sees: ``papermill -p NAME VALUE`` works for each name.

papermill infers parameters line by line and skips (with only a log warning) a line holding more than one ``=``,
e.g. ``x = None  # None = auto``; such a parameter is then reported as unknown when passed with ``-p``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from papermill.inspection import _infer_parameters

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9]*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_parameters_are_all_visible_to_papermill(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: expected one cell tagged 'parameters', found {len(cells)}"
    assigned = [t.id for node in ast.parse(cells[0].source).body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)]
    assert assigned, f"{path.name}: the parameters cell assigns nothing"
    inferred = [p.name for p in _infer_parameters(nb)]
    assert inferred == assigned, f"{path.name}: papermill cannot see {sorted(set(assigned) - set(inferred))}"
