"""Where things live: the shared real data, the repository, the committed artefacts.

The real data (DAVIS-2016 subsets, OSVOS predictions, Cutie examples) is never copied into the repository (the one
exception: the small demo clip in ``data/demo``, see :mod:`hqtrack_core.data.demo`). It is found through the environment variable ``HQTRACK_DATA``, falling back to ``../shared/data`` next to
the repository when that exists. Code that needs it calls :func:`data_root` and handles ``None``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATA = "HQTRACK_DATA"
ENV_FIGURES = "HQTRACK_FIGURES"


def repo_root() -> Path:
    """The repository checkout (parent of the ``hqtrack_core`` package)."""
    return Path(__file__).resolve().parent.parent


def data_root() -> Path | None:
    """Root of the shared real data, or ``None`` when this machine has none.

    ``$HQTRACK_DATA`` wins when set (it must then exist); otherwise ``<repo>/../shared/data``.
    """
    env = os.environ.get(ENV_DATA)
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"{ENV_DATA}={env!r} is not a directory")
        return path
    candidate = repo_root().parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


def committed_figures_dir() -> Path:
    """``figures/`` of the checkout: the committed figures and the tables of measured figures (``bench.json``,
    ``refiner_offline.json``), which the benchmark commands write and the notebooks quote."""
    return repo_root() / "figures"


def build_figures_dir() -> Path:
    """``build/figures/`` of the checkout (git-ignored): where notebook runs save figures by default."""
    return repo_root() / "build" / "figures"


def figures_dir() -> Path:
    """Where notebooks save their figures (created if needed): ``$HQTRACK_FIGURES`` when set, else
    :func:`build_figures_dir`, so that running a notebook (``make demo``, nbval in ``make test``) never rewrites
    the committed figures; ``make notebooks`` sets ``HQTRACK_FIGURES=figures`` to refresh them on purpose.
    """
    env = os.environ.get(ENV_FIGURES)
    path = Path(env).expanduser() if env else build_figures_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def artefacts_dir() -> Path:
    """Committed artefacts: trained checkpoints, parity fixtures, training logs (``data/``)."""
    return repo_root() / "data"
