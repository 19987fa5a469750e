"""Smoke tests of the benchmark code at toy sizes (seconds), so ``make bench`` cannot rot between runs.

They check the mechanics and the keys, not the speed (figures come from ``make bench`` on a quiet machine).
"""

from __future__ import annotations

import pytest
import torch

from hqtrack_core.bench import BENCHMARKS
from hqtrack_core.bench.__main__ import main as bench_main
from hqtrack_core.bench.hqtrack_vmos import OursFrames, synthetic_video
from hqtrack_core.bench.profile import matmul_peak_gflops, vmos_profile
from hqtrack_core.precision import cpu_bf16_support


def test_ours_frames_bf16_close_to_fp32_at_toy_size():
    images, labels = synthetic_video(3, 65, 97)
    fp32 = OursFrames(images, labels, "fp32")
    bf16 = OursFrames(images, labels, "bf16")
    a, b = fp32.frame(1), bf16.frame(1)
    assert a.shape == b.shape and a.shape[-2:] == (65, 97) and b.dtype == torch.float32
    a, b = a[:, :3], b[:, :3]  # background + the 2 objects (the other slots are unused)
    assert torch.isfinite(b).all()
    assert (a - b).abs().max() < 0.25 * a.abs().max()  # same network, bf16 rounding only


def test_profile_prints_the_op_table_and_a_share_of_the_peak(capsys):
    figures = vmos_profile(threads=1, height=65, width=97, peak_size=128)
    out = capsys.readouterr().out
    assert "Self CPU" in out and "aten::" in out and "of the bf16 peak" in out
    if cpu_bf16_support().any:  # a real bf16 peak: the network reaches a share of it
        assert 0 < figures["vmos_share_of_bf16_peak"] < 1
    else:  # emulated bf16 (AVX2-only CPU, or an ISA cap): no peak to share, and the line says why
        assert figures["vmos_share_of_bf16_peak"] is None and "bf16 is emulated on this CPU" in out
    assert figures["hqtrack_vmos_gflop_per_frame_65x97"] > 0
    assert figures["bf16_matmul_peak_gflops"] > 0 and len(figures["hqtrack_vmos_profile_top_ops_bf16"]) > 0
    assert matmul_peak_gflops(torch.float32, 64, 1) > 0


@pytest.mark.slow
def test_peer_sam2_toy_run():
    pytest.importorskip("sam2")
    from hqtrack_core.bench.peer_sam2 import run

    figures = run(frames=3, height=65, width=97, sam2_image_size=256)
    for key in ("sam2_tiny_latency_s_65x97", "sam2_tiny_latency_s_65x97_bf16", "vmos_latency_ratio_vs_sam2_65x97"):
        assert figures[key] > 0


def test_bench_cli_lists_new_benchmarks_and_rejects_a_wrong_official_copy(tmp_path):
    assert {"peer_sam2", "bf16", "hqtrack_vmos"} <= set(BENCHMARKS)
    with pytest.raises(FileNotFoundError, match="not a copy of jiawen-zhu/HQTrack"):
        bench_main(["hqtrack_vmos", "--official", str(tmp_path)])


def test_steady_state_worker_times_early_and_full_memory_frames():
    from hqtrack_core.bench.record import cpu_record, cpu_slug
    from hqtrack_core.bench.steady import summarise
    from hqtrack_core.bench.steady_worker import worker

    run = worker("teach", "fp32", frames=13, gap=1, threads=1)  # gap 1: the 6 entries are full from frame 5
    assert len(run["wall"]) == len(run["cpu"]) == 12 and run["bound"] == 6
    assert run["entries"][:6] == [2, 3, 4, 5, 6, 6]
    figures = summarise(run)
    assert figures["steady_frames"] == "6-12" and figures["early_wall_s"] > 0 and figures["steady_cpu_s"] > 0
    profiled = worker("teach", "fp32", frames=9, gap=1, threads=1, profiled=2, peak_size=64)["profile"]
    assert profiled["frames"] == 2 and 0 < profiled["bmm_share"] < 1 and profiled["bmm_gflop_per_frame"] > 0
    assert profiled["bmm_gflops"] > 0 and profiled["fp32_matmul_peak_gflops"] > 0
    assert profiled["top_ops_ms_per_frame"][0][0].startswith("aten::")
    cpu = cpu_record(1)
    assert cpu["threads"] == 1 and {"avx512f", "avx512_bf16", "amx_bf16", "torch_cpu_capability"} <= set(cpu)
    assert cpu_slug(cpu) and " " not in cpu_slug(cpu)


def test_steady_state_records_of_other_settings_survive_a_run():
    from hqtrack_core.bench.steady import merge_records

    base = {"case": "teach", "precision": "fp32", "side": "ours", "frames": 330, "long_term_gap": 50,
            "query_block": None, "threads": 2}
    old = [{**base, "steady_wall_s": 1.0}, {**base, "precision": "bf16", "steady_wall_s": 0.5}]
    merged = merge_records(old, [{**base, "steady_wall_s": 0.9}, {**base, "case": "deaot_t", "steady_wall_s": 2.0}])
    assert sorted((r["case"], r["precision"], r["steady_wall_s"]) for r in merged) == [
        ("deaot_t", "fp32", 2.0), ("teach", "bf16", 0.5), ("teach", "fp32", 0.9)]


def test_steady_state_needs_a_full_memory():
    from hqtrack_core.bench.steady import summarise

    with pytest.raises(RuntimeError, match="never filled"):
        summarise({"wall": [0.1] * 12, "cpu": [0.1] * 12, "entries": [2] * 12, "bound": 6})


def test_bench_file_names_the_cpu_beside_each_figure(tmp_path):
    from hqtrack_core.bench.record import cpu_record, cpu_slug, read_bench, update_bench

    path = tmp_path / "bench.json"
    here = cpu_record()
    update_bench({"a_s": 1.0, "b_s": 2.0}, path)
    other = {**here, "cpu": "Intel Xeon", "amx_bf16": True, "isa_cap": {}}
    update_bench({"b_s": 3.0}, path, cpu=other)  # b re-measured on another CPU kind
    merged = read_bench(path)
    assert merged["a_s"] == 1.0 and merged["b_s"] == 3.0
    assert merged["measured_on"] == {"a_s": cpu_slug(here), "b_s": cpu_slug(other)}
    assert merged["cpus"][cpu_slug(other)]["cpu"] == "Intel Xeon" and "threads" not in merged["cpus"][cpu_slug(here)]
    capped = {**here, "isa_cap": {"ONEDNN_MAX_CPU_ISA": "AVX2"}}
    assert cpu_slug(capped) != cpu_slug(here) and cpu_slug(capped).endswith("cap_avx2")


def test_hqtrack_vmos_steady_state_our_side_fills_its_bounded_memory():
    from hqtrack_core.bench.hqtrack_vmos import STEADY_BOUND, run_ours, steady_summary

    result = run_ours(9, "fp32", long_term_gap=1, height=65, width=97)  # gap 1: the 6 entries are full from frame 5
    assert result["bound"] == STEADY_BOUND and len(result["times"]) == len(result["logits"]) == 8
    assert result["entries"] == [2, 3, 4, 5, 6, 6, 6, 6]  # after frames 1..8; the reference is kept
    figures = steady_summary(result)
    assert figures["steady_frames"] == "6-8" and figures["early_wall_s"] > 0 and figures["steady_cpu_s"] > 0


def test_hqtrack_vmos_steady_split_picks_frames_2_to_10_and_26_to_39():
    from types import SimpleNamespace

    from hqtrack_core.bench.hqtrack_vmos import STEADY_BOUND, STEADY_FRAMES, STEADY_GAP, steady, steady_summary
    from hqtrack_core.bench.steady import official_entries

    frames = range(1, STEADY_FRAMES)  # frame 0 is the reference; an entry every 5 frames, 6 with the reference
    run = {"times": [float(t) for t in frames], "cpu": [t / 10 for t in frames], "bound": STEADY_BOUND,
           "entries": [min(1 + t // STEADY_GAP, STEADY_BOUND) for t in frames]}
    figures = steady_summary(run)  # time of frame t = t: the medians name the frames picked
    assert figures["steady_frames"] == "26-39"
    assert figures["early_wall_s"] == 6.0 and figures["steady_wall_s"] == 32.5 and figures["steady_cpu_s"] == 3.25
    with pytest.raises(RuntimeError, match="past its bound"):  # an unbounded memory is not a steady state
        steady_summary({**run, "entries": [1 + t // STEADY_GAP for t in frames]})
    with pytest.raises(ValueError, match="steady frames must be >= 27"):
        steady(None, frames=20)
    # the official engine's memory: entries concatenated along the tokens of its first layer
    group = SimpleNamespace(enc_hw=12, long_term_memories=[[torch.zeros(36, 1, 4), torch.zeros(36, 1, 8)]])
    assert official_entries(SimpleNamespace(aot_engines=[group])) == 3
    group.long_term_memories = [[torch.zeros(30, 1, 4)]]
    with pytest.raises(RuntimeError, match="not a multiple"):
        official_entries(SimpleNamespace(aot_engines=[group]))
