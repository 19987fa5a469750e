"""The tracker options of ``hqtrack track`` / ``hqtrack vot`` read their choices from the registries (memory policies,
refiners, precisions), become one InferenceConfig (the model card filling what they leave open), and ``hqtrack
--help`` lists the commands without importing them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hqtrack_core.cli import COMMANDS, build_parser, command_of, main
from hqtrack_core.commands.tracker_options import CLI_PRECISIONS, tracker_config
from hqtrack_core.inference.memory import MEMORY_PRESETS
from hqtrack_core.precision import PRECISIONS
from hqtrack_core.refine.build import REFINER_KINDS


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
                         cwd=Path(__file__).resolve().parents[1]).stdout  # (this checkout's hqtrack_core)
    for name in COMMANDS:
        assert f"    {name} " in out
    assert out.strip().splitlines()[-1] == "['hqtrack_core.commands.errors']"  # no command module, no torch
