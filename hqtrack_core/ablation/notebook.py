"""The sentences notebooks 09-15 state about a committed ablation row, rendered from its JSON (never typed by hand):
what ran (clips, frames, objects, seeds, checkpoint name and hash, precision), the verdict with its intervals, the
per-sequence comparison of two variants, and the live slice's description. A notebook shows them with
``display(Markdown(...))``; every number in them is the row's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import stats
from .report import n_text, recovery
from .stats import ALPHA, fmt_ci


def _fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}"


def clips_md(result: dict) -> str:
    """``4 clips (`blackswan`, ...), 12 frames each`` or ``... of 40 to 100 frames, 270 in all``."""
    clips = result["clips"]
    names = ", ".join(f"`{c['name']}`" for c in clips)
    frames = [c["frames"] for c in clips]
    what = f"{len(clips)} clip{'' if len(clips) == 1 else 's'} ({names})"
    if len(set(frames)) == 1:
        return f"{what}, {frames[0]} frames{' each' if len(clips) > 1 else ''}"
    return f"{what} of {min(frames)} to {max(frames)} frames, {sum(frames)} in all"


def checkpoints_md(result: dict) -> str:
    """Each network the row ran: file name and the first 12 hex digits of its sha256 (random weights say so)."""
    parts = []
    for key, ck in result["settings"]["checkpoints"].items():
        name = Path(ck["path"]).name if ck.get("path") else ck.get("description", "random weights")
        sha = f" (sha256 `{ck['sha256'][:12]}…`)" if ck.get("sha256") else ""
        parts.append(f"{'' if key == 'vmos' else f'{key}: '}`{name}`{sha}")
    return "; ".join(parts)


def claim_md(result: dict) -> str:
    """The row's claim, the paper's figures, the paper's choice and the variants the claim ranks it against."""
    rivals = result.get("uncertainty", {}).get("rivals", [])
    others = [v["name"] for v in result["variants"] if v["name"] not in rivals and v["name"] != result["expected_best"]]
    text = (f"**Claim** (row {result['number']}): {result['claim']}. Paper: {result['paper_note']}. "
            f"The paper's choice here: `{result['expected_best']}`; the claim ranks it against "
            f"{', '.join(f'`{r}`' for r in rivals) or 'nothing that ran'}")
    return text + (f"; shown for reference only: {', '.join(f'`{o}`' for o in others)}." if others else ".")


def committed_md(result: dict, notebook: str) -> str:
    """The header of a row's notebook: what the committed row ran."""
    s = result["settings"]
    return (f"**Notebook {notebook}, row {result['number']} ({result['row']}, {result['scale']} scale).** "
            f"Committed run: {clips_md(result)}; {n_text(result)}. Networks: {checkpoints_md(result)}. "
            f"Network short edge {s['network_short_edge']}, precision {s['precision_resolved']}, "
            f"{s.get('torch_threads')} torch thread(s); computed {result['created'][:10]}.")


def verdict_md(result: dict) -> str:
    """The verdict, why, and each rival's difference to the paper's choice with its interval and p-value; what the
    sample size allows (the smallest p an exact test can reach)."""
    n = result["n"]
    choice = result.get("expected_best")
    lines = [f"**Verdict: {result['verdict']}** (J&F; {result['verdict_reason']}). By Q: **{result['verdict_Q']}**."]
    by_name = {v["name"]: v for v in result["variants"]}
    for rival in result.get("uncertainty", {}).get("rivals", []):
        v = by_name.get(rival, {})
        d, q = v.get("diff_vs_paper"), v.get("diff_vs_paper_Q")
        if d is None:
            if v.get("status") == "run":
                lines.append(f"- `{rival}`: J&F {_fmt(v['JF'])}, 95% CI {fmt_ci(v.get('jf_ci95'))} (no difference: "
                             f"`{choice}` did not run)")
            else:
                lines.append(f"- `{rival}`: {v.get('status', 'absent')}")
            continue
        p = "no test: one sequence" if d["p"] is None else f"p = {d['p']:.3g}"
        lines.append(f"- `{rival}` minus `{choice}`: J&F {d['mean']:+.3f}, 95% CI {fmt_ci(d['ci95'])} ({p}); "
                     f"Q {q['mean']:+.3f}, 95% CI {fmt_ci(q['ci95'])}")
    if n["seeds"] <= 1 and n["sequences"] > 1:
        floor = 2 / 2 ** n["sequences"]
        lines.append(f"\nWith {n['sequences']} sequences and one training run per variant, the smallest p the exact "
                     f"sign-flip test can give is {floor:.3g}"
                     + (f": no difference can be detected at the {ALPHA} level, however large." if floor >= ALPHA
                        else "."))
    elif n["sequences"] == 1:
        lines.append("\nOne clip: there is no spread to estimate an interval from; the differences above are "
                     "single measurements.")
    return "\n".join(lines)


def pairwise_md(result: dict, a: str, b: str, key: str = "JF") -> str:
    """Per sequence, ``a`` minus ``b`` (``key``), and on how many sequences ``a`` scores higher."""
    va = next(v for v in result["variants"] if v["name"] == a)
    vb = next(v for v in result["variants"] if v["name"] == b)
    diffs = {name: va["sequences"][name][key] - vb["sequences"][name][key] for name in va["sequences"]}
    wins = sum(d > 0 for d in diffs.values())
    listed = ", ".join(f"`{name}` {d:+.3f}" for name, d in diffs.items())
    label = key.replace("JF", "J&F")
    names = list(diffs)
    pair = [stats.Scores(v["name"], np.array([[v["sequences"][n][key] for n in names]])) for v in (va, vb)]
    weights = np.ones(len(names))
    d = stats.compare(pair[0], pair[1], stats.bootstrap(pair, weights), weights) if len(names) > 1 else None
    spread = ("" if d is None else f" Paired difference {d['mean']:+.3f}, 95% CI {fmt_ci(d['ci95'])} (sign-flip p = "
              f"{d['p']:.3g}): {'detected' if d['detected'] else 'no detectable difference'} at this scale.")
    return (f"Per sequence, {label} of `{a}` minus `{b}`: {listed}. `{a}` is higher on {wins} of {len(diffs)} "
            f"sequences (means {_fmt(va[key])} against {_fmt(vb[key])}).{spread}")


def recovery_md(result: dict, after: int = 20) -> str:
    """After each return of the target (long clips): each variant's mean J over the ``after`` frames from the
    return minus the paper's choice's, with its interval and sign-flip p; which of the claim's rivals differ
    detectably, by the rule of the row's verdict (interval excludes 0 and p below 0.05 over the number of rivals)."""
    rec = recovery(result, after)
    if not rec:
        return "The committed row did not run on long clips: there are no returns to look at."
    choice = result["expected_best"]
    rivals = [r for r in result.get("uncertainty", {}).get("rivals", []) if r in rec]
    parts = []
    for name, r in rec.items():
        d = r.get("after_return_vs_paper")
        if d is None:
            continue
        p = "" if d["p"] is None else f", p = {d['p']:.3g}"
        parts.append(f"`{name}`{'' if name in rivals else ' (reference)'} {d['mean']:+.3f}, 95% CI "
                     f"{fmt_ci(d['ci95'])}{p}")
    level = stats.rival_level(len(rivals))
    found = [(n, rec[n]["after_return_vs_paper"]) for n in rivals]
    found = [(n, d) for n, d in found if stats.direction(d, level)]
    first = next(iter(rec.values()))
    rule = f"interval excludes 0 and p < {level:.3g}: {ALPHA} over the claim's {len(rivals)} rivals"
    close = ("Detected (" + rule + "): " + ", ".join(
        f"`{n}` {'above' if d['mean'] > 0 else 'below'} `{choice}`" for n, d in found) + "." if found else
        f"None of the claim's rivals differs detectably from `{choice}` after a return ({rule}).")
    return (f"Mean J over the {after} frames from each return ({first['returns']} returns on {first['clips']} "
            f"clips), minus `{choice}`: " + "; ".join(parts) + f". {close}")


def live_md(result: dict, variants: list[str], clip: str, frames: int, tolerance: float = 0.02) -> str:
    """What a notebook's live slice recomputes and the tolerance it checks."""
    names = ", ".join(f"`{v}`" for v in variants)
    return (f"The first {frames} frames of `{clip}`, variant{'s' if len(variants) > 1 else ''} {names}, recomputed "
            f"now with the row's stored settings and threads (tracking is causal: they must match the committed run's "
            f"first frames). The slice runs in the precision `auto` picks on this CPU (bf16 only where the CPU has a "
            f"bf16 instruction, else fp32); the committed row ran in {result['settings']['precision_resolved']}. "
            f"Precision and CPU kind move a few boundary pixels, so the check allows a per-frame J difference of "
            f"{tolerance}.")


__all__ = ["n_text", "clips_md", "checkpoints_md", "claim_md", "committed_md", "verdict_md", "pairwise_md", "recovery_md", "live_md"]
