"""Rows 3 and 4 on data that can show them, on tiny inputs: long clips in which the target leaves the view or is
fully occluded and comes back (ablation.generators.long_clip), and a refiner whose proposals fail at documented
rates (refine.faulty) so that the IoU selector has something to reject."""

from __future__ import annotations

import numpy as np
import pytest

from hqtrack_core.ablation.generators import LabelledClip, long_clip
from hqtrack_core.refine.faulty import FAULTS, FaultRates, FaultyRefiner, apply_fault


def _blob_clip(name: str, frames: int, seed: int, size=(60, 80)) -> LabelledClip:
    """A textured clip whose object is a moving ellipse (label 1)."""
    rng = np.random.default_rng(seed)
    H, W = size
    yy, xx = np.mgrid[:H, :W]
    base = rng.integers(0, 255, size=(H, W, 3), dtype=np.uint8)
    imgs, masks = [], []
    for t in range(frames):
        cy, cx = H / 2 + 5 * np.sin(t / 3), W / 2 + 8 * np.cos(t / 4)
        m = ((yy - cy) / 12) ** 2 + ((xx - cx) / 16) ** 2 <= 1
        img = base.copy()
        img[m] = (200 + 10 * seed) % 255
        imgs.append(img)
        masks.append(m.astype(np.uint8))
    return LabelledClip(name, imgs, masks)


@pytest.fixture(scope="module")
def sources():
    return [_blob_clip(n, 12, k) for k, n in enumerate(("tgt", "bg", "occ1", "occ2"))]


def test_long_clip_target_leaves_and_comes_back(sources):
    tgt, bg, *occ = sources
    clip = long_clip(tgt, bg, occ, length=300, events=2, absence=(50, 120), seed=3)
    assert len(clip) == 300 and clip.size == bg.size and clip.object_ids() == [1]
    events = clip.source["events"]
    assert sorted(e["kind"] for e in events) == ["exit", "occlusion"]
    visible = np.array([(m == 1).sum() for m in clip.masks])
    assert visible[0] >= 16
    for ev in events:
        a0, a1 = ev["absent"]
        assert 50 <= a1 - a0 <= 120
        assert visible[a0:a1].max() == 0  # fully gone: out of the image or under the occluder
        assert visible[ev["back"]:ev["back"] + 5].min() > 0  # and back
        assert visible[ev["out"] - 3:ev["out"]].min() > 0  # visible just before
    assert events[0]["absent"][1] < events[1]["out"]
    # appearance changes: the target's size at the end differs from the start (scale drawn per clip)
    s0, s1 = clip.source["scale"]
    assert abs(s1 - s0) > 0.01
    again = long_clip(tgt, bg, occ, length=300, events=2, absence=(50, 120), seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(clip.masks, again.masks))
    other = long_clip(tgt, bg, occ, length=300, events=2, absence=(50, 120), seed=4)
    assert other.source["events"] != events


def test_long_clip_occlusion_covers_with_a_pasted_object(sources):
    """During an occlusion the target's place shows the occluder's pixels (not the target's) and its label is 0."""
    tgt, bg, *occ = sources
    for seed in range(6):
        clip = long_clip(tgt, bg, occ, length=260, events=2, absence=(60, 80), seed=seed)
        ev = next(e for e in clip.source["events"] if e["kind"] == "occlusion")
        t = (ev["absent"][0] + ev["absent"][1]) // 2
        assert not (clip.masks[t] == 1).any()
        assert not np.array_equal(clip.frames[t], bg.frames[0])  # something was pasted


def test_long_clip_refuses_what_cannot_fit(sources):
    tgt, bg, *occ = sources
    with pytest.raises(ValueError, match="do not fit"):
        long_clip(tgt, bg, occ, length=150, events=3, absence=(50, 60))
    with pytest.raises(ValueError, match="occluder"):
        long_clip(tgt, bg, [], length=300)


def test_faulty_refiner_fails_at_its_rates_and_the_selector_rejects():
    from hqtrack_core.refine.build import build_refiner

    rng = np.random.default_rng(0)
    H, W = 48, 64
    yy, xx = np.mgrid[:H, :W]
    truth = ((yy - 24) / 10) ** 2 + ((xx - 30) / 12) ** 2 <= 1
    inner = build_refiner("classical", threshold=0.5)
    always = {k: FaultyRefiner(inner, FaultRates.parse(f"{k}=1")) for k in FAULTS}
    image = rng.integers(0, 255, size=(H, W, 3), dtype=np.uint8)
    image[truth] = 230
    labels = truth.astype(np.uint8)
    honest = inner.refine(image, labels, [1])
    assert honest.iou[0] > 0.5
    for kind, ref in always.items():
        out = ref.refine(image, labels, [1])
        assert ref.faults[kind] == 1
        assert out.iou[0] < honest.iou[0], kind
        if kind in ("empty", "neighbour"):
            assert out.iou[0] < 0.1 and not out.accepted[0]  # rejected: the VMOS mask is kept
            assert np.array_equal(out.labels, labels)
    # rates: over many frames the draws follow them; the same frame always fails the same way
    ref = FaultyRefiner(inner, FaultRates(neighbour=0.2, drift=0.2, empty=0.1, whole_box=0.1), seed=1)
    for k in range(300):
        kind = ref._draws(np.full((4, 4, 3), k % 256, np.uint8), 1)[0][0]
        ref.faults[kind] += 1
    counts = ref.faults
    assert 0.3 < counts["none"] / 300 < 0.5 and counts["neighbour"] > 30 and counts["empty"] > 10
    same = [FaultyRefiner(inner, FaultRates(drift=0.5), seed=2)._draws(image, 3)[i][0] for i in range(3)]
    assert same == [FaultyRefiner(inner, FaultRates(drift=0.5), seed=2)._draws(image, 3)[i][0] for i in range(3)]


def test_fault_rates_parse_and_refuse():
    assert FaultRates.parse("default") == FaultRates()
    assert FaultRates.parse("empty=0.5") == FaultRates(0.0, 0.0, 0.5, 0.0)
    for bad in ("empty=2", "wrong=0.1", "empty=x", "empty"):
        with pytest.raises(ValueError):
            FaultRates.parse(bad)
    box = apply_fault("whole_box", np.zeros((10, 10), bool), np.pad(np.ones((4, 4), bool), 3), np.random.default_rng())
    assert box.sum() == 16


def test_study_builds_long_clips_and_faulty_rows(sources, tmp_path):
    """``hqtrack ablate memory --long-clips N`` builds N long clips (no tracking here); ``--refiner-faults`` wraps
    the row's refiner; bad rates are a one-line error."""
    import json

    from hqtrack_core.ablation.generators import write_davis_folder
    from hqtrack_core.ablation.rows import get_row
    from hqtrack_core.ablation.dataset import build_clips, load_videos
    from hqtrack_core.ablation.settings import AblationSettings
    from hqtrack_core.cli import main

    root = write_davis_folder(tmp_path / "d", sources, split="s")
    settings = AblationSettings(split="s", long_clips=2, long_length=260)
    clips = build_clips(get_row("memory"), load_videos(root, settings), settings)
    assert [len(c) for c in clips] == [260, 260] and clips[0].source["target"] != clips[1].source["target"]
    assert all(not (c.masks[e["absent"][0]] == 1).any() for c in clips for e in c.source["events"])
    # one clip by name (a live slice): only that one is generated, the same as in the whole row
    only = build_clips(get_row("memory"), load_videos(root, settings), settings, [clips[1].name])
    assert [c.name for c in only] == [clips[1].name] and all(np.array_equal(a, b) for a, b in
                                                             zip(only[0].masks, clips[1].masks))
    with pytest.raises(KeyError, match="clips: "):
        build_clips(get_row("memory"), load_videos(root, settings), settings, ["long9-nothing"])
    base = ["--data", str(root), "--split", "s", "--checkpoint", "none", "--precision", "fp32", "--short-edge", "33",
            "--max-frames", "4", "--no-progress", "--out", str(tmp_path / "o")]
    assert main(["ablate", "threshold", *base, "--refiner-faults", "empty=1"]) == 0
    row = json.loads((tmp_path / "o" / "threshold.json").read_text())
    assert row["settings"]["refiner_faults"] == "empty=1"
    # every proposal empty: IoU 0, rejected by every threshold above 0, accepted (an empty mask) at 0
    by = {v["name"]: v for v in row["variants"]}
    assert by["t0.1"]["JF"] == by["t0.9"]["JF"] != by["t0"]["JF"]
    assert main(["ablate", "threshold", *base, "--refiner-faults", "empty=3"]) == 2


def test_long_clip_target_scale_sets_the_start_size(sources):
    """``target_scale`` is the target's start size over its own (the memory row's ``--long-scale``); the default
    keeps its own size, and rows written before the setting read back with the first generator's 0.35-0.5."""
    from hqtrack_core.ablation.settings import AblationSettings
    from hqtrack_core.ablation.study import settings_from_json

    tgt, bg, *occ = sources
    own = long_clip(tgt, bg, occ, length=300, events=2, absence=(50, 120), seed=3)
    small = long_clip(tgt, bg, occ, length=300, events=2, absence=(50, 120), seed=3, target_scale=(0.35, 0.5))
    assert own.source["scale"][0] == 1.0 and 0.35 <= small.source["scale"][0] <= 0.5
    assert (own.masks[0] > 0).sum() > 4 * (small.masks[0] > 0).sum()
    assert settings_from_json({"long_clips": 10}).long_scale == (0.35, 0.5)
    assert settings_from_json({"long_clips": 10, "long_scale": [1.0, 1.0]}).long_scale == (1.0, 1.0)
    with pytest.raises(ValueError, match="--long-scale"):
        AblationSettings(long_clips=2, long_scale=(1.2, 0.8))


def test_recovery_reads_before_and_after_the_absences():
    """``report.recovery``: J before the first absence and after each return, from the row JSON's per-frame J
    (``J_frames[i]`` is frame i + 1), with intervals over the clips and the difference to the paper's choice."""
    from hqtrack_core.ablation.report import recovery, recovery_table

    J = [0.8] * 9 + [0.0] * 20 + [0.5] * 20 + [0.2] * 50  # frames 1-9 tracked, lost during 10-29, back at 30
    clip = {"name": "c", "source": {"events": [{"out": 10, "back": 30}]}}
    row = {"clips": [clip], "expected_best": "a", "variants": [
        {"name": "a", "label": "A", "status": "run", "sequences": {"c": {"J_frames": J}}},
        {"name": "b", "label": "B", "status": "not run", "sequences": {}}]}
    rec = recovery(row, after=20)
    assert set(rec) == {"a"}
    assert rec["a"]["before"] == pytest.approx(0.8) and rec["a"]["after_return"] == pytest.approx(0.5)
    assert rec["a"]["after_return_ci95"] is None  # one clip: no interval
    assert "1 clips, 1 returns" in recovery_table(row)
    assert recovery({"clips": [{"name": "c", "source": {}}], "variants": row["variants"]}) == {}

    # six clips; variant b recovers 0.1 better than the paper's choice a on every clip: detected, interval > 0
    clips = [{"name": f"c{i}", "source": {"events": [{"out": 10, "back": 30}, {"out": 60, "back": 70}]}}
             for i in range(6)]
    ja = {c["name"]: {"J_frames": [0.8] * 9 + [0.0] * 20 + [0.4 + 0.02 * i] * 70} for i, c in enumerate(clips)}
    jb = {n: {"J_frames": [x + 0.1 if k >= 29 else x for k, x in enumerate(v["J_frames"])]} for n, v in ja.items()}
    row = {"clips": clips, "expected_best": "a", "variants": [
        {"name": "a", "label": "A", "status": "run", "sequences": ja},
        {"name": "b", "label": "B", "status": "run", "sequences": jb}]}
    rec = recovery(row, after=20)
    assert rec["b"]["after_return"] - rec["a"]["after_return"] == pytest.approx(0.1)
    diff = rec["b"]["after_return_vs_paper"]
    assert diff["mean"] == pytest.approx(0.1) and diff["ci95"][0] > 0 and diff["detected"]
    assert rec["b"]["before_vs_paper"]["mean"] == pytest.approx(0.0) and not rec["b"]["before_vs_paper"]["detected"]
    assert "after_return_vs_paper" not in rec["a"]
    lo, hi = rec["a"]["after_return_ci95"]
    assert lo < rec["a"]["after_return"] < hi
    table = recovery_table(row)
    assert "6 clips, 12 returns" in table and "+0.100 [0.100, 0.100]" in table
    from hqtrack_core.ablation.notebook import recovery_md

    assert "`b` (reference) +0.100" in recovery_md(row) and "None of the claim's rivals" in recovery_md(row)
    row["uncertainty"] = {"rivals": ["b"]}
    assert "Detected (interval excludes 0 and p < 0.05: 0.05 over the claim's 1 rivals): `b` above `a`." in \
        recovery_md(row)


def test_failure_rates_pair_the_clips_that_have_them():
    """``report.failure_rates``: NRE / DRE / ADQ per variant with intervals over the clips where every variant has
    the rate (ADQ is undefined on a clip without absences), and the difference to the paper's choice."""
    from hqtrack_core.ablation.report import failure_rates, failure_table

    def seqs(adq_shift):
        return {f"c{i}": {"NRE": 0.0, "DRE": 0.1 * i, "ADQ": None if i == 0 else 0.5 + adq_shift} for i in range(5)}

    row = {"clips": [{"name": f"c{i}"} for i in range(5)], "expected_best": "a", "variants": [
        {"name": "a", "label": "A", "status": "run", "sequences": seqs(0.0)},
        {"name": "b", "label": "B", "status": "run", "sequences": seqs(0.2)},
        {"name": "c", "label": "C", "status": "not run", "sequences": {}}]}
    rates = failure_rates(row)
    assert set(rates) == {"NRE", "DRE", "ADQ"} and set(rates["ADQ"]) == {"a", "b"}
    assert rates["ADQ"]["a"]["clips"] == 4 and rates["DRE"]["a"]["clips"] == 5  # c0 has no ADQ
    assert rates["ADQ"]["b"]["vs_paper"]["mean"] == pytest.approx(0.2)
    assert rates["DRE"]["a"]["mean"] == pytest.approx(0.2) and "vs_paper" not in rates["DRE"]["a"]
    assert "over 4 clips" in failure_table(row) and "minus a: +0.200 [0.200, 0.200]" in failure_table(row)
    old = {**row, "variants": [{**v, "sequences": {n: {} for n in v["sequences"]}} for v in row["variants"]]}
    assert failure_rates(old) == {} and "recorded before" in failure_table(old)
    # the paper's choice did not run (row 5 without SAM weights): no difference column, and the table says why
    unpaired = failure_table({**row, "expected_best": "c"})
    assert "minus" not in unpaired and "no difference to the paper's choice: c did not run" in unpaired


def test_sequence_table_by_clip_keeps_long_names():
    from hqtrack_core.ablation.report import sequence_table

    row = {"clips": [{"name": "long6-mallard-water"}, {"name": "c"}], "variants": [
        {"name": "gap10", "label": "gap 10", "status": "run",
         "sequences": {"long6-mallard-water": {"JF": 0.25}, "c": {"JF": 0.5}}}]}
    lines = sequence_table(row, "JF", by_clip=True).splitlines()
    assert lines[0].split() == ["JF", "gap10"] and lines[1].split() == ["long6-mallard-water", "0.250"]
    assert "long6-mallard-" in sequence_table(row, "JF") and "long6-mallard-water" not in sequence_table(row, "JF")
