"""Shared test fixtures: the real data (skipped cleanly when absent) and a deterministic torch setup."""

from __future__ import annotations

from pathlib import Path

import pytest

from hqtrack_core.paths import data_root


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of ``../shared/data`` (or ``$HQTRACK_DATA``); skips the test on machines without it."""
    root = data_root()
    if root is None:
        pytest.skip("no shared data (set HQTRACK_DATA or place ../shared/data beside the repo)")
    return root


@pytest.fixture(autouse=True)
def _deterministic_torch():
    import torch

    torch.manual_seed(0)
    yield
