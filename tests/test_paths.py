"""Notebook figures go to build/figures unless HQTRACK_FIGURES says otherwise (running a notebook never rewrites
the committed figures)."""

from __future__ import annotations

from hqtrack_core.paths import ENV_FIGURES, build_figures_dir, committed_figures_dir, figures_dir, repo_root


def test_figures_dir_defaults_to_the_build_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_FIGURES, raising=False)
    assert figures_dir() == build_figures_dir() == repo_root() / "build" / "figures"
    assert figures_dir() != committed_figures_dir()
    monkeypatch.setenv(ENV_FIGURES, str(tmp_path / "f"))
    assert figures_dir() == tmp_path / "f" and (tmp_path / "f").is_dir()
