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


@pytest.fixture(scope="session")
def random_hqsam_checkpoint(tmp_path_factory) -> Path:
    """A random HQ-SAM vit_tiny saved as the official checkpoints are (``torch.save(state_dict)``): the file path a
    user with ``sam_hq_vit_tiny.pth`` goes through, without the download."""
    import torch

    from hqtrack_core.refine.sam import build_sam

    path = tmp_path_factory.mktemp("hqsam") / "sam_hq_vit_tiny.pth"
    torch.manual_seed(11)
    torch.save(build_sam("vit_tiny", decoder="hq").state_dict(), path)
    return path


@pytest.fixture(autouse=True)
def _deterministic_torch():
    import torch

    torch.manual_seed(0)
    yield
