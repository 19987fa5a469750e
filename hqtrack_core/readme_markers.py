"""Generated sections of a Markdown file: the text between ``<!-- NAME -->`` and ``<!-- /NAME -->``.

Tables of measurements are printed from the committed data (``bench.tables``: the long-video speed tables of
``figures/README.md`` from ``figures/bench.json``; ``ablation.readme_table``: the README's ablation verdicts from
``figures/ablations/*.json``; ``training.scores_table``: the README's teaching-model scores from
``data/checkpoints/hqtrack_teach_scores.json``) and written between such markers, so a test can check that the text still says what
the data says.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Callable

from .atomic import write_bytes_atomic


def markers(name: str) -> tuple[str, str]:
    """``("<!-- NAME -->", "<!-- /NAME -->")``."""
    return f"<!-- {name} -->", f"<!-- /{name} -->"


def section(text: str, name: str) -> str:
    """The text between the markers ``name`` (one trailing newline); ``ValueError`` without them."""
    begin, end = markers(name)
    if begin not in text or end not in text.split(begin, 1)[1]:
        raise ValueError(f"no {begin} ... {end} markers: add them where the generated text goes")
    return text.split(begin, 1)[1].split(end, 1)[0].strip("\n") + "\n"


def replace_section(path: str | os.PathLike, name: str, body: str) -> None:
    """Write ``body`` between the markers ``name`` of the file ``path`` (atomically; the rest is kept as it is)."""
    path = Path(path)
    text = path.read_text()
    section(text, name)  # the markers are there
    begin, end = markers(name)
    head, rest = text.split(begin, 1)
    write_bytes_atomic(path, f"{head}{begin}\n{body.rstrip(chr(10))}\n{end}{rest.split(end, 1)[1]}".encode())


def main(argv: list[str] | None, prog: str, description: str, name: str, render: Callable[[], str]) -> int:
    """The command line of a generated section: print ``render()``, or with ``--write FILE`` put it between the
    markers ``name`` of ``FILE``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--write", metavar="README", type=Path, default=None,
                        help="replace the text between the markers of this file")
    args = parser.parse_args(argv)
    if args.write is None:
        print(render(), end="")
    else:
        replace_section(args.write, name, render())
    return 0
