"""Repository-wide pytest hooks (fixtures for the unit tests live in tests/conftest.py).

The notebooks' stored outputs, which nbval compares, were computed on the real data in ``../shared/data``.
On a machine without it the notebooks still run (``make demo``; papermill falls back to generated data), but
their outputs cannot match, so nbval items are skipped there with a reason instead of failing.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from hqtrack_core.paths import ENV_FIGURES, data_root


def pytest_configure(config):
    """Figures the notebooks save while nbval runs them go to a temporary folder, not over the committed ones
    (unless ``HQTRACK_FIGURES`` is already set). The kernels nbval starts inherit the variable."""
    if not os.environ.get(ENV_FIGURES):
        config._hqtrack_figures = tempfile.mkdtemp(prefix="hqtrack-figures-")
        os.environ[ENV_FIGURES] = config._hqtrack_figures


def pytest_unconfigure(config):
    made = getattr(config, "_hqtrack_figures", None)
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
        os.environ.pop(ENV_FIGURES, None)


def pytest_report_header(config):
    """Where this run happened, first in the report: the CPU kind changes kernels, rounding and what ``auto``
    precision picks, so a failure report must say it (e.g. ``cpu: AMD EPYC; AVX2 AVX-512 AVX512-BF16; ...``)."""
    from hqtrack_core.precision import describe_cpu

    return f"cpu: {describe_cpu()}"


def pytest_collection_modifyitems(config, items):
    if data_root() is not None:
        return
    skip = pytest.mark.skip(reason="notebook outputs were stored from ../shared/data, absent here")
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(skip)
