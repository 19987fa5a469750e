"""Refiner speed: our path (one image encoding per frame, all boxes in one decoder batch, the fast kernels of
:mod:`hqtrack_core.refine.sam_kernels`) vs the released HQTrack tracker's (the package's ``SamPredictor`` on the
unmodified model, ``set_image`` before each object's ``predict(box=...)``).

Five objects on one 854x480 frame (a DAVIS dev frame when ``../shared/data`` is present, else a random image),
HQ-SAM vit_tiny with random weights (the speed does not depend on the weight values), the same weights on both
sides. A third path, the released loop run with our kernels, separates the gain of encoding once from the gain of
the kernels. Median of ``repeats`` interleaved runs after one warm-up, in wall-clock time (the latency) and in
process CPU time (less sensitive to other processes). The outputs' disagreement (fraction of proposal pixels
that differ from ours) is printed: it is zero up to float rounding at mask boundaries.
``python -m hqtrack_core.bench refiner``.
"""

from __future__ import annotations

import copy
import time
import warnings

import cv2
import numpy as np
import torch

from ..paths import data_root
from ..refine import SamRefiner, build_sam, masks_to_boxes, select_masks

N_OBJECTS = 5
HEIGHT, WIDTH = 480, 854


def _frame() -> tuple[np.ndarray, str]:
    root = data_root()
    path = None if root is None else root / "davis2016" / "JPEGImages" / "480p" / "parkour" / "00000.jpg"
    if path is not None and path.exists():
        return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), f"davis2016 {path.parent.name}/{path.name}"
    rng = np.random.default_rng(0)
    return (rng.random((HEIGHT, WIDTH, 3)) * 255).astype(np.uint8), "random 854x480"


def _labels() -> np.ndarray:
    labels = np.zeros((HEIGHT, WIDTH), np.uint8)
    for k in range(N_OBJECTS):  # five separated objects of different sizes
        x0, y0 = 40 + 160 * k, 60 + 50 * k
        labels[y0 : y0 + 80 + 20 * k, x0 : x0 + 60 + 15 * k] = k + 1
    return labels


def released_loop(predictor, image: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The released HQTrack tracker's loop on the package's own ``SamPredictor`` (unmodified model): for each
    object, ``set_image`` (the frame is encoded again), then ``predict(box=...)`` with the package's defaults
    (multimask on, HQ + SAM summed), the best mask by predicted IoU, then the IoU selector.

    Returns:
        the refined ``(H, W)`` label map and the ``(N, H, W)`` proposals (masks before selection).
    """
    def propose(box: np.ndarray) -> np.ndarray:
        predictor.set_image(image)
        out, iou, _ = predictor.predict(box=box)
        return out[int(np.argmax(iou))]

    return _each_object(propose, labels, threshold)


def per_object_encoding(refiner: SamRefiner, image: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The released loop with our refiner's kernels: isolates what one encoding per frame alone buys."""
    def propose(box: np.ndarray) -> np.ndarray:
        refiner.set_image(image)
        return refiner.decode(boxes=box[None]).masks[0]

    return _each_object(propose, labels, refiner.threshold)


def _each_object(propose, labels: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The released tracker's per-object loop: ``propose(tight box)`` for each object (the caller re-encodes the
    frame inside), then the IoU selector with the released overlap rule. Returns ``(labels, proposals)``."""
    ids = [int(i) for i in np.unique(labels) if i != 0]
    masks = np.stack([labels == i for i in ids])
    proposals = np.stack([propose(box) for box in masks_to_boxes(masks, 0.0)])
    return select_masks(labels, ids, proposals, np.ones(len(ids), bool), threshold, "lowest_id").labels, proposals


def _timed(fn) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


PATHS = {
    "ours": "one encoding per frame, fast kernels (ours)",
    "released": "one encoding per object, package (released)",
    "same_kernels": "one encoding per object, our kernels",
}


def measure(model_type: str = "vit_tiny", repeats: int = 3, paths: tuple[str, ...] = tuple(PATHS)) -> dict:
    """Median wall and CPU seconds per path for one HQ-SAM size (random weights), and output disagreements.

    Returns ``{"wall": {path: s}, "cpu": {path: s}, "disagree": {path: fraction}}``, the disagreement being the
    fraction of proposal pixels (masks before selection, all objects) that differ from ours.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from segment_anything_hq import SamPredictor
    torch.manual_seed(0)
    image, source = _frame()
    labels = _labels()
    package_model = build_sam(model_type, decoder="hq")
    ours_model = copy.deepcopy(package_model)  # same weights; our kernels are swapped into this copy only
    refiner = SamRefiner(ours_model)
    predictor = SamPredictor(package_model)
    fns = {
        "ours": lambda: (lambda r: (r.labels, r.proposals))(refiner.refine(image, labels)),
        "released": lambda: released_loop(predictor, image, labels, refiner.threshold),
        "same_kernels": lambda: per_object_encoding(refiner, image, labels),
    }
    runs: dict[str, list[tuple[float, float]]] = {key: [] for key in paths}
    outputs = {}
    with torch.inference_mode():
        for key in paths:
            outputs[key] = fns[key]()  # warm-up
        for _ in range(repeats):  # interleaved, so a change of machine load hits all paths alike
            for key in paths:
                wall, cpu, _ = _timed(fns[key])
                runs[key].append((wall, cpu))
    med = {key: np.median(np.asarray(runs[key]), axis=0) for key in paths}
    figures = {
        "wall": {key: float(med[key][0]) for key in paths},
        "cpu": {key: float(med[key][1]) for key in paths},
        "disagree": {key: float(np.mean(outputs[key][1] != outputs["ours"][1])) for key in paths},
    }
    covered = float(np.mean(outputs["ours"][1]))
    print(f"HQ-SAM {model_type} (random weights), {N_OBJECTS} objects, {source}, {torch.get_num_threads()} threads, "
          f"median of {repeats}")
    print(f"(proposals cover {100 * covered:.1f}% of the object-pixel slots; 'differ' compares them to ours)")
    print(f"{'path':<48} {'wall s':>8} {'CPU s':>8} {'x ours':>8} {'differ':>10}")
    for key in paths:
        ratio = figures["wall"][key] / figures["wall"]["ours"]
        print(f"{PATHS[key]:<48} {figures['wall'][key]:>8.3f} {figures['cpu'][key]:>8.3f} {ratio:>7.2f}x "
              f"{100 * figures['disagree'][key]:>9.4f}%")
    return figures


def run(repeats: int = 3) -> dict:
    """vit_tiny (the issue's setting: all three paths) and vit_b (ours vs released)."""
    figures: dict = {"refiner_bench_threads": torch.get_num_threads()}
    tiny = measure("vit_tiny", repeats)
    wall, cpu = tiny["wall"], tiny["cpu"]
    figures.update({
        "refiner_speedup_5_objects": round(wall["released"] / wall["ours"], 2),
        "refiner_speedup_5_objects_cpu_time": round(cpu["released"] / cpu["ours"], 2),
        "refiner_speedup_5_objects_one_encoding_only": round(wall["same_kernels"] / wall["ours"], 2),
        "refiner_latency_s_5_objects_one_encoding": round(wall["ours"], 3),
        "refiner_latency_s_5_objects_encoding_per_object": round(wall["released"], 3),
        "refiner_latency_s_5_objects_encoding_per_object_our_kernels": round(wall["same_kernels"], 3),
        "refiner_proposal_pixels_differing_from_released": round(tiny["disagree"]["released"], 6),
    })
    base = measure("vit_b", 1, paths=("ours", "released"))
    figures.update({
        "refiner_speedup_5_objects_vit_b": round(base["wall"]["released"] / base["wall"]["ours"], 2),
        "refiner_latency_s_5_objects_one_encoding_vit_b": round(base["wall"]["ours"], 3),
        "refiner_latency_s_5_objects_encoding_per_object_vit_b": round(base["wall"]["released"], 3),
    })
    return figures


if __name__ == "__main__":
    run()
