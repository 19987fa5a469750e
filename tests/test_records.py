"""The training log's loss curve (``hqtrack_core.training.records``)."""

from __future__ import annotations


def test_loss_curve_draws_parallel_continuations_as_separate_overlapping_parts(tmp_path):
    """The shipped model's log holds continuations that branch from one parent (the soup's ingredients): they share
    a run_step range and must be drawn side by side, not joined into one zig-zag line."""
    from hqtrack_core.training.records import plot_loss_curve, run_segments

    records = [{"step": s, "run_step": s, "stage": 2, "run": "a", "loss": 1.0, "iou": 0.5} for s in range(0, 100, 5)]
    for run in ("b", "c"):  # both continue from step 100
        records += [{"step": s, "run_step": 100 + s, "stage": 2, "run": run, "loss": 0.5, "iou": 0.7}
                    for s in range(0, 60, 5)]
    parts = run_segments(records)
    assert [p[0]["run"] for p in parts] == ["a", "b", "c"] and [len(p) for p in parts] == [20, 12, 12]
    assert parts[1][0]["run_step"] == parts[2][0]["run_step"] == 100
    out = plot_loss_curve(records, tmp_path / "loss.png", smooth=5)
    assert out.stat().st_size > 1000 and not list(tmp_path.glob("*.tmp.png"))


def test_loss_curve_leaves_the_session_backend_alone(tmp_path):
    """Notebook 07 draws the curve in a notebook: switching matplotlib's backend to Agg (as this function once did)
    turned the inline backend off and the notebook's later figures were never shown. The function must draw with
    its own canvas and leave the backend as it found it (here a non-default one, set in a subprocess)."""
    import subprocess
    import sys

    code = (
        "import matplotlib; matplotlib.use('svg'); "
        "from hqtrack_core.training.records import plot_loss_curve; "
        "recs = [{'step': s, 'stage': 1, 'loss': 1.0 / (s + 1), 'iou': 0.5} for s in range(0, 60, 5)]; "
        f"out = plot_loss_curve(recs, {str(tmp_path / 'loss.png')!r}, smooth=3); "
        "import matplotlib.pyplot as plt; print(matplotlib.get_backend(), len(plt.get_fignums()), out.stat().st_size > 1000)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["svg", "0", "True"], result.stdout + result.stderr
