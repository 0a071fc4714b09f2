"""--help of every command reads like click's plain help: TEXT, PATH, INTEGER RANGE, [a|b], no metavar on a flag,
option help wrapped beside the options, examples kept whole, all within 80 columns."""

from __future__ import annotations

import re

import pytest
import typer.main
from typer.testing import CliRunner

from reviewrnn.cli import app

# What typer writes for a type left to itself: <str>, <path>, <int range>, <a|b> (0.28); <bool>, <list[Path]> (0.29).
TYPER_METAVAR = re.compile(r"<(?:bool|boolean|str|int|float|path|Path|list\[[^>]*\]|\w+ range|[\w.-]+(?:\|[\w.-]+)+)>")


def command_paths(command=None, path=()) -> list[tuple[str, ...]]:
    """Every command and group of the app, as the words that reach it: (), ("train",), ("probe", "filler")..."""
    command = command or typer.main.get_command(app)
    paths = [path]
    for name, sub in getattr(command, "commands", {}).items():
        paths += command_paths(sub, (*path, name))
    return paths


def help_of(*words: str) -> str:
    result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_every_command_and_group_is_reached():
    assert len(command_paths()) == 1 + 11 + 2  # the app, its 11 commands, probe's 2


@pytest.mark.parametrize("path", command_paths(), ids=lambda path: " ".join(path) or "reviewrnn")
def test_help_shows_click_type_names_and_no_metavar_on_flags(path):
    text = help_of(*path)
    assert not TYPER_METAVAR.search(text), TYPER_METAVAR.search(text)
    assert re.search(r"-h, --help\s+Show this message", text)  # a flag: nothing between its names and help


def test_help_type_names():
    predict_help = help_of("predict")
    assert "-f, --file PATH " in predict_help and re.search(r"^  TEXTS\.\.\.\s+Reviews", predict_help, re.M)
    assert "--format [tsv|jsonl|csv] " in predict_help
    train_help = help_of("train")
    assert "--epochs INTEGER RANGE " in train_help and "--dropout FLOAT RANGE " in train_help
    assert re.search(r"--bidirectional / --no-bidirectional\s+Also read", train_help)
    assert re.search(r"^  MODEL\.\.\.\s+A model directory", help_of("evaluate"), re.M)  # its own metavar


def test_usage_lines_and_errors_name_arguments_as_click_does():
    """Arguments as click names them: upper case; `[X]` when optional in usage lines, bare when required."""
    assert "Usage: reviewrnn predict [OPTIONS] [TEXTS]..." in help_of("predict")
    assert "Usage: reviewrnn evaluate [OPTIONS] MODEL..." in help_of("evaluate")
    assert "Usage: reviewrnn compare [OPTIONS] MODELS..." in help_of("compare")
    result = CliRunner().invoke(app, ["compare"])
    assert result.exit_code == 2 and "Missing argument 'MODELS'" in result.stderr


@pytest.mark.parametrize("path", command_paths(), ids=lambda path: " ".join(path) or "reviewrnn")
def test_help_fits_an_80_column_terminal(path, monkeypatch):
    """click's plain layout: option help wraps at the width; examples are kept whole and must fit."""
    monkeypatch.setenv("COLUMNS", "80")
    long = [line for line in help_of(*path).splitlines() if len(line) > 80]
    assert not long, long


@pytest.mark.parametrize("group", [(), ("probe",)], ids=["reviewrnn", "probe"])
def test_command_lists_give_whole_first_sentences(group, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    listed = help_of(*group).split("\nCommands:\n")[1]
    assert "..." not in listed and listed.count(".") >= 2, listed


def test_preset_help_gives_each_presets_settings():
    from reviewrnn.presets import PRESETS, setting_words

    text = " ".join(help_of("train").split())
    for name, values in PRESETS.items():
        assert f"{name}: " + ", ".join(setting_words(key, value) for key, value in values.items()) in text
    assert "classic: cell lstm, bidirectional no, pool last" in text and "False" not in text
