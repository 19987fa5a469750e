"""The long-video speed tables (figures/README.md) are printed from figures/bench.json: they cannot drift from the
measurements."""

from __future__ import annotations

import pytest

from hqtrack_core.bench.record import read_bench
from hqtrack_core.bench.tables import BEGIN, END, all_tables, readme_section, steady_tables, write_readme
from hqtrack_core.paths import repo_root


def test_speed_tables_equal_the_ones_printed_from_bench_json():
    readme = (repo_root() / "figures" / "README.md").read_text()
    assert readme_section(readme) == all_tables(read_bench()), (
        "figures/README.md's steady-state tables differ from figures/bench.json: run "
        "`python -m hqtrack_core.bench.tables --write figures/README.md`")


def _record(**overrides):
    record = {"side": "ours", "case": "teach", "precision": "fp32", "frames": 330, "long_term_gap": 50,
              "query_block": None, "early_wall_s": 0.2, "steady_wall_s": 0.36, "steady_over_early": 1.8,
              "cpu": "Some CPU", "amx_bf16": False, "avx512_bf16": False, "avx512f": False, "avx2": True,
              "isa_cap": {}, "torch_cpu_capability": "AVX2", "threads": 2, "torch": "2.14.1"}
    return {**record, **overrides}


def test_tables_name_the_cpu_and_the_setting_and_ignore_the_baseline(tmp_path):
    bench = {"steady_state__x": [_record(), _record(precision="bf16", steady_wall_s=9.0, steady_over_early=45.0,
                                                    query_block=100_000),
                                 _record(side="baseline", steady_wall_s=7.7)]}
    text = steady_tables(bench)
    assert "Some CPU (AVX2 only)" in text and "released (gap 50), 330 frames" in text and "one piece" in text
    assert "0.360" in text and "7.7" not in text
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{BEGIN}\nold\n{END}\nrest\n")
    write_readme(readme, bench)
    assert readme_section(readme.read_text()) == all_tables(bench) and readme.read_text().endswith(f"{END}\nrest\n")
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        write_readme(readme, bench)


def test_comparisons_divide_the_recorded_figures_and_name_their_cpu():
    from hqtrack_core.bench.tables import steady_comparisons

    cpu = {k: v for k, v in _record().items() if k in ("cpu", "amx_bf16", "avx512_bf16", "avx512f", "avx2", "isa_cap",
                                                         "torch_cpu_capability", "torch")}
    bench = {"deaot_t_steady_s_480p": 0.5, "deaot_t_steady_s_480p_bf16": 0.25, "official_deaot_t_steady_s_480p": 2.0,
             "sam2_tiny_steady_latency_s_480p": 8.0, "sam2_tiny_steady_latency_s_480p_bf16": 4.0,
             "measured_on": {"deaot_t_steady_s_480p": "x"}, "cpus": {"x": cpu}}
    text = steady_comparisons(bench)
    assert "| DeAOT-T, official code" in text and "| 0.25 / 0.12 |" in text and "Some CPU (AVX2 only)" in text
    assert "SAM 2.1" not in text  # no HQTrack VMOS steady figure to set beside it
    assert steady_comparisons({}) == ""
