"""Benchmark: evaluation speed vs the official toolkits, on the same real data (OSVOS on the 4 DAVIS dev sequences).

- DAVIS J&F: ``evaluate_davis`` (ours) vs vos-benchmark's ``VideoEvaluator``, binarised predictions (0/255 PNGs for
  vos-benchmark, which compares raw PNG values), 480x854, first/last frames dropped. Includes PNG reading.
- VOTS2023: the same masks as a VOTS workspace (``.bin`` results); ours (read + score) vs vot-toolkit 0.9.0 (its
  reader + the VOTS2023 stack analyses), after one warm-up run of each (numba compilation excluded).

Keys: ``eval_davis_s_per_frame``, ``eval_davis_official_s_per_frame``, ``eval_davis_speedup_vs_official``,
``eval_davis_max_abs_diff``, ``eval_vots_s_per_frame``, ``eval_vots_official_s_per_frame``,
``eval_vots_speedup_vs_official``, ``eval_vots_max_abs_diff``. Needs the shared data and the ``dev`` extra.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import json

import numpy as np
from PIL import Image

from ..data.frames import open_frames
from ..data.vots import list_vots_sequences, read_vots_results, read_vots_sequence, write_vots_from_labels
from ..evaluation.davis import evaluate_davis, read_sequence_masks
from ..evaluation.official import vos_benchmark_scores, vot_toolkit_scores
from ..evaluation.vots import score_sequence, score_sequences
from ..paths import data_root


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run() -> dict:
    root = data_root()
    if root is None:
        print("no shared data: nothing to benchmark")
        return {}
    davis, osvos = root / "davis2016", root / "osvos_davis2017_predictions"
    gt_root = davis / "Annotations" / "480p"
    sequences = (davis / "ImageSets" / "dev.txt").read_text().split()
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frames_total = 0
        for seq in sequences:
            stems, gt = read_sequence_masks(gt_root / seq)
            _, pred = read_sequence_masks(osvos / seq, stems)
            (tmp / "binary" / seq).mkdir(parents=True)
            for stem, p in zip(stems, pred):
                Image.fromarray(np.where(p > 0, 255, 0).astype(np.uint8), mode="L").save(tmp / "binary" / seq / f"{stem}.png")
            images = [image for _, image in open_frames(davis / "JPEGImages" / "480p" / seq)]
            write_vots_from_labels(tmp / "vots" / "sequences", seq, images, [(g > 0).astype(np.uint8) for g in gt],
                                   tmp / "vots" / "results", [(p > 0).astype(np.uint8) for p in pred])
            frames_total += len(stems)
        davis_frames = frames_total - 2 * len(sequences)

        ours, t_ours = _timed(lambda: evaluate_davis(gt_root, osvos, sequences=sequences, binarize=True))
        ref, t_ref = _timed(lambda: vos_benchmark_scores(gt_root, tmp / "binary", sequences))
        diff = max(max(abs(ours.sequences[s].J - ref[s][255][0]), abs(ours.sequences[s].F - ref[s][255][1])) for s in sequences)
        figures.update(eval_davis_s_per_frame=t_ours / davis_frames, eval_davis_official_s_per_frame=t_ref / davis_frames,
                       eval_davis_speedup_vs_official=t_ref / t_ours, eval_davis_max_abs_diff=diff)

        seq_root, res_root = tmp / "vots" / "sequences", tmp / "vots" / "results"

        def ours_vots():
            scored = []
            for name in list_vots_sequences(seq_root):
                sequence = read_vots_sequence(seq_root / name)
                scored.append(score_sequence(name, read_vots_results(res_root, sequence), sequence.objects,
                                             sequence.size, sequence.ignore))
            return score_sequences(scored)

        ours_vots(), vot_toolkit_scores(seq_root, res_root)  # warm-up (numba compilation, file cache)
        mine, t_mine = _timed(ours_vots)
        theirs, t_theirs = _timed(lambda: vot_toolkit_scores(seq_root, res_root))
        diff = max(abs(getattr(mine, k) - theirs[k]) for k in ("Q", "A", "R", "NRE", "DRE"))
        figures.update(eval_vots_s_per_frame=t_mine / frames_total, eval_vots_official_s_per_frame=t_theirs / frames_total,
                       eval_vots_speedup_vs_official=t_theirs / t_mine, eval_vots_max_abs_diff=diff)
    print(f"DAVIS J&F, {davis_frames} frames 480p: ours {figures['eval_davis_s_per_frame'] * 1e3:.1f} ms/frame, "
          f"vos-benchmark {figures['eval_davis_official_s_per_frame'] * 1e3:.1f} ms/frame, max |diff| {figures['eval_davis_max_abs_diff']:.1e}")
    print(f"VOTS2023, {frames_total} frames 480p: ours {figures['eval_vots_s_per_frame'] * 1e3:.1f} ms/frame, "
          f"vot-toolkit {figures['eval_vots_official_s_per_frame'] * 1e3:.1f} ms/frame, max |diff| {figures['eval_vots_max_abs_diff']:.1e}")
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
