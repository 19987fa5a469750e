"""The architecture diagram (hqtrack_core.diagram): every block drawn once, arrows between known blocks, the
released numbers it quotes are the package's own."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from hqtrack_core.diagram import ARROWS, BLOCKS, architecture_figure  # noqa: E402
from hqtrack_core.inference.memory import MEMORY_PRESETS  # noqa: E402


def test_architecture_figure_draws_every_block(tmp_path):
    import matplotlib.pyplot as plt

    keys = [b.key for b in BLOCKS]
    assert len(keys) == len(set(keys))
    assert {a for a, _, _ in ARROWS} | {b for _, b, _ in ARROWS} <= set(keys)
    fig = architecture_figure()
    texts = [t.get_text() for t in fig.axes[0].texts]
    for block in BLOCKS:
        assert texts.count(block.text) == 1
    fig.savefig(tmp_path / "arch.png", dpi=120)
    assert (tmp_path / "arch.png").stat().st_size > 10_000
    plt.close(fig)


def test_diagram_quotes_the_released_memory_policy():
    released = MEMORY_PRESETS["released"]
    paper = MEMORY_PRESETS["paper"]
    long_term = next(b for b in BLOCKS if b.key == "long").text
    short_term = next(b for b in BLOCKS if b.key == "short").text
    assert f"one frame / {released.long_term_gap}" in long_term
    assert f"at most {released.max_long_term}; paper: {paper.max_long_term}" in long_term
    assert f"frame t-{released.short_term_skip}" in short_term and f"t-{paper.short_term_skip}" in short_term
