"""Speed and memory benchmarks. ``python -m hqtrack_core.bench NAME|all`` (``make bench``).

Each benchmark is a module ``hqtrack_core/bench/<name>.py`` with ``run() -> dict`` that prints its own table
and returns the figures it measured; the runner merges them into ``figures/bench.json``.

Keys of ``figures/bench.json`` (all measured on the machine that ran ``make bench``):

- ``vmos``: ``vmos_latency_s_{480p,240p}``, ``official_latency_s_{480p,240p}``,
  ``vmos_latency_ratio_vs_official_{480p,240p}`` (ours / official deaotpy DeAOT-T, same weights and inputs, 2
  objects), ``vmos_peak_rss_mb_480p``, ``official_peak_rss_mb_480p``, ``vmos_max_abs_logit_diff_480p``.
- ``hqtrack_vmos``: ``hqtrack_vmos_latency_ratio_vs_official_480p`` and its two latencies (official HQTrack VMOS).
- ``refiner``: ``refiner_speedup_5_objects`` (one image encoding per frame vs one per object), latencies.
- ``eval``: ``eval_davis_speedup_vs_official`` (ours vs vos-benchmark), ``eval_vots_speedup_vs_official``
  (ours vs vot-toolkit), their per-frame times and max abs differences (see ``bench/eval.py``).
- ``soak``: ``soak_rss_mb_frame_1000``, ``soak_rss_mb_frame_10000``, ``soak_rss_growth_pct`` (bounded memory).
"""

BENCHMARKS = ("vmos", "hqtrack_vmos", "refiner", "soak", "eval")
