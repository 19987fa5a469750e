"""Training records: the metrics log (JSONL, one object per logged step) and the loss-curve figure."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..atomic import atomic_path, write_bytes_atomic


class MetricsLog:
    """Append-only JSONL metrics log. On resume, records at or after the resume step are dropped first,
    so the log of a killed-and-resumed run equals the log of an uninterrupted one."""

    def __init__(self, path: str | os.PathLike, resume_step: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            self.path.write_text("")
        elif self.path.exists():
            kept = [r for r in read_metrics(self.path) if r.get("step", -1) < resume_step]
            write_bytes_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept).encode())

    def write(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")


def read_metrics(path: str | os.PathLike) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"metrics log not found: {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_segments(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split a metrics log into its parts: a new part starts where the stage or the run (a record's ``run``
    key) changes. Parts may overlap on the ``run_step`` axis: continuations that branch from one parent."""
    parts: list[list[dict[str, Any]]] = []
    for record in records:
        if not parts or (record.get("stage"), record.get("run")) != (parts[-1][-1].get("stage"),
                                                                   parts[-1][-1].get("run")):
            parts.append([])
        parts[-1].append(record)
    return parts


def plot_loss_curve(records: list[dict[str, Any]], out: str | os.PathLike, title: str = "training loss",
                    smooth: int = 10) -> Path:
    """Loss (raw and moving average) and, when logged, the training IoU against step; saved as PNG (atomic).
    The dotted line marks a change of stage, or of run (a record's ``run`` key: a continuation with a fresh
    schedule). Each part is drawn and smoothed on its own, so parallel continuations of one parent (which share
    their ``run_step`` range) overlap instead of being joined. (The bootstrapped CE keeps a shrinking fraction of
    the hardest pixels over the first half of a stage, so the loss can rise while the IoU improves.)"""
    # A bare Figure (no pyplot): it renders with Agg whatever the session's backend, so the CLI runs headless and
    # a notebook's inline backend is left alone (matplotlib.use("Agg") here switched notebooks' figures off).
    records = [r for r in records if "loss" in r]
    if not records:
        raise ValueError("no loss records to plot")
    parts = run_segments(records)
    fig = Figure(figsize=(7, 4.2), dpi=150)
    ax = fig.subplots()
    ax2 = None
    kernel = np.ones(smooth) / smooth if smooth > 1 else None
    labelled: set[str] = set()

    def label(text: str) -> str | None:  # each legend entry once, from whichever part draws it first
        if text in labelled:
            return None
        labelled.add(text)
        return text

    for index, part in enumerate(parts):
        steps = np.array([r.get("run_step", r["step"]) for r in part])
        loss = np.array([r["loss"] for r in part])
        ax.plot(steps, loss, color="0.75", lw=0.8, label=label("loss"))
        if kernel is not None and len(loss) >= smooth:
            ax.plot(steps[smooth - 1:], np.convolve(loss, kernel, mode="valid"), color="C0", lw=1.6,
                    label=label(f"moving average ({smooth})"))
        if index and "stage" in part[0]:
            ax.axvline(steps[0], color="k", ls=":", lw=0.8)
        iou = np.array([r.get("iou", np.nan) for r in part], dtype=float)
        if kernel is not None and np.isfinite(iou).sum() >= smooth:
            if ax2 is None:
                ax2 = ax.twinx()
                ax2.set_ylabel("IoU on propagated frames")
                ax2.set_ylim(0, 1)
            ax2.plot(steps[smooth - 1:], np.convolve(np.nan_to_num(iou, nan=0.0), kernel, mode="valid"),
                     color="C2", lw=1.2, label=f"train IoU, moving average ({smooth})")
    handles, labels = ax.get_legend_handles_labels()
    if ax2 is not None:
        line = ax2.get_lines()[0]
        handles, labels = handles + [line], labels + [line.get_label()]
    ax.set_xlabel("step")
    ax.set_ylabel("loss (bootstrapped CE + soft Jaccard)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    # below the axes, not over the curves
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    return out
