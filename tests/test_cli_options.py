"""The tracker options of ``hqtrack track`` / ``hqtrack vot`` read their choices from the registries (memory policies,
refiners, precisions), become one InferenceConfig (the model card filling what they leave open), ``hqtrack
--help`` lists the commands without importing them, and a command's ``--help`` or usage error loads no torch (the
parsers list the registries' names from a light module, equal to the registries)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hqtrack_core.ablation.rows import ROW_NAMES
from hqtrack_core.cli import COMMANDS, build_parser, command_of, main
from hqtrack_core.commands.parsers import choices
from hqtrack_core.commands.parsers.choices import CLI_PRECISIONS
from hqtrack_core.commands.tracker_options import tracker_config
from hqtrack_core.inference.memory import MEMORY_PRESETS
from hqtrack_core.precision import PRECISIONS
from hqtrack_core.refine.build import REFINER_KINDS
from hqtrack_core.training.config import PRESETS as TRAIN_PRESETS

REPO = Path(__file__).resolve().parents[1]


def _choices(command: list[str]) -> dict[str, tuple]:
    parser = build_parser(command[0])
    sub = parser._subparsers._group_actions[0].choices[command[0]]
    for word in command[1:]:
        sub = sub._subparsers._group_actions[0].choices[word]
    return {a.dest: tuple(a.choices) for a in sub._actions if a.choices and a.option_strings}


@pytest.mark.parametrize("command", [["track"], ["vot", "run"], ["vot", "workspace"]])
def test_option_choices_are_the_registries(command):
    choices = _choices(command)
    assert choices["memory"] == tuple(MEMORY_PRESETS)
    assert choices["refiner"] == REFINER_KINDS
    assert choices["precision"] == CLI_PRECISIONS and set(CLI_PRECISIONS) == set(PRECISIONS) - {"fp16"}


def test_an_unknown_memory_policy_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["track", str(tmp_path), "--mask", "m.png", "--out", str(tmp_path / "o"), "--memory", "banana"])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1
    assert err.startswith("hqtrack track: error: argument --memory: invalid choice: 'banana'") and "released" in err


def test_options_become_one_config_and_the_card_fills_the_rest():
    args = build_parser("track").parse_args(["track", "in", "--mask", "m.png", "--out", "o", "--checkpoint", "none",
                                             "--model", "deaot_t", "--memory", "paper", "--no-flip",
                                             "--refiner", "classical", "--refiner-threshold", "0.3"])
    config = tracker_config(args)
    assert (config.model, config.checkpoint, config.memory, config.flip, config.refiner, config.threshold) == (
        "deaot_t", "none", "paper", False, "classical", 0.3)
    assert config.chosen_by_card == {"short_edge", "precision"}  # left open: no card, the defaults
    assert (config.short_edge, config.precision, config.device) == (None, "auto", "auto")


def test_help_lists_every_command_without_importing_them():
    assert command_of(["--debug", "track", "x"]) == "track" and command_of(["--help"]) == ""
    code = ("import sys; from hqtrack_core.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('hqtrack_core.commands.', 'torch'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO).stdout  # (this checkout's hqtrack_core)
    for name in COMMANDS:
        assert f"    {name} " in out
    assert out.strip().splitlines()[-1] == "['hqtrack_core.commands.errors']"  # no command module, no torch


def test_the_parsers_names_are_the_registries():
    """The light names the parsers list (no torch) equal the registries' names, in order; a registry that gains a name
    fails here until hqtrack_core/commands/parsers/choices.py has it too."""
    assert choices.MEMORY_POLICIES == tuple(MEMORY_PRESETS)
    assert choices.REFINERS == REFINER_KINDS
    assert choices.PRECISIONS == PRECISIONS
    assert choices.ABLATION_ROWS == ROW_NAMES
    assert choices.TRAIN_PRESETS == tuple(TRAIN_PRESETS)
    ablate = build_parser("ablate")._subparsers._group_actions[0].choices["ablate"]
    assert next(a.choices for a in ablate._actions if a.dest == "row") == ROW_NAMES
    train = build_parser("train")._subparsers._group_actions[0].choices["train"]
    assert next(a.choices for a in train._actions if a.dest == "precision") == PRECISIONS


@pytest.mark.parametrize("argv", [[name, "--help"] for name in COMMANDS] + [
    ["vot", "run", "--help"], ["vot", "workspace", "--help"],
    ["track", "in", "--mask", "m.png", "--out", "o", "--precision", "bogus"],  # a usage error
    ["track", "in", "--box", "1,2,3", "--out", "o"],  # a bad --box (parsed by a type function)
    ["vot", "run", "--memory", "banana"]])
def test_help_and_usage_errors_load_no_torch(argv):
    """``hqtrack track --help`` (any command's) and a usage error import the command's parser alone: no torch, no
    network code (seconds), only what argparse needs."""
    code = ("import sys; from hqtrack_core.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit as stop:\n    print('exit', stop.code)\n"
            "print('torch' in sys.modules, sorted(m for m in sys.modules if m.startswith('hqtrack_core.commands.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    *_, exit_line, modules_line = done.stdout.strip().splitlines()
    assert exit_line == ("exit 0" if "--help" in argv else "exit 2")
    assert modules_line.startswith("False "), f"{argv} imported torch; hqtrack_core.commands.* imported: {modules_line}"
    assert f"'hqtrack_core.commands.{argv[0]}'" not in modules_line  # the command's work is not imported
    assert f"'hqtrack_core.commands.parsers.{argv[0]}'" in modules_line
