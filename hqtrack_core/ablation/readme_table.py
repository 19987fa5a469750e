"""The README's ablation table, printed from the committed rows ``figures/ablations/ROW.json`` (never typed by hand).

``python -m hqtrack_core.ablation.readme_table`` prints it; ``--write README.md`` puts it between the markers
``<!-- ablation:rows -->`` and ``<!-- /ablation:rows -->`` (``tests/test_ablation_readme_table.py`` fails when the
README and the rows disagree). One line per row: what it ran on, n, the verdict by J&F, and each rival's difference
to the paper's choice with its 95% interval (marked when detected).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from ..readme_markers import main as readme_main
from ..readme_markers import replace_section, section
from .report import comparisons, load_all
from .stats import fmt_diff

SECTION = "ablation:rows"


def data_text(result: dict) -> str:
    """What a row ran on, in a few words: ``10 long clips``, ``10 composites``, ``4 DAVIS sequences`` ..."""
    clips = result["clips"]
    source = clips[0].get("source", {}) if clips else {}
    kind = ("long clip" if source.get("events") else "composite" if "foregrounds" in source else
            "ping-pong clip" if source.get("pingpong_factor") else "DAVIS sequence")
    text = f"{len(clips)} {kind}{'' if len(clips) == 1 else 's'}"
    if result["settings"].get("refiner_faults"):
        text += f", refiner faults `{result['settings']['refiner_faults']}`"
    return text


def _differences(result: dict) -> str:
    by_name = {v["name"]: v for v in result["variants"]}
    choice = by_name.get(result["expected_best"], {})
    if choice.get("status") != "run":
        return f"none: the paper's choice `{result['expected_best']}` {choice.get('status', 'is absent')}"
    parts = []
    for c in comparisons(result):
        if c["rival"] == "-":
            continue
        if c["diff"] is None:
            status = by_name.get(c["rival"], {}).get("status", "absent")
            parts.append(f"`{c['rival']}`: {status.split(' (')[0]}")
        else:
            parts.append(f"`{c['rival']}` {fmt_diff(c['diff'])}{' **detected**' if c['diff']['detected'] else ''}")
    return "; ".join(parts) or "-"


def readme_table(results: Sequence[dict]) -> str:
    """Markdown: one line per committed row."""
    lines = ["| row | data | n: sequences / frames / objects / seeds | verdict (J&F) | rival minus the paper's choice "
             "(J&F, 95% CI) |", "| --- | --- | --- | --- | --- |"]
    for r in sorted(results, key=lambda r: r["number"]):
        n = r["n"]
        lines.append(f"| {r['number']}, {r['row']} (paper's choice `{r['expected_best']}`) | {data_text(r)} | "
                     f"{n['sequences']} / {n['frames']} / {n['objects']} / {n['seeds']} | {r['verdict']} | "
                     f"{_differences(r)} |")
    return "\n".join(lines) + "\n"


def readme_section(text: str) -> str:
    """The text between the markers of a README (``ValueError`` without them)."""
    return section(text, SECTION)


def write_readme(path: Path, results: Sequence[dict]) -> None:
    replace_section(path, SECTION, readme_table(results))


def main(argv: list[str] | None = None) -> int:
    return readme_main(argv, "python -m hqtrack_core.ablation.readme_table", __doc__.splitlines()[0], SECTION,
                       lambda: readme_table(load_all()))


if __name__ == "__main__":
    sys.exit(main())
