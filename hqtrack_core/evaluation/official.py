"""Run the official toolkits on the same files, for parity tests and speed comparisons (``bench/eval.py``).

Needs the ``dev`` extra: ``vot-toolkit==0.9.0`` (with ``attributee==0.1.9``) and ``vos-benchmark``. Nothing in
the package depends on this module; it only calls the toolkits' own readers and analyses.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hqtrack_core.data.vots import list_vots_sequences

__all__ = ["vot_toolkit_scores", "vos_benchmark_scores"]


def vot_toolkit_scores(sequences_root: str | os.PathLike, results_root: str | os.PathLike) -> dict:
    """Score a VOTS workspace with vot-toolkit 0.9.0: its sequence reader, its experiment's result gathering and
    the analyses of its VOTS2023 stack (``vot/stack/tests/multiobject.yaml``) built through its registry.

    Returns ``{"Q", "A", "R", "NRE", "DRE", "ADQ", "plot": (100,), "sequences": {name: {"Q", "A", "NRE", "DRE",
    "ADQ", "plot", "counts": [(T, F, M, H, N) per object]}}}``.
    """
    import vot
    import yaml
    from vot.analysis import analysis_registry
    from vot.dataset.common import read_sequence
    from vot.experiment.multirun import UnsupervisedExperiment
    from vot.tracker.results import Results
    from vot.utilities.data import Grid
    from vot.workspace.storage import LocalStorage

    sequences_root, results_root = Path(sequences_root), Path(results_root)

    class _Experiment(UnsupervisedExperiment):
        def results(self, tracker, sequence):
            return Results(LocalStorage(str(results_root / sequence.name)))

    stack = yaml.safe_load((Path(vot.__file__).parent / "stack" / "tests" / "multiobject.yaml").read_text())
    config = stack["experiments"]["baseline"]
    experiment = _Experiment("baseline", None, multiobject=config["multiobject"], repetitions=config["repetitions"])
    analyses = {e["type"]: analysis_registry.get(e["type"], **{k: v for k, v in e.items() if k not in ("type", "name")})
                for e in config["analyses"]}
    sequences = [read_sequence(str(sequences_root / name)) for name in list_vots_sequences(sequences_root)]

    def per_sequence(analysis) -> Grid:
        grid = Grid(len(sequences), 1)
        for i, sequence in enumerate(sequences):
            grid[i, 0] = analysis.subcompute(experiment, None, sequence, None)
        return grid

    def by_tracker(grid: Grid) -> Grid:
        out = Grid(1, len(sequences))
        for i in range(len(sequences)):
            out[0, i] = grid[i, 0]
        return out

    quality, plot = analyses["average_accuracy"], analyses["average_success_plot"]
    ar, aux = analyses["longterm_ar"], analyses["average_quality_auxiliary"]
    q_grid, p_grid, x_grid = per_sequence(quality.analysis), per_sequence(plot.analysis), per_sequence(aux.analysis)
    counts, accuracy = ar.dependencies()
    c_grid, a_grid = per_sequence(counts), per_sequence(accuracy)
    a_overall, r_overall, _ = ar.compute(experiment, [None], sequences, [by_tracker(c_grid), by_tracker(a_grid)])[0, 0]
    nre, dre, adq = aux.aggregate(None, sequences, [x_grid[i, 0] for i in range(len(sequences))])
    return {
        "Q": quality.aggregate(None, sequences, q_grid)[0], "A": a_overall, "R": r_overall,
        "NRE": nre, "DRE": dre, "ADQ": adq,
        "plot": np.array([y for _, y in plot.aggregate(None, sequences, p_grid)[0]]),
        "sequences": {
            s.name: {"Q": q_grid[i, 0][0], "A": a_grid[i, 0][0], "NRE": x_grid[i, 0][0], "DRE": x_grid[i, 0][1],
                     "ADQ": x_grid[i, 0][2], "plot": np.array([y for _, y in p_grid[i, 0][0]]),
                     "counts": c_grid[i, 0][0]}
            for i, s in enumerate(sequences)
        },
    }


def vos_benchmark_scores(gt_root: str | os.PathLike, pred_root: str | os.PathLike, sequences: list[str]) -> dict:
    """Per-sequence ``{seq: {object_value: (J, F)}}`` in [0, 1] from vos-benchmark's ``VideoEvaluator`` (it compares
    raw PNG values: binary ground truth 0/255 needs predictions saved as 0/255 too)."""
    from vos_benchmark.benchmark import VideoEvaluator

    evaluate = VideoEvaluator(str(gt_root), str(pred_root))
    out = {}
    for seq in sequences:
        _, iou, boundary = evaluate(seq)
        out[seq] = {obj: (iou[obj] / 100, boundary[obj] / 100) for obj in iou}
    return out
