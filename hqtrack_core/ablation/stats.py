"""Uncertainty of an ablation row: intervals, paired differences against the paper's choice and a verdict.

Everything is computed from the per-sequence scores a row JSON holds (``variants[i]["sequences"][seq]``), so a
committed row can be rescored without tracking (:func:`rescore`, ``hqtrack ablate ROW --rescore``).

**The unit of resampling is the sequence** (a clip), paired across variants: every variant ran on the same clips,
so one bootstrap resample draws one list of sequences (with replacement) and scores every variant on it. Where a
variant has several training seeds (``variant["seed_runs"]``, rows 1-2), each resample also draws that variant's
seeds with replacement (seeds of two variants are independent trainings: not paired). J&F is the object-weighted
mean of the drawn sequences (the DAVIS global is a mean over all objects), Q the plain mean (the VOTS toolkit
averages sequences). Intervals are bootstrap percentile intervals (``RESAMPLES`` resamples, generator seeded with
``SEED``: the output is reproducible).

**Small samples.** A percentile bootstrap over a handful of sequences is too narrow (it has no small-sample
correction: over 4 sequences there are only 35 distinct resampled means, and when all 4 differences share a sign
every resample does). A difference therefore counts as *detected* only when the 95% interval excludes 0 **and** an
exact permutation test agrees (p < 0.05): the paired sign-flip test over sequences, or with several seeds the
label-permutation test over seeds, which is exact whatever n. With 4 sequences the smallest possible sign-flip p is
2/16 = 0.125 and with 3 seeds against 3 it is 2/20 = 0.1: at that scale **no difference can be detected**, which is
the honest answer. With one sequence there is no interval at all (``null``).

**Verdict** (J&F; the same rule on Q gives ``verdict_Q``): the paper's choice against each rival the claim ranks
(``row["compare"]``, default every variant; variants outside it are shown for reference only):
``"contradicts"`` when some rival is detectably better (p < 0.05 / number of rivals: Bonferroni, since any one of
several rivals suffices); ``"supports"`` when the paper's choice is detectably better than every rival (each at
p < 0.05: all must hold, so no correction is needed); ``"inconclusive"`` otherwise (no detectable difference at
this scale), or when the paper's choice or every rival was not run (``verdict_reason`` says which).

``diff_vs_paper`` of a variant is *variant minus the paper's choice* (negative: the paper's choice scores higher).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np

RESAMPLES = 10_000
SEED = 0
ALPHA = 0.05
VERDICTS = ("supports", "contradicts", "inconclusive")


@dataclass(frozen=True)
class Scores:
    """One variant's per-sequence scores: ``values[s, i]`` for seed ``s`` and sequence ``i`` (``(S, N)``)."""

    name: str
    values: np.ndarray

    @property
    def seeds(self) -> int:
        return int(self.values.shape[0])


def _weighted_means(values: np.ndarray, idx: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``values (S, N)``, ``idx (B, N)`` resampled sequence indices, ``weights (N,)`` -> ``(S, B)`` weighted means."""
    w = weights[idx]  # (B, N)
    return (values[:, idx] * w[None]).sum(-1) / w.sum(-1)[None]


def bootstrap(variants: Sequence[Scores], weights: Sequence[float] | None = None, resamples: int = RESAMPLES,
              seed: int = SEED) -> dict[str, np.ndarray]:
    """Paired bootstrap: ``{name: (resamples,)}`` the statistic of each variant on the same resampled sequences
    (and, per variant, resampled seeds). ``weights`` per sequence (objects; default 1)."""
    n = variants[0].values.shape[1]
    if any(v.values.shape[1] != n for v in variants):
        raise ValueError("every variant must be scored on the same sequences")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    out = {}
    for v in variants:  # seeds drawn per variant, in row order (reproducible)
        per_seed = _weighted_means(v.values, idx, w)  # (S, B)
        if v.seeds == 1:
            out[v.name] = per_seed[0]
        else:
            sidx = rng.integers(0, v.seeds, size=(resamples, v.seeds))
            out[v.name] = per_seed[sidx, np.arange(resamples)[:, None]].mean(-1)
    return out


def interval(samples: np.ndarray) -> list[float]:
    """The 95% percentile interval ``[lo, hi]``."""
    lo, hi = np.percentile(samples, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
    return [float(lo), float(hi)]


def point(values: np.ndarray, weights: np.ndarray) -> float:
    """The statistic on the data itself: the seed mean of the weighted sequence mean."""
    return float(((values * weights[None]).sum(-1) / weights.sum()).mean())


def sign_flip_p(diffs: Sequence[float], weights: Sequence[float] | None = None, draws: int = 20_000,
                seed: int = SEED) -> float:
    """Two-sided p of the paired sign-flip permutation test of ``mean(diffs) = 0`` (exact up to 16 sequences,
    else ``draws`` random flips). The smallest p it can give is ``2 / 2**n``."""
    d = np.asarray(diffs, dtype=float)
    w = np.ones(len(d)) if weights is None else np.asarray(weights, dtype=float)
    observed = abs((d * w).sum())
    if len(d) <= 16:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(d))))
    else:
        signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(draws, len(d)))
    stats = np.abs((signs * (d * w)[None]).sum(-1))
    return float(np.mean(stats >= observed - 1e-12))


def label_permutation_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p of the exact permutation test of ``mean(a) = mean(b)`` (unpaired: the seeds of two trained
    variants). The smallest p it can give is ``2 / C(len(a) + len(b), len(a))``."""
    pooled = np.concatenate([np.asarray(a, float), np.asarray(b, float)])
    k = len(a)
    observed = abs(np.mean(a) - np.mean(b))
    hits = total = 0
    for chosen in itertools.combinations(range(len(pooled)), k):
        mask = np.zeros(len(pooled), bool)
        mask[list(chosen)] = True
        hits += abs(pooled[mask].mean() - pooled[~mask].mean()) >= observed - 1e-12
        total += 1
    return hits / total


def compare(variant: Scores, paper: Scores, samples: dict[str, np.ndarray], weights: np.ndarray) -> dict:
    """``variant`` minus ``paper``: ``{"mean", "ci95", "p", "detected"}`` (``ci95``/``p`` ``None`` when there is
    a single sequence and a single seed: nothing to estimate a spread from)."""
    mean = point(variant.values, weights) - point(paper.values, weights)
    n = variant.values.shape[1]
    if variant.seeds == 1 and paper.seeds == 1:
        if n < 2:
            return {"mean": mean, "ci95": None, "p": None, "detected": False}
        p = sign_flip_p(variant.values[0] - paper.values[0], weights)
    else:  # trained variants with seeds: the seeds are the replicates (per-seed means over the sequences)
        seed_means = lambda s: (s.values * weights[None]).sum(-1) / weights.sum()  # noqa: E731
        p = label_permutation_p(seed_means(variant), seed_means(paper))
    ci = interval(samples[variant.name] - samples[paper.name])
    detected = (ci[0] > 0 or ci[1] < 0) and p < ALPHA
    return {"mean": mean, "ci95": ci, "p": p, "detected": bool(detected)}


def rival_level(rivals: int) -> float:
    """The p level at which one of ``rivals`` rivals counts as detectably better: ``ALPHA`` over their number
    (Bonferroni: any one of them suffices to contradict the claim)."""
    return ALPHA / max(1, rivals)


def direction(diff: dict, level: float = ALPHA) -> int:
    """``+1`` / ``-1`` when ``diff``'s 95% interval lies wholly above / below 0 and its ``p < level``; else 0."""
    if diff["p"] is None or diff["ci95"] is None or not diff["p"] < level:
        return 0
    return 1 if diff["ci95"][0] > 0 else -1 if diff["ci95"][1] < 0 else 0


def decide(diffs: dict[str, dict], rivals: Sequence[str]) -> tuple[str, str]:
    """The verdict from the rivals' ``diff_vs_paper`` records (variant minus the paper's choice)."""
    ran = [r for r in rivals if r in diffs]
    if not ran:
        return "inconclusive", "no rival of the paper's choice was run"
    k = len(ran)
    better = [r for r in ran if direction(diffs[r], rival_level(k)) > 0]
    if better:
        return "contradicts", f"detectably better than the paper's choice: {', '.join(better)}"
    worse = [r for r in ran if direction(diffs[r]) < 0]
    if len(worse) == k:
        return "supports", f"the paper's choice is detectably better than {', '.join(ran)}"
    if all(diffs[r]["ci95"] is None for r in ran):
        return "inconclusive", "one sequence, one seed: no interval can be estimated"
    undetected = [r for r in ran if r not in worse]
    return "inconclusive", f"no detectable difference at this scale against {', '.join(undetected)}"


def _scores(variant: dict, names: Sequence[str], key: str) -> np.ndarray:
    """``(S, N)``: the variant's own run (seed ``settings.seed``) then its ``seed_runs``."""
    runs = [variant["sequences"], *[r["sequences"] for r in variant.get("seed_runs", [])]]
    return np.array([[float(run[n][key]) for n in names] for run in runs])


def sequence_weights(objects: Sequence[int], key: str) -> np.ndarray:
    """``(N,)`` weights of the sequences in a statistic over ``N`` sequences with ``objects[i]`` objects each: the
    object counts for DAVIS J&F, J and F (the official global is a mean over all objects), one per sequence for the
    VOTS measures (the toolkit's unweighted mean over sequences)."""
    if key in ("JF", "J", "F"):
        return np.array([max(1, n) for n in objects], dtype=float)
    return np.ones(len(objects))


def _weights(result: dict, key: str) -> np.ndarray:
    """:func:`sequence_weights` of a row JSON's clips (a clip without an object list counts one object)."""
    return sequence_weights([len(c.get("objects") or [1]) for c in result["clips"]], key)


def seed_spread(result: dict, key: str = "JF") -> dict[str, dict]:
    """How far retraining alone moves each variant that ran: ``{name: {"per_run", "range", "sd"}}``. ``per_run`` is
    the variant's score over the row's sequences (weighted as the row's own, :func:`point`) for each training run:
    the committed one (seed ``settings.seed``) first, then its ``seed_runs``. ``range`` is max - min and ``sd`` the
    sample standard deviation over the runs (both ``None`` with one run)."""
    names = [c["name"] for c in result["clips"]]
    weights = _weights(result, key)
    out = {}
    for v in result["variants"]:
        if v.get("status") != "run":
            continue
        per_run = [point(row[None], weights) for row in _scores(v, names, key)]
        several = len(per_run) > 1
        out[v["name"]] = {"per_run": per_run, "range": max(per_run) - min(per_run) if several else None,
                          "sd": float(np.std(per_run, ddof=1)) if several else None}
    return out


def row_uncertainty(result: dict, resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """Intervals, differences and verdicts of a row JSON. Returns ``{"n", "verdict", "verdict_reason",
    "verdict_Q", "verdict_Q_reason", "paper_choice", "rivals", "bootstrap", "variants": {name: {"jf_ci95",
    "q_ci95", "diff_vs_paper", "diff_vs_paper_Q", "seeds"}}}`` (:func:`apply` writes them into the row)."""
    names = [c["name"] for c in result["clips"]]
    objects = _weights(result, "JF")
    ran = [v for v in result["variants"] if v.get("status") == "run"]
    seeds = {v["name"]: 1 + len(v.get("seed_runs", [])) for v in ran}
    n = {"sequences": len(names), "frames": int(sum(c["frames"] for c in result["clips"])),
         "objects": int(objects.sum()), "seeds": max(seeds.values()) if seeds else 0}
    paper_choice = result.get("expected_best")
    compared = result.get("compare") or [v["name"] for v in result["variants"]]
    rivals = [name for name in compared if name != paper_choice]
    out = {"n": n, "paper_choice": paper_choice, "rivals": rivals,
           "bootstrap": {"unit": "sequence (paired across variants; seeds resampled per variant)",
                         "resamples": resamples, "seed": seed, "interval": "95% percentile",
                         "detected": f"interval excludes 0 and permutation p < {ALPHA}"},
           "variants": {}}
    per_key = {}
    for key in ("JF", "Q"):
        weights = _weights(result, key)
        scores = [Scores(v["name"], _scores(v, names, key)) for v in ran]
        samples = bootstrap(scores, weights, resamples, seed) if scores and len(names) >= 1 else {}
        by_name = {s.name: s for s in scores}
        diffs = {}
        for s in scores:
            rec = out["variants"].setdefault(s.name, {"seeds": s.seeds})
            ci = interval(samples[s.name]) if (len(names) > 1 or s.seeds > 1) else None
            rec["jf_ci95" if key == "JF" else "q_ci95"] = ci
            if paper_choice in by_name:
                d = compare(s, by_name[paper_choice], samples, weights) if s.name != paper_choice else \
                    {"mean": 0.0, "ci95": [0.0, 0.0], "p": 1.0, "detected": False}
                rec["diff_vs_paper" if key == "JF" else "diff_vs_paper_Q"] = d
                diffs[s.name] = d
            else:
                rec["diff_vs_paper" if key == "JF" else "diff_vs_paper_Q"] = None
        if paper_choice not in by_name:
            why = next((v["status"] for v in result["variants"] if v["name"] == paper_choice), "absent from the row")
            verdict, reason = "inconclusive", f"the paper's choice ({paper_choice}) was {why}"
        else:
            verdict, reason = decide(diffs, rivals)
        per_key[key] = (verdict, reason)
    out["verdict"], out["verdict_reason"] = per_key["JF"]
    out["verdict_Q"], out["verdict_Q_reason"] = per_key["Q"]
    return out


def apply(result: dict, resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """``result`` with the uncertainty written in: top-level ``n``, ``verdict`` (+ ``verdict_reason``,
    ``verdict_Q``...), ``uncertainty`` (paper choice, rivals, bootstrap settings); per variant that ran
    ``jf_ci95``, ``q_ci95``, ``diff_vs_paper``, ``diff_vs_paper_Q``, ``seeds``. Returns a new dict."""
    u = row_uncertainty(result, resamples, seed)
    variants = [{**v, **u["variants"].get(v["name"], {})} for v in result["variants"]]
    top = {k: u[k] for k in ("n", "verdict", "verdict_reason", "verdict_Q", "verdict_Q_reason")}
    extra = {"uncertainty": {k: u[k] for k in ("paper_choice", "rivals", "bootstrap")}}
    return {**result, **top, **extra, "variants": variants}


def attach_seed_runs(result: dict, others: Sequence[dict]) -> dict:
    """``result`` with the per-sequence scores of ``others`` (the same row run with checkpoints trained under
    other seeds, rows 1-2) attached to its variants as ``seed_runs``: ``[{"checkpoint_sha256", "sequences"}]``.
    The clips must be the same; a checkpoint already present (the same training run twice) is an error."""
    clips = [(c["name"], c["frames"]) for c in result["clips"]]
    variants = {v["name"]: {**v, "seed_runs": list(v.get("seed_runs", []))} for v in result["variants"]}
    own = result["settings"]["checkpoints"]
    seen = {name: {(own.get(name) or {}).get("sha256")} | {r["checkpoint_sha256"] for r in v["seed_runs"]}
            for name, v in variants.items()}
    for other in others:
        if other.get("row") != result["row"]:
            raise ValueError(f"a seed run of row {other.get('row')!r} cannot join row {result['row']!r}")
        if [(c["name"], c["frames"]) for c in other["clips"]] != clips:
            raise ValueError(f"seed runs must score the same clips: {[c['name'] for c in other['clips']]} "
                             f"against {[c for c, _ in clips]}")
        for v in other["variants"]:
            if v.get("status") != "run" or v["name"] not in variants:
                continue
            sha = (other["settings"]["checkpoints"].get(v["name"]) or {}).get("sha256")
            if sha in seen[v["name"]]:
                raise ValueError(f"variant {v['name']}: checkpoint {str(sha)[:12]} is already in the row "
                                 "(the same training run twice is not a second seed)")
            seen[v["name"]].add(sha)
            variants[v["name"]]["seed_runs"].append({"checkpoint_sha256": sha, "sequences": v["sequences"]})
    return {**result, "variants": [variants[v["name"]] for v in result["variants"]]}


def compare_scores(base: dict, other: dict, key: str | None = None) -> dict:
    """Is one scored result better than another? Two ``hqtrack eval davis|vots --json`` results on the same
    sequences (``hqtrack eval compare``, notebook 05), OTHER minus BASE with the rule of the ablation rows (paired
    bootstrap over sequences, sign-flip test): ``{"key", "n", "objects", "base", "other", "base_ci95", "other_ci95",
    "diff": {"mean", "ci95", "p", "detected"}, "per_sequence": {seq: (base, other)}}``."""
    davis = all("objects" in s for s in base["sequences"].values())
    key = key or ("JF" if davis else "Q")
    allowed = ("JF", "J", "F") if davis else ("Q", "A", "R")
    if key not in allowed:
        raise ValueError(f"--key {key} is not a per-sequence measure of these files; use one of {', '.join(allowed)}")
    names = sorted(base["sequences"])
    if sorted(other["sequences"]) != names:
        only_base = sorted(set(names) - set(other["sequences"]))
        only_other = sorted(set(other["sequences"]) - set(names))
        raise ValueError(f"the two files are not scored on the same sequences (only in BASE: {only_base or '-'}; "
                         f"only in OTHER: {only_other or '-'}): score both with the same --sequences")
    values = {}
    for label, data in (("base", base), ("other", other)):
        row = [data["sequences"][n].get(key) for n in names]
        if any(v is None for v in row):
            missing = [n for n, v in zip(names, row) if v is None]
            raise ValueError(f"{label.upper()} has no {key} for {missing}: compare another --key")
        values[label] = np.asarray(row, dtype=float)[None]
    weights = sequence_weights([len(base["sequences"][n].get("objects") or ()) for n in names], key)
    variants = [Scores("base", values["base"]), Scores("other", values["other"])]
    samples = bootstrap(variants, weights)
    return {"key": key, "n": len(names), "objects": int(weights.sum()) if davis else None,
            "base": point(values["base"], weights), "other": point(values["other"], weights),
            # one sequence: no spread to estimate, no interval (as the ablation rows)
            "base_ci95": interval(samples["base"]) if len(names) > 1 else None,
            "other_ci95": interval(samples["other"]) if len(names) > 1 else None,
            "diff": compare(variants[1], variants[0], samples, weights),
            "per_sequence": {n: (float(values["base"][0, i]), float(values["other"][0, i]))
                             for i, n in enumerate(names)}}


def fmt_ci(ci: Sequence[float] | None, digits: int = 3) -> str:
    """``[lo, hi]`` as text (``n/a`` without an interval)."""
    return "n/a" if ci is None else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def fmt_diff(diff: dict | None, digits: int = 3) -> str:
    """``+0.012 [-0.030, 0.051]`` (``-`` without a comparison)."""
    if diff is None:
        return "-"
    return f"{diff['mean']:+.{digits}f} {fmt_ci(diff['ci95'], digits)}"


__all__ = ["RESAMPLES", "SEED", "ALPHA", "VERDICTS", "Scores", "bootstrap", "interval", "sign_flip_p",
           "label_permutation_p", "compare", "decide", "sequence_weights", "row_uncertainty", "apply",
           "attach_seed_runs", "seed_spread", "compare_scores", "fmt_ci", "fmt_diff"]
