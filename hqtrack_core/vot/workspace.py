"""The files of a VOT toolkit workspace (vot-toolkit 0.9.0 layout) that runs hqtrack over TraX.

    DIR/config.yaml          registry ./trackers.ini, the stack, the sequences folder
    DIR/trackers.ini         one entry per configuration: ``protocol = trax``, ``command = python -m hqtrack_core.cli
                             vot run OPTIONS``, a ``timeout`` for model loading and slow frames
    DIR/stack.yaml           only with local sequences: the toolkit stack's experiments, no dataset URL (nothing is
                             downloaded), and the VOTS analyses (quality, quality plot, A/R, auxiliary) where the
                             stack has none, so that ``vot analysis`` scores them
    DIR/sequences/list.txt   only with local sequences: their absolute paths (the toolkit takes a sequence named
                             after its folder from an absolute path; the local folder itself is never written)

Without local sequences the workspace names the toolkit's own stack (e.g. ``vots2023``) and the toolkit downloads
its dataset into ``DIR/sequences`` on the first ``vot evaluate``, as in HQTrack's ``VOTS23_workspace``.
"""

from __future__ import annotations

import os
import re
import shlex
import site
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..atomic import atomic_dir, write_bytes_atomic
from ..data.vots import list_vots_sequences

# The VOTS analyses (vot-toolkit's names and settings, as its VOTS stacks with ground truth list them).
VOTS_ANALYSES: tuple[dict, ...] = (
    {"type": "average_accuracy", "name": "Quality", "burnin": 0, "ignore_unknown": False, "weighted": False},
    {"type": "average_success_plot", "name": "Quality plot", "burnin": 0, "ignore_unknown": False},
    {"type": "longterm_ar", "name": "AR"},
    {"type": "average_quality_auxiliary", "name": "Auxiliary"},
)
IDENTIFIER = re.compile(r"^[A-Za-z0-9_-]+$")  # the toolkit's tracker identifiers
DEFAULT_TIMEOUT = 600  # seconds the toolkit waits for one reply (the first one includes loading the networks)


@dataclass(frozen=True)
class TrackerEntry:
    """One ``trackers.ini`` section: identifier, the ``hqtrack vot run`` options, a human label."""

    identifier: str
    options: tuple[str, ...]
    label: str


def _vot():
    try:
        import vot.stack
    except ImportError as err:
        raise ValueError(f"vot-toolkit is not installed ({err}): pip install vot-toolkit==0.9.0 (the dev extra)") from None
    return vot


def toolkit_stack(name: str) -> dict:
    """The toolkit's stack ``name`` (e.g. ``vots2023``, ``vots2025/main``) as a dict; it must be a multi-object
    (VOTS) stack. ValueError naming the VOTS stacks the toolkit has otherwise."""
    vot = _vot()
    stacks = vot.stack.list_integrated_stacks()

    def multiobject(data) -> bool:
        experiments = (data or {}).get("experiments") or {}
        return bool(experiments) and all(str(e.get("multiobject", "")).lower() == "true" for e in experiments.values())

    path = vot.stack.resolve_stack(name) if name in stacks else None
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) if path else None
    if not multiobject(data):
        choices = sorted(k for k in stacks
                         if multiobject(yaml.safe_load(Path(vot.stack.resolve_stack(k)).read_text(encoding="utf-8"))))
        what = "not a stack of vot-toolkit" if data is None else "not a multi-object (VOTS) stack"
        raise ValueError(f"--stack {name}: {what}; choose one of {', '.join(choices)}")
    return data


def local_stack(stack: Mapping) -> dict:
    """``stack`` for local sequences: no dataset URL (nothing to download) and the VOTS analyses in every
    experiment that lists none."""
    experiments = {}
    for key, experiment in stack["experiments"].items():
        experiment = dict(experiment)
        if not experiment.get("analyses"):
            experiment["analyses"] = [dict(a) for a in VOTS_ANALYSES]
        experiments[key] = experiment
    return {"title": f"{stack.get('title', 'VOTS')} (local sequences)", "experiments": experiments}


def sequence_list(sequences: str | os.PathLike) -> str:
    """``list.txt`` naming the sequences of a local VOTS folder by absolute path (its own ``list.txt`` order when it
    has one, else every sub-folder with a ``sequence`` file, sorted)."""
    root = Path(sequences).resolve()
    names = list_vots_sequences(root)
    missing = [n for n in names if not (root / n / "sequence").is_file()]
    if missing:
        raise ValueError(f"--sequences {sequences}: {len(missing)} listed sequence(s) have no 'sequence' file "
                         f"(e.g. {root / missing[0]}): give a folder of VOTS-format sequences")
    bad = [n for n in names if "\n" in n or n != n.strip()]
    if bad:
        raise ValueError(f"--sequences {sequences}: sequence name {bad[0]!r} has spaces at its ends or a line break")
    return "".join(f"{root / n}\n" for n in names)


def tracker_command(options: Sequence[str], python: str | None = None) -> str:
    """The shell-quoted command the toolkit runs (it splits it with ``shlex``)."""
    return shlex.join([python or sys.executable, "-m", "hqtrack_core.cli", "vot", "run", *options])


def package_root() -> Path | None:
    """The folder holding ``hqtrack_core`` when it is a checkout (not installed in site-packages), else None."""
    root = Path(__file__).resolve().parents[2]
    installed = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    return None if root in installed else root


def trackers_ini(entries: Sequence[TrackerEntry], timeout: int = DEFAULT_TIMEOUT, python: str | None = None) -> str:
    """``trackers.ini`` text: one ``protocol = trax`` section per entry (``%`` escaped for configparser)."""
    root = package_root()
    lines = ["# Written by `hqtrack vot workspace`; one section per configuration. The toolkit starts the command",
             "# once per sequence (in a temporary folder: paths are absolute) and waits `timeout` s for each reply.",
             ""]
    for entry in entries:
        if not IDENTIFIER.match(entry.identifier):
            raise ValueError(f"tracker name {entry.identifier!r}: use letters, digits, '_' and '-' only")
        values = {"label": entry.label, "protocol": "trax", "command": tracker_command(entry.options, python),
                  "timeout": str(int(timeout))}
        if root is not None:
            values["env_PYTHONPATH"] = str(root)
        lines.append(f"[{entry.identifier}]")
        for key, value in values.items():
            if "\n" in value or "\r" in value:
                raise ValueError(f"trackers.ini: {key} of {entry.identifier} contains a line break: {value!r}")
            lines.append(f"{key} = {value.replace('%', '%%')}")
        lines.append("")
    return "\n".join(lines)


def workspace_files(entries: Sequence[TrackerEntry], stack: str = "vots2023",
                    sequences: str | os.PathLike | None = None, timeout: int = DEFAULT_TIMEOUT) -> dict[str, str]:
    """``{relative path: text}`` of the workspace (see the module docstring). Checks everything first."""
    data = toolkit_stack(stack)
    files = {"trackers.ini": trackers_ini(entries, timeout)}
    config = {"registry": ["./trackers.ini"], "stack": stack, "sequences": "sequences"}
    if sequences is not None:
        files["sequences/list.txt"] = sequence_list(sequences)
        files["stack.yaml"] = yaml.safe_dump(local_stack(data), sort_keys=False)
        config["stack"] = "stack.yaml"  # (the toolkit resolves it in the workspace folder)
    files["config.yaml"] = yaml.safe_dump(config, sort_keys=False)
    return files


def check_workspace_folder(directory: str | os.PathLike, force: bool) -> list[str]:
    """Refuse a file, or a non-empty folder without ``force``; returns what the folder holds (top level)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} exists and is not a folder: choose a new folder for the workspace")
    held = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    if held and not force:
        raise ValueError(f"{directory} is not empty (it holds {', '.join(held[:4])}{', ...' if len(held) > 4 else ''}): "
                         "choose a new folder, or add --force to replace the workspace files there (config.yaml, "
                         "trackers.ini and, with --sequences, stack.yaml and sequences/list.txt; results are kept)")
    return held


def write_workspace(directory: str | os.PathLike, files: Mapping[str, str], force: bool = False) -> list[Path]:
    """Write ``files`` into ``directory``. A new (or empty) folder appears whole or not at all; with ``force`` each
    file is replaced atomically, ``config.yaml`` last. Returns the paths of files that existed and were replaced."""
    directory = Path(directory)
    held = check_workspace_folder(directory, force)
    order = sorted(files, key=lambda name: name == "config.yaml")  # config.yaml (what makes it a workspace) last
    if not held:
        if directory.is_dir():
            directory.rmdir()  # empty: the staged folder replaces it in one rename
        with atomic_dir(directory) as stage:
            for name in order:
                (stage / name).parent.mkdir(parents=True, exist_ok=True)
                (stage / name).write_text(files[name], encoding="utf-8")
        return []
    replaced = [directory / name for name in order if (directory / name).exists()]
    for name in order:
        write_bytes_atomic(directory / name, files[name].encode("utf-8"))
    return replaced
