"""Speed and memory benchmarks. ``python -m hqtrack_core.bench NAME|all`` (``make bench``).

Each benchmark is a module ``hqtrack_core/bench/<name>.py`` with ``run() -> dict`` that prints its own table
and returns the figures it measured; the runner merges them into ``figures/bench.json``.

Keys of ``figures/bench.json`` (all measured on the machine that ran ``make bench``):

- ``vmos``: ``vmos_latency_s_{480p,240p}``, ``official_latency_s_{480p,240p}``,
  ``vmos_latency_ratio_vs_official_{480p,240p}`` (ours / official deaotpy DeAOT-T, same weights and inputs, 2
  objects, 2 threads, median of frames 2-10; ``*_latency_min_s_*`` the fastest frame), process CPU time per frame
  ``vmos_cpu_s_*`` / ``official_cpu_s_*`` / ``vmos_cpu_ratio_vs_official_*`` and the same at one thread
  (``*_cpu1_*``, the figure least sensitive to other load), ``vmos_peak_rss_mb_*`` / ``official_peak_rss_mb_*``,
  ``vmos_max_abs_logit_diff_*`` (identical outputs check) and ``vmos_bench_loadavg_*`` (machine load meanwhile).
- ``hqtrack_vmos``: ``hqtrack_vmos_latency_ratio_vs_official_480p``, the two latencies, peak RSS and max logit
  difference vs the official HQTrack VMOS (needs ``HQTRACK_OFFICIAL`` = a CPU-patched checkout, see
  ``data/fixtures/README.md``; reports "official not available" otherwise).
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

BENCHMARKS = ("vmos", "hqtrack_vmos", "refiner", "soak", "eval")
