"""VOTS2023 measures vs vot-toolkit 0.9.0 itself: generated sequences covering absences, misses, drifts,
hallucinations, thin (1-px) masks, masks spilling outside the image, special codes, and both file formats.

The toolkit side reads the same files with its own readers (``vot.dataset.common.read_sequence``, its experiment
``gather``) and runs the analyses of the VOTS2023 stack (``vot/stack/tests/multiobject.yaml``) built through its
own registry; our side uses ``hqtrack_core``. Everything must agree to 1e-9.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hqtrack_core.data.vot_format import FAILURE, INITIALIZATION, UNKNOWN, MaskRegion, Special, write_trajectory
from hqtrack_core.data.vots import list_vots_sequences, read_vots_results, read_vots_sequence, result_name, write_vots_sequence
from hqtrack_core.evaluation.vots import PLOT_THRESHOLDS, score_sequence, score_sequences

vot = pytest.importorskip("vot", reason="vot-toolkit (test extra) not installed")

TOL = 1e-9
H, W = 24, 32


def _random_box(rng, inside=True):
    if inside:
        x0, y0 = int(rng.integers(0, W - 4)), int(rng.integers(0, H - 4))
        return x0, y0, int(rng.integers(2, min(10, W - x0) + 1)), int(rng.integers(2, min(8, H - y0) + 1))
    # spilling outside the image on some side
    w, h = int(rng.integers(3, 12)), int(rng.integers(3, 10))
    x0 = int(rng.choice([-w + 1, -2, W - 2, W - 1, int(rng.integers(0, W))]))
    y0 = int(rng.choice([-h + 1, -1, H - 1, H - 3, int(rng.integers(0, H))]))
    return x0, y0, w, h


def _blob(rng, box):
    x0, y0, w, h = box
    mask = (rng.random((h, w)) > 0.25).astype(np.uint8)
    mask[h // 2, :] = 1
    return MaskRegion(mask, (x0, y0))


def _thin(rng):
    """One-pixel wide or tall line, sometimes a single pixel, sometimes at image column/row 0."""
    kind = rng.integers(0, 4)
    if kind == 0:
        return MaskRegion(np.ones((int(rng.integers(2, 8)), 1), np.uint8), (int(rng.choice([0, rng.integers(0, W)])), int(rng.integers(0, H - 8))))
    if kind == 1:
        return MaskRegion(np.ones((1, int(rng.integers(2, 10))), np.uint8), (int(rng.integers(0, W - 10)), int(rng.choice([0, rng.integers(0, H)]))))
    if kind == 2:
        return MaskRegion(np.ones((1, 1), np.uint8), (int(rng.integers(0, W)), int(rng.integers(0, H))))
    return MaskRegion(np.ones((5, 1), np.uint8), (5, 3))


def _shift(region, rng):
    if not isinstance(region, MaskRegion) or region.mask.size == 0:
        return region
    dx, dy = (int(v) for v in rng.integers(-3, 4, size=2))
    return MaskRegion(region.mask, (region.offset[0] + dx, region.offset[1] + dy))


def _empty(rng, binary):
    if binary and rng.random() < 0.5:  # an empty .bin mask stored at an offset (toolkit quirk, convention 2)
        return MaskRegion(np.zeros((int(rng.integers(1, 4)), int(rng.integers(1, 4))), np.uint8),
                          (int(rng.integers(0, W)), int(rng.integers(0, H))))
    return MaskRegion(np.zeros((0, 0), np.uint8), (0, 0))


def _make_object(rng, length, binary):
    """Ground truth (text; masks inside the image, tight) and a prediction exercising every frame class."""
    gt, pred = [], []
    for t in range(length):
        if rng.random() < 0.3:
            g = Special(UNKNOWN) if rng.random() < 0.1 else MaskRegion(np.zeros((0, 0), np.uint8))  # absent
        elif rng.random() < 0.15:
            g = _thin(rng)
        else:
            g = _blob(rng, _random_box(rng))
        if isinstance(g, MaskRegion) and g.mask.size:
            g = MaskRegion.from_image_mask(g.to_image_mask((H, W)))  # tight and inside, as a real annotation
        gt.append(g)
        u = rng.random()
        if u < 0.25:
            p = _shift(g, rng) if isinstance(g, MaskRegion) else _empty(rng, binary)  # tracking (or hallucination)
        elif u < 0.4:
            p = _empty(rng, binary)  # miss / correct absence
        elif u < 0.55:
            p = _blob(rng, _random_box(rng))  # drift / hallucination
        elif u < 0.7:
            p = _blob(rng, _random_box(rng, inside=False))  # spills outside the image
        elif u < 0.8:
            p = _thin(rng)
        elif u < 0.85:
            p = Special(int(rng.choice([UNKNOWN, FAILURE])))
        else:
            p = g if isinstance(g, MaskRegion) else _empty(rng, binary)
        pred.append(p)
    pred[0] = Special(INITIALIZATION)
    if rng.random() < 0.3:  # a ground truth shorter than the sequence: the toolkit pads it with "unknown"
        gt = gt[: length - int(rng.integers(1, 4))]
    return gt, pred


def _build_workspace(root: Path, seed: int, binary: bool) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    seqs, results = root / "sequences", root / "results"
    for s in range(5):
        name = f"seq{s}"
        length = int(rng.integers(6, 30)) if s != 4 else 24
        n_objects = 1 if s == 0 else int(rng.integers(2, 4))  # seq0: single-object naming <seq>_001
        frames = [np.full((H, W, 3), 40 * s, np.uint8)] * length
        objects = {str(o + 1): _make_object(rng, length, binary) for o in range(n_objects)}
        if s == 4:  # a long absence: ADQ defined (N + H > 10)
            gt, pred = objects["1"]
            empty = MaskRegion(np.zeros((0, 0), np.uint8))
            objects["1"] = ([gt[0]] + [empty] * (length - 1), [pred[0]] + [empty] * (length - 8) + pred[length - 7:])
        write_vots_sequence(seqs, name, frames, {o: g for o, (g, _) in objects.items()})
        for o, (_, pred) in objects.items():
            stem = result_name(name, o, n_objects > 1)
            write_trajectory(results / name / f"{stem}{'.bin' if binary else '.txt'}", pred)
    (seqs / "list.txt").write_text("".join(f"seq{s}\n" for s in range(5)))
    return seqs, results


def _toolkit_scores(seqs: Path, results: Path) -> dict:
    """The toolkit's own readers and VOTS2023 stack analyses on the files."""
    from hqtrack_core.evaluation.official import vot_toolkit_scores

    return vot_toolkit_scores(seqs, results)


def _ours(seqs: Path, results: Path):
    scored = []
    for name in list_vots_sequences(seqs):
        sequence = read_vots_sequence(seqs / name)
        trajectories = read_vots_results(results, sequence)
        scored.append(score_sequence(name, trajectories, sequence.objects, sequence.size, sequence.ignore))
    return score_sequences(scored)


def _diff(a, b) -> float:
    if a is None or b is None:
        assert a is None and b is None, (a, b)
        return 0.0
    return float(np.nanmax(np.abs(np.asarray(a, float) - np.asarray(b, float)), initial=0.0))


@pytest.mark.parametrize("binary", [True, False], ids=["bin", "txt"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vots_measures_parity_with_vot_toolkit(tmp_path, seed, binary):
    seqs, results = _build_workspace(tmp_path, seed, binary)
    ref = _toolkit_scores(seqs, results)
    ours = _ours(seqs, results)
    worst = {}
    for key in ("Q", "A", "R", "NRE", "DRE", "ADQ"):
        worst[key] = _diff(getattr(ours, key), ref[key])
    worst["plot"] = _diff(ours.plot, ref["plot"])
    for name, s in ours.sequences.items():
        r = ref["sequences"][name]
        for key in ("Q", "A", "NRE", "DRE", "ADQ"):
            worst[f"seq.{key}"] = max(worst.get(f"seq.{key}", 0.0), _diff(getattr(s, key), r[key]))
        worst["seq.plot"] = max(worst.get("seq.plot", 0.0), _diff(s.plot, r["plot"]))
        ref_counts = {tuple(c) for c in r["counts"]}
        our_counts = {(o.T, o.F, o.M, o.H, o.N) for o in s.objects.values()}
        assert our_counts == ref_counts, (name, our_counts, ref_counts)
    print(f"\nseed {seed} {'bin' if binary else 'txt'}: worst |ours - vot-toolkit| = "
          + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    assert max(worst.values()) <= TOL, worst
    # the scenarios must actually exercise every frame class and ADQ
    totals = np.sum([[o.T, o.F, o.M, o.H, o.N] for s in ours.sequences.values() for o in s.objects.values()], axis=0)
    assert (totals > 0).all(), totals
    assert ours.ADQ is not None
    assert PLOT_THRESHOLDS.shape == (100,)


def _random_region(rng):
    u = rng.random()
    if u < 0.15:
        return Special(int(rng.choice([UNKNOWN, INITIALIZATION, FAILURE])))
    if u < 0.3:
        return _empty(rng, binary=True)
    if u < 0.45:
        return _thin(rng)
    return _blob(rng, _random_box(rng, inside=rng.random() < 0.5))


def _to_vot(region):
    from vot.region import Special as VotSpecial
    from vot.region.shapes import Mask as VotMask

    if isinstance(region, Special):
        return VotSpecial(region.code)
    return VotMask(region.mask, region.offset)


def test_region_overlap_parity_with_vot_toolkit():
    """Single-pair overlaps (with and without ignore masks, bounded and not) against ``calculate_overlap``."""
    from vot.region.raster import calculate_overlap

    from hqtrack_core.evaluation.vots import region_overlap

    rng = np.random.default_rng(7)
    worst = 0.0
    for _ in range(1500):
        a, b = _random_region(rng), _random_region(rng)
        ignore = _random_region(rng) if rng.random() < 0.3 else None
        bounds = (W, H) if rng.random() < 0.8 else None
        ours = region_overlap(a, b, bounds, ignore)
        ref = calculate_overlap(_to_vot(a), _to_vot(b), bounds, None if ignore is None else _to_vot(ignore))
        worst = max(worst, abs(ours - ref))
    print(f"\nworst |overlap - vot-toolkit calculate_overlap| over 1500 random pairs: {worst:.1e}")
    assert worst <= TOL


@pytest.mark.shared_data
def test_vots_measures_parity_with_vot_toolkit_on_osvos(shared_data, tmp_path):
    """Real masks: the OSVOS predictions of the 4 DAVIS dev sequences (binarised), written as a VOTS workspace
    (.bin results), scored by both sides."""
    from hqtrack_core.data.frames import open_frames
    from hqtrack_core.data.vots import write_vots_from_labels
    from hqtrack_core.evaluation.davis import read_sequence_masks

    davis = shared_data / "davis2016"
    for name in (davis / "ImageSets" / "dev.txt").read_text().split():
        stems, gt = read_sequence_masks(davis / "Annotations" / "480p" / name)
        _, pred = read_sequence_masks(shared_data / "osvos_davis2017_predictions" / name, stems)
        frames = [image for _, image in open_frames(davis / "JPEGImages" / "480p" / name)]
        write_vots_from_labels(tmp_path / "sequences", name, frames, [(g > 0).astype(np.uint8) for g in gt],
                               tmp_path / "results", [(p > 0).astype(np.uint8) for p in pred])
    ref = _toolkit_scores(tmp_path / "sequences", tmp_path / "results")
    ours = _ours(tmp_path / "sequences", tmp_path / "results")
    worst = max(_diff(getattr(ours, k), ref[k]) for k in ("Q", "A", "R", "NRE", "DRE", "ADQ"))
    worst = max(worst, _diff(ours.plot, ref["plot"]),
                *(_diff(getattr(s, k), ref["sequences"][n][k]) for n, s in ours.sequences.items() for k in ("Q", "A")))
    print(f"\nOSVOS dev as VOTS: Q {ours.Q:.4f} (vot-toolkit {ref['Q']:.4f}); worst |ours - vot-toolkit| = {worst:.1e}")
    assert worst <= TOL
    assert 0.5 < ours.Q < 0.95
