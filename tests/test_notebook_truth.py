"""Every number stated in a notebook's markdown is backed by what the notebook computed (issue 31).

The rule (``unbacked_numbers``), per notebook:

1. **Claims.** In every markdown cell, a *claim* is a decimal number token: ``\\d+(\\.\\d+)?`` not glued to a letter,
   digit, underscore or dot on its left nor to a letter, digit or underscore on its right, except the unit suffixes
   ``p px k x M MB MiB GB ms s h fps nd st rd th`` (so ``240p``, ``1.5 MB``, ``4x``, ``2nd`` are claims; ``x16``,
   ``v2``, ``s8``, ``hqtrack_teach_v2``, ``00005.png``, ``MobileNetV2`` are names, not claims). A leading minus or
   ``±`` is kept out of the token (``−1``, ``±20`` claim ``1``, ``20``).
2. **Not claims** (removed before step 1): LaTeX math (``$...$``, ``$$...$$``: the equations' constants and indices
   are notation); link targets ``](...)`` and bare URLs; arXiv identifiers (``2307.13974``); years 1990-2030 (of
   citations and dataset names: ``DAVIS-2016``, ``CVPR 2016``); a heading's section number (``## 2 ·``, ``# 07 ·``)
   and an ordered list's item number (``1. ``); notebook numbers (``notebook 03``, ``notebooks 04 and 08``); the
   scales' names ``1/4 1/8 1/16 1/32`` (a feature map's stride, not a measurement); ``16-bit``/``32-bit`` (number
   formats); in a cell headed ``## Exercises``, inline code that assigns (`` `short_edge = 120` ``: a change to try,
   not a claim about what ran); and the tokens of the explicit allow-list ``NON_CLAIMS`` below
   (each with its reason: a paper's figure quoted with its citation, a name that carries a number, a size of the
   network fixed by its architecture and printed nowhere ...).
3. **Backed.** A claim is backed when its value appears as a number in the same notebook's *evidence*: the text of
   its code cells' outputs (streams, ``text/plain`` and ``text/markdown`` results, except an object's repr such as
   ``<Figure size 1500x640 with 6 Axes>``), or a line of a code
   cell that contains ``assert``. Values compare as numbers (``0.10`` backs ``0.1``); a claim written with ``d``
   decimals is also backed by a number with more decimals that rounds to it (``0.928`` backs ``0.93``; the
   reverse does not hold). Numbers rendered by a code cell (``IPython.display.Markdown``) are outputs, so a
   sentence built from variables is backed by construction.

The test fails listing each unbacked claim with its cell and context. A planted false count in a copy of a
notebook must make it fail (``test_a_planted_false_count_fails``). Every notebook 00-15 is checked.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

UNITS = r"(?:p|px|k|x|M|MB|MiB|GB|ms|s|h|fps|nd|st|rd|th)"
NUMBER = re.compile(rf"(?<![A-Za-z0-9_.])(\d+(?:\.\d+)?)(?={UNITS}?(?![A-Za-z0-9_]))")
ANY_NUMBER = re.compile(r"(?<![0-9.])\d+(?:\.\d+)?")
STRIP = [
    re.compile(r"\$\$.*?\$\$", re.S),  # display maths
    re.compile(r"(?<!\\)\$[^$\n]+?(?<!\\)\$"),  # inline maths
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"<https?://[^>]*>|https?://\S+"),  # bare URLs
    re.compile(r"(?i)(?:arxiv[: ]*)?\b\d{4}\.\d{4,5}(?:v\d+)?\b"),  # arXiv identifiers
    re.compile(r"(?<!\d)(?:199\d|20[0-2]\d|2030)(?!\d)"),  # years
    re.compile(r"(?m)^#+\s*\d+\s*·"),  # section numbers
    re.compile(r"(?m)^\s*\d+\.\s"),  # ordered list items
    re.compile(r"(?i)\bnotebooks?\s+`?\d\d(?:`?\s*(?:,|and|or|to|-|–)\s*`?\d\d)*"),  # notebook numbers
    re.compile(r"(?<![\d.])1/(?:4|8|16|32)(?![\d])"),  # the scales' names (feature-map strides)
    re.compile(r"\b(?:16|32)-bit\b"),  # number formats' names
]
EXERCISE_ASSIGNMENT = re.compile(r"`[^`\n]*=[^`\n]*`")  # in an Exercises cell: a change to try, not a claim

# Explicit non-claims, per notebook ("*": every notebook): token -> why it is not a claim that an output must back.
NON_CLAIMS: dict[str, dict[str, str]] = {
    "*": {
        "16k+1": "the snapping rule's name (sizes 16k+1), explained by an equation",
        "SAM 2": "a model's name",
        "Lecture 1": "",
    },
    "02": {
        "+3.9": "the paper's figure, quoted with its citation (HQTrack, arXiv 2307.13974, Table 2)",
        "0.611": "the paper's figure, quoted with its citation (HQTrack, arXiv 2307.13974, Table 2)",
        "0.650": "the paper's figure, quoted with its citation (HQTrack, arXiv 2307.13974, Table 2)",
    },
    "05": {
        "0.615": "the paper's figure, quoted with its citation (HQTrack, arXiv 2307.13974: VOTS2023 test quality)",
        "0.9.0": "vot-toolkit's version",
    },
}


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def evidence_numbers(nb: dict) -> list[str]:
    """Number strings of the notebook's code outputs and of its code lines that hold an ``assert``."""
    texts = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        texts += [line for line in _text(cell["source"]).splitlines() if "assert" in line]
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                texts.append(_text(out.get("text", "")))
            elif out.get("output_type") in ("execute_result", "display_data"):
                data = out.get("data", {})
                texts += [_text(data[k]) for k in ("text/plain", "text/markdown") if k in data
                          and not _text(data[k]).startswith("<")]  # not an object's repr (<Figure size 640x480 ...>)
    return ANY_NUMBER.findall("\n".join(texts))


def _backed(claim: str, evidence: list[str]) -> bool:
    value = float(claim)
    decimals = len(claim.split(".")[1]) if "." in claim else 0
    for text in evidence:
        have = len(text.split(".")[1]) if "." in text else 0
        if float(text) == value or (have > decimals and round(float(text), decimals) == value):
            return True
    return False


def claims_of(markdown: str, allowed: dict[str, str]) -> list[tuple[str, str]]:
    """(number, context) for every claim of one markdown cell (rule steps 1-2)."""
    text = markdown
    for token in sorted(allowed, key=len, reverse=True):
        text = text.replace(token, " ")
    if text.lstrip().startswith("## Exercises"):
        text = EXERCISE_ASSIGNMENT.sub(" ", text)
    for pattern in STRIP:
        text = pattern.sub(" ", text)
    return [(m.group(1), text[max(0, m.start() - 40): m.end() + 20].replace("\n", " ")) for m in NUMBER.finditer(text)]


def unbacked_numbers(nb: dict, key: str) -> list[str]:
    """Every markdown claim of the notebook that no output or assertion backs, as 'cell N: number in "context"'."""
    allowed = {**NON_CLAIMS["*"], **NON_CLAIMS.get(key, {})}
    evidence = evidence_numbers(nb)
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for claim, context in claims_of(_text(cell["source"]), allowed):
            if not _backed(claim, evidence):
                problems.append(f"cell {index}: {claim} in \"...{context}...\"")
    return problems


def _params():
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        yield pytest.param(path, id=path.stem)


@pytest.mark.parametrize("path", _params())
def test_every_stated_number_is_backed(path):
    problems = unbacked_numbers(json.loads(path.read_text()), path.name[:2])
    assert not problems, f"{path.name}: numbers in markdown that no output or assertion backs:\n" + "\n".join(problems)


def test_a_planted_false_count_fails():
    """A false count planted in a copy of notebook 00 is caught; the same count backed by an assertion is not."""
    nb = json.loads((NOTEBOOKS / "00_quickstart.ipynb").read_text())
    assert unbacked_numbers(nb, "00") == []
    planted = copy.deepcopy(nb)
    planted["cells"].insert(1, {"cell_type": "markdown", "metadata": {}, "source": [
        "The teaching model was trained on the 9137 train sequences of DAVIS-2016 (see arXiv 2307.13974)."]})
    problems = unbacked_numbers(planted, "00")
    assert len(problems) == 1 and "9137" in problems[0], problems
    backed = copy.deepcopy(planted)
    backed["cells"].insert(2, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                               "source": ["assert len(train_sequences) == 9137"]})
    assert unbacked_numbers(backed, "00") == []


def test_the_rule_on_small_cases():
    """Rounding backs in one direction only; names, maths, links, years and list numbers are not claims."""
    nb = {"cells": [
        {"cell_type": "code", "source": "print(0.928, 24)", "outputs": [{"output_type": "stream", "text": "0.928 24\n"}]},
        {"cell_type": "markdown", "source": "J 0.93 on 24 videos; `hqtrack_teach_v2` at x16, $W \\in R^{256}$, "
                                            "[AOT](https://arxiv.org/abs/2106.02638) (NeurIPS 2021)\n1. first"},
    ]}
    assert unbacked_numbers(nb, "zz") == []
    nb["cells"][1]["source"] = "J 0.9281 on 30 videos at 240p"
    assert [p.split(":")[1].split(" in")[0].strip() for p in unbacked_numbers(nb, "zz")] == ["0.9281", "30", "240"]
