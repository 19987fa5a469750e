"""Speed and memory benchmarks. ``python -m hqtrack_core.bench NAME|all`` (``make bench``).

Each benchmark is a module ``hqtrack_core/bench/<name>.py`` with ``run() -> dict`` that prints its own table
and returns the figures it measured; the runner merges them into ``figures/bench.json``.

The speed tables for long videos (``figures/README.md``) are printed from the file: ``python -m
hqtrack_core.bench.tables`` (``--write figures/README.md``; see ``bench/tables.py``).

Keys of ``figures/bench.json`` (all measured on the machine that ran ``make bench``; ``measured_on`` maps each key
written since 2026-12-07 to its CPU kind and ``cpus`` describes each kind, see ``bench/record.py``):

- ``vmos``: ``vmos_latency_s_{480p,240p}``, ``official_latency_s_{480p,240p}``,
  ``vmos_latency_ratio_vs_official_{480p,240p}`` (ours / official deaotpy DeAOT-T, same weights and inputs, 2
  objects, 2 threads, median of frames 2-10; ``*_latency_min_s_*`` the fastest frame), process CPU time per frame
  ``vmos_cpu_s_*`` / ``official_cpu_s_*`` / ``vmos_cpu_ratio_vs_official_*`` and the same at one thread
  (``*_cpu1_*``, the figure least sensitive to other load), ``vmos_peak_rss_mb_*`` / ``official_peak_rss_mb_*``,
  ``vmos_max_abs_logit_diff_*`` (identical outputs check) and ``vmos_bench_loadavg_*`` (machine load meanwhile);
  then at 480p early frames against a full memory, both engines with the same bounded memory (gap 5, 6 entries,
  40 frames): ``deaot_t_{early,steady}_s_480p`` (+ ``_bf16``), ``official_deaot_t_{early,steady}_s_480p``,
  ``deaot_t_steady_ratio_vs_official_480p`` (+ ``_bf16``), ``deaot_t_steady_bench_loadavg``.
- ``hqtrack_vmos``: ``hqtrack_vmos_latency_ratio_vs_official_480p``, the two latencies, peak RSS and max logit
  difference vs the official HQTrack VMOS (needs ``HQTRACK_OFFICIAL`` = a CPU-patched checkout, see
  ``data/fixtures/README.md``; reports "official not available" otherwise).
- ``hqtrack_vmos`` also runs ours in bf16 (the network ``VMOSTracker(precision="bf16")`` runs), interleaved
  with ours fp32 and the official fp32 (A B C A B C, ``--rounds``): ``hqtrack_vmos_bf16_latency_s_480p``,
  ``hqtrack_vmos_bf16_cpu_s_480p``, ``hqtrack_vmos_bf16_peak_rss_mb_480p``,
  ``hqtrack_vmos_latency_ratio_vs_official_480p_bf16`` (ours bf16 / official fp32; goal <= 0.15),
  ``hqtrack_vmos_cpu_ratio_vs_official_480p_bf16``, ``hqtrack_vmos_bf16_speedup_480p`` (ours fp32 / ours bf16),
  ``hqtrack_vmos_bf16_max_abs_logit_diff_vs_fp32_480p``, ``*_bench_loadavg_480p`` per side (max 1-min load
  average after its runs) and ``hqtrack_vmos_bench_rounds``; then ``bench/profile.py``: the per-op table of one
  bf16 frame (``torch.profiler``, printed; top ops in ``hqtrack_vmos_profile_top_ops_bf16`` as
  ``[op, self CPU ms, calls]``), ``hqtrack_vmos_gflop_per_frame_480p`` (``FlopCounterMode``),
  ``bf16_matmul_peak_gflops`` / ``fp32_matmul_peak_gflops`` (2048^2 ``torch.mm``, same threads, same run),
  ``vmos_share_of_bf16_peak`` (FLOPs / bf16 latency / bf16 peak; goal >= 0.25; null where bf16 is emulated)
  and ``profile_loadavg``.
- ``hqtrack_vmos`` steady state (with the official copy; ``--steady`` alone): both sides with the same bounded
  long-term memory (an entry every 5 frames, 6 with the reference, 40 frames; early = frames 2-10, steady = frames
  26-39): ``hqtrack_vmos_{early,steady}_s_480p`` (+ ``_bf16``), ``official_hqtrack_vmos_{early,steady}_s_480p``,
  ``*_steady_over_early_480p`` per side, ``hqtrack_vmos_steady_ratio_vs_official_480p`` (+ ``_bf16``),
  ``hqtrack_vmos_steady_cpu_ratio_vs_official_480p`` (+ ``_bf16``), ``hqtrack_vmos_steady_max_abs_logit_diff_480p``,
  ``hqtrack_vmos_steady_frames``, ``hqtrack_vmos_steady_rounds``, ``hqtrack_vmos_steady_bench_loadavg``.
- ``vmos`` also runs ours in bf16 (``VMOSTracker(precision="bf16")``) beside ours fp32:
  ``vmos_bf16_latency_s_{480p,240p}``, ``vmos_bf16_cpu_s_*``, ``vmos_bf16_latency_ratio_vs_official_*`` (goal at
  480p <= 0.2), ``vmos_bf16_max_abs_logit_diff_*`` (vs the official fp32 logits), ``vmos_bf16_bench_loadavg_*``.
- ``peer_sam2``: the SAM 2.1 tiny video predictor (PyPI ``sam2``, random weights from its config) and our HQTrack
  VMOS on the same DAVIS 480p frames, 2 objects, alternating: ``sam2_tiny_latency_s_480p`` (+ ``_bf16``),
  ``hqtrack_vmos_davis_latency_s_480p`` (+ ``_bf16``), ``vmos_latency_ratio_vs_sam2_480p`` (ours bf16 / SAM 2
  bf16; goal <= 0.2, i.e. >= 5x faster) and ``vmos_latency_ratio_vs_sam2_480p_fp32``, ``sam2_bench_loadavg``;
  ``sam2_tiny_steady_latency_s_480p`` (+ ``_bf16``): SAM 2 once its 7-frame memory bank is full (frames 8-11).
- ``bf16``: ``teach_fps_240p`` / ``teach_fps_240p_bf16`` (committed teaching model, 240 short edge; goal >= 30;
  ``..._flip``: with the test-time flip),
  ``teach_bench_loadavg``; ``train_step_s_fp32`` / ``train_step_s_bf16`` / ``train_step_speedup_bf16``
  (``cpu_teach_stage2``, batch 4, crop 241; goal >= 2.5), ``train_step_s_bf16_pytorch_depthwise`` /
  ``train_step_depthwise_speedup_bf16`` (bf16 with PyTorch's own depthwise backward, see ``model/depthwise.py``),
  ``train_bench_loadavg``;
  ``refiner_vit_tiny_latency_s`` / ``refiner_vit_tiny_latency_s_bf16`` / ``refiner_vit_tiny_bf16_speedup``
  (our HQ-SAM path), ``refiner_bench_loadavg``.
- ``fast_jf_*`` (``fast_jf_fp32_dev``, ``fast_jf_bf16_dev``, ``fast_jf_delta_dev``): J&F of the teaching model on
  the 4 dev sequences per precision, written by ``python -m hqtrack_core.bench.precision --write`` (see
  ``bench/precision.py``), not by ``make bench``.
- ``steady``: early frames (2-10) against steady state (long-term memory full, ``released`` policy, 330 frames of
  a ping-pong clip) for the teaching model (flip off / on), DeAOT-T and the HQTrack VMOS (random weights), fp32 and
  bf16: ``steady_state__<cpu>``, a list of records naming the CPU, its AVX-512 / AVX512-BF16 / AMX-BF16 flags, the
  ISA cap and the threads (see ``bench/steady.py``; ``--baseline DIR`` compares with another checkout run for run;
  ``--profile N``: what bounds the steady-state frame, ``steady_profile`` in the record).
- ``refiner``: ``refiner_speedup_5_objects`` (our path: one image encoding per frame, all boxes in one decoder
  batch, the fast kernels of ``refine/sam_kernels.py``; vs the released tracker's: the package's ``SamPredictor``
  on the unmodified model, one encoding per object; vit_tiny, 5 objects, 480p), ``refiner_speedup_5_objects_cpu_time``,
  ``refiner_speedup_5_objects_one_encoding_only`` (the released loop run with our kernels vs ours: what encoding
  once alone buys), the three latencies, ``refiner_proposal_pixels_differing_from_released`` (outputs check),
  ``refiner_bench_threads``, and ours vs released for vit_b (``*_vit_b``).
- ``eval``: ``eval_davis_speedup_vs_official`` (ours vs vos-benchmark), ``eval_vots_speedup_vs_official``
  (ours vs vot-toolkit), their per-frame times and max abs differences (see ``bench/eval.py``).
- ``soak``: ``soak_rss_mb_frame_1000``, ``soak_rss_mb_frame_10000``, ``soak_rss_growth_pct`` (released bounded
  memory, 10,000 frames) and ``soak_unbounded_*`` (DeAOT's growing memory, for contrast).
"""

BENCHMARKS = ("vmos", "hqtrack_vmos", "peer_sam2", "bf16", "steady", "refiner", "soak", "eval")
