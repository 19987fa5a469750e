"""Notebook 04 with its ``checkpoint`` parameter: the path a user with real HQ-SAM weights takes.

The checkpoint is a random vit_tiny saved as the official files are (the ``random_hqsam_checkpoint`` fixture);
the frame is blackswan's (``data_root=""``: the shared data, else the shipped clip), and figures go to a temporary folder (``HQTRACK_FIGURES``), so
the committed ones are not touched.
"""

from __future__ import annotations

from pathlib import Path

import papermill

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "04_mask_refiner.ipynb"


def _stream_text(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_refiner_notebook_runs_with_a_checkpoint_file(tmp_path, monkeypatch, random_hqsam_checkpoint):
    checkpoint = random_hqsam_checkpoint
    figures = tmp_path / "figures"
    monkeypatch.setenv("HQTRACK_FIGURES", str(figures))
    nb = papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / "04.ipynb"), parameters={"data_root": "", "checkpoint": str(checkpoint)},
        cwd=str(NOTEBOOK.parent), progress_bar=False,
    )
    text = _stream_text(nb)
    assert "blackswan" in text  # data_root "": the shared data when present, else the shipped clip
    assert "1 object(s), image encodings: 1, proposals (1, " in text
    # with a checkpoint the notebook reports HQ-SAM's result per object
    assert text.count("-> HQ-SAM") == 1
    assert (figures / "04_mask_refiner.png").is_file()
