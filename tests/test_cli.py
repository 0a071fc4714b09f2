"""The command line: every command through CliRunner, then real subprocess pipelines.

Exit codes: 0 success, 1 a runtime error (one line on stderr, no traceback), 2 a usage error.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.main
from conftest import synthetic_reviews, write_table
from typer._click.exceptions import ClickException
from typer.testing import CliRunner

from reviewrnn import __version__
from reviewrnn.cli import app
from reviewrnn.commands.usage import OneLineErrors, debug_first
from reviewrnn.errors import ReviewRNNError

TINY_TRAIN = ["--epochs", "1", "--hidden", "8", "--embed", "8", "--vocab-size", "100", "--threads", "1"]
TINY_TRAIN += ["--batch-size", "16", "--max-tokens", "32", "--device", "cpu"]


def cli(*args, input=None, code=0):
    result = CliRunner().invoke(app, [str(a) for a in args], input=input)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
    return result


def one_error_line(result, progress: bool = False) -> str:
    """The single `error: ...` line on stderr; with progress=True, progress lines may come before it."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    if progress:
        assert [line for line in lines if line.startswith("error: ")] == lines[-1:], result.stderr
    else:
        assert len(lines) == 1, result.stderr
    assert lines[-1].startswith("error: ")
    return lines[-1]


# --- help, version, usage errors -------------------------------------------------------------------


COMMANDS = [
    "corpus",
    "tokenize",
    "pretrain",
    "train",
    "evaluate",
    "predict",
    "compare",
    "gradients",
    "clipping",
    "study",
    "probe",
]


def test_help_lists_every_command():
    assert sorted(typer.main.get_command(app).commands) == sorted(COMMANDS)  # what the app registered
    commands = cli("--help").stdout.split("\nCommands:\n")[1]
    listed = re.findall(r"^  ([a-z]+)  ", commands, flags=re.MULTILINE)
    assert listed == COMMANDS


def test_no_arguments_shows_help_as_a_usage_error():
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 2 and "Usage:" in result.stdout and "predict" in result.stdout


def test_version():
    assert cli("--version").stdout.strip() == f"reviewrnn {__version__}"


def test_bad_choice_is_a_usage_error(tiny_csv):
    result = cli("train", "--corpus", tiny_csv, "--cell", "transformer", code=2)
    assert "Invalid value" in result.stderr and "transformer" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--epochs", "0"],
        ["train", "--hidden", "many"],
        ["train", "--pool", "sum"],
        ["train", "--preset", "bogus"],
        ["train", "--name", "--debug"],  # a flag where the name should be
        ["pretrain", "--name", "-x"],
        ["pretrain", "--layers", "2"],  # a bidirectional LM of 2 layers would leak: a clash of flags
        ["train", "--name", "../elsewhere"],  # a path: --force there would replace what is outside models/
        ["train", "--out", "--debug"],
        ["evaluate", "somewhere", "--split", "all"],
        ["evaluate", "somewhere", "--edges", "0,10,5"],
        ["predict", "--format", "xml", "text"],
        ["nonsense"],
        ["train", "--epochs"],  # no value: the parser's error, raised before the command has a context
    ],
)
def test_usage_errors_exit_2_with_one_line(args):
    result = cli(*args, code=2)
    command = "reviewrnn" if args == ["nonsense"] else f"reviewrnn {args[0]}"
    assert one_error_line(result).endswith(f"(see `{command} -h`)"), result.stderr
    assert result.stdout == "" and "Usage:" not in result.stderr and "Try '" not in result.stderr


@pytest.mark.parametrize(
    "args,words", [(["--epochs", "two"], "'two' is not a whole number"), (["--lr", "fast"], "'fast' is not a number")]
)
def test_a_value_of_the_wrong_type_is_named_in_plain_words(args, words):
    assert (
        one_error_line(cli("train", *args, code=2))
        == f"error: Invalid value for '{args[0]}': {words} (see `reviewrnn train -h`)"
    )


def test_a_model_directory_given_as_text_is_a_usage_error(trained_model):
    """`predict models/NAME -` (fastText's order) would classify the path as a review: say to use --model."""
    result = cli("predict", trained_model, "-", input="great film\n", code=2)
    line = one_error_line(result)
    assert f"{trained_model} is a model directory; give it with --model {trained_model}" in line
    assert result.stdout == ""


@pytest.mark.parametrize("text", ["great film " * 500])
def test_a_review_that_cannot_be_a_path_is_still_classified(trained_model, text):
    """The model-directory check above must not trip on text no file name could hold."""
    result = cli("predict", "--model", trained_model, text)
    assert len(result.stdout.splitlines()) == 1 and result.stdout.split("\t")[0] in ("negative", "positive")


def test_usage_error_of_a_nested_command_is_one_line():
    result = cli("probe", "bogus", code=2)
    assert one_error_line(result) == "error: No such command 'bogus' (see `reviewrnn probe -h`)"


def test_debug_after_the_command_name_counts_as_before_it():
    result = CliRunner().invoke(app, ["predict", "great film", "--debug"])
    assert result.exit_code == 1 and isinstance(result.exception, ReviewRNNError)
    assert "error:" not in result.stderr


@pytest.mark.parametrize(
    "args,moved",
    [
        (["predict", "x", "--debug"], ["--debug", "predict", "x"]),
        (["--debug", "predict", "x"], ["--debug", "predict", "x"]),
        (["predict", "--", "--debug"], ["predict", "--", "--debug"]),  # after `--` it is a review's text
        (["predict", "--debug", "--", "--debug"], ["--debug", "predict", "--", "--debug"]),
        (["probe", "filler", "--debug"], ["--debug", "probe", "filler"]),
        (["train", "--name", "--debug"], ["train", "--name", "--debug"]),  # the run's name, not the flag
        (["predict", "-m", "--debug", "x", "--debug"], ["--debug", "predict", "-m", "--debug", "x"]),
        (["train", "--name=--debug", "--debug"], ["--debug", "train", "--name=--debug"]),
    ],
)
def test_debug_first(args, moved):
    assert debug_first(args, typer.main.get_group(app)) == moved


def test_root_group_exit_codes_and_click_errors():
    """A command's return value is not an exit code (as in click); typer.Exit's code is; other click errors
    are one `error:` line like the rest."""
    probe_app = typer.Typer(cls=OneLineErrors)
    probe_app.callback()(lambda: None)  # a group, as `reviewrnn` is, rather than a lone command

    @probe_app.command()
    def returns(code: int) -> int:
        if code < 0:
            raise ClickException("broken pipe to nowhere")
        if code > 0:
            raise typer.Exit(code)
        return 3

    runner = CliRunner()
    assert runner.invoke(probe_app, ["returns", "0"]).exit_code == 0
    assert runner.invoke(probe_app, ["returns", "4"]).exit_code == 4
    failed = runner.invoke(probe_app, ["returns", "--", "-1"])
    assert failed.exit_code == 1 and failed.stderr.strip() == "error: broken pipe to nowhere"


def test_missing_file_option_exits_2_before_any_output(trained_model, tmp_path):
    present = tmp_path / "present.txt"
    present.write_text("great film\n")
    result = cli("predict", "--model", trained_model, "--file", present, "--file", tmp_path / "absent.txt", code=2)
    assert result.stdout == ""
    assert f"Invalid value for '--file': {tmp_path / 'absent.txt'}: no such file" in one_error_line(result)


# --- corpus and tokenize -----------------------------------------------------------------------------


def test_corpus_json(tiny_csv, isolated_env):
    summary = json.loads(cli("corpus", tiny_csv, "--json").stdout)
    assert summary["rows"] == 300 and summary["path"] == str(tiny_csv)
    assert summary["label_names"] == ["negative", "positive"]
    assert summary["text_column"] == "review" and summary["label_column"] == "sentiment"
    assert summary["cache_dir"] == str(isolated_env["cache"])
    assert sum(part["count"] for part in summary["splits"].values()) + summary["duplicates_dropped"] == 300


def test_corpus_table_and_columns(tmp_path):
    path = write_table(tmp_path / "c.jsonl", synthetic_reviews(80), ("body", "stars"))
    result = cli("corpus", path, "--text-column", "body", "--label-column", "stars")
    assert f"Corpus {path}" in result.stdout and "sha256" in result.stdout
    assert re.search(r"┃\s+┃\s+train\s+┃\s+valid\s+┃\s+test\s+┃", result.stdout), result.stdout  # a column per split


def test_corpus_errors_are_one_line(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a", "label": 1}\n{oops\n')
    assert f"{broken}:2:" in one_error_line(cli("corpus", broken, code=1))
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("text,label\na,1\nb,0,extra,fields\n")
    assert str(ragged) in one_error_line(cli("corpus", ragged, code=1))
    assert "no such corpus file" in one_error_line(cli("corpus", tmp_path / "none.csv", code=1))


def test_tokenize(tiny_csv, tmp_path):
    out = tmp_path / "tok.json"
    figures = json.loads(cli("tokenize", "--corpus", tiny_csv, "--vocab-size", "100", "--out", out, "--json").stdout)
    assert out.is_file() and figures["path"] == str(out)
    assert 30 < figures["vocab_size"] <= 100 and figures["median_tokens"] > 0
    assert json.loads(out.read_text())["model"]["type"] == "WordPiece"
    one_error_line(cli("tokenize", "--corpus", tiny_csv, "--out", out, code=1))
    result = cli("tokenize", "--corpus", tiny_csv, "--vocab-size", "150", "--out", out, "--force")
    assert "vocabulary" in result.stdout and f"saved {out}" in result.stderr
    folder = tmp_path / "my tokenizers"  # was a raw IsADirectoryError with --force, and "already exists" without
    (folder / "keep.txt").parent.mkdir()
    (folder / "keep.txt").write_text("mine")
    for force in ((), ("--force",)):
        refused = one_error_line(cli("tokenize", "--corpus", tiny_csv, "--out", folder, *force, code=1))
        assert refused == f"error: {folder} is a folder; --out takes a file name, e.g. --out '{folder}/tokenizer.json'"
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]


def test_tokenize_never_writes_into_a_model_directory(tiny_csv, model_copy):
    """A trial followed the folder error's advice into a model: its tokenizer was replaced (a same-size one
    predicted without a word)."""
    before = (model_copy / "tokenizer.json").read_bytes()
    inside = (model_copy / "checkpoint" / "tokenizer.json", model_copy / "sub" / "tok.json")  # resume reads the first
    for out in (model_copy, model_copy / "tokenizer.json", model_copy / "new.json", *inside):
        refused = one_error_line(cli("tokenize", "--corpus", tiny_csv, "--out", out, "--force", code=1))
        assert refused.startswith(f"error: {model_copy} is a model directory, whose tokenizer belongs to its weights")
    assert (model_copy / "tokenizer.json").read_bytes() == before and not (model_copy / "new.json").exists()
    assert (model_copy / "checkpoint" / "tokenizer.json").read_bytes() == before and not (model_copy / "sub").exists()


def test_an_early_stop_is_said_not_only_seen_as_a_short_epoch_table(tiny_csv, isolated_env):
    """With --patience the epoch table ended at epoch 2 of 6 and nothing said why."""
    args = ["train", "--corpus", tiny_csv, "--limit", "100", *TINY_TRAIN, "--epochs", "6", "--patience", "1"]
    result = cli(*args, "--lr", "1e-9", "--name", "still")  # VALID accuracy cannot move: epoch 1 stays the best
    expected = "note: stopped after epoch 2 of 6: 1 epoch in a row did not beat epoch 1's validation accuracy"
    assert f"{expected} (--patience 1)" in result.stderr.replace("\n", " ")
    learns = cli(*args, "--name", "learns", "--lr", "0.01", "--patience", "6", "--json")
    assert json.loads(learns.stdout)["stopped_early"] is False and "stopped after" not in learns.stderr
    at_the_end = cli(*args, "--name", "end", "--lr", "1e-9", "--epochs", "3", "--patience", "2")
    assert "stopped after" not in at_the_end.stderr  # patience ran out on the last epoch: not an early stop


def test_tokenize_default_output_is_in_the_models_folder(tiny_csv, isolated_env):
    cli("tokenize", "--corpus", tiny_csv, "--vocab-size", "100")
    assert (isolated_env["models"] / "tokenizer.json").is_file()
    assert not (isolated_env["work"] / "models").exists()


# --- train and evaluate ------------------------------------------------------------------------------


def test_train_evaluate_predict(tiny_csv, isolated_env, tmp_path):
    result = cli("train", "--corpus", tiny_csv, "--limit", "100", "--name", "small", "--json", *TINY_TRAIN)
    summary = json.loads(result.stdout)
    directory = isolated_env["models"] / "small"
    assert summary["model"] == str(directory) and summary["best_epoch"] == 1
    assert 0.0 <= summary["valid_accuracy"] <= 1.0
    config = json.loads((directory / "config.json").read_text())
    assert set(summary["valid_predicted"]) == {"negative", "positive"}
    assert sum(summary["valid_predicted"].values()) == config["corpus"]["sizes"]["valid"]
    assert {p.name for p in directory.iterdir()} == {
        "config.json",
        "tokenizer.json",
        "model.safetensors",
        "history.json",
        "domain.json",
        "seen.npy",
        "checkpoint",
    }
    assert {p.name for p in (directory / "checkpoint").iterdir()} == {
        "state.json",
        "tensors.safetensors",
        "tokenizer.json",
    }
    config = json.loads((directory / "config.json").read_text())
    assert config["model"]["hidden"] == 8 and config["train"]["limit"] == 100
    assert config["model"]["embed_init"] == 0.1  # train's default scale, recorded
    assert config["corpus"]["sizes"]["train_used"] == 100

    report = json.loads(cli("evaluate", directory, "--json", "--threads", "1", "--device", "cpu").stdout)
    assert json.loads((directory / "eval.json").read_text()) == report
    assert report["count"] == config["corpus"]["sizes"]["test"]
    human = cli("evaluate", directory, "--split", "valid", "--edges", "0,8,16", "--threads", "1").stdout
    assert "accuracy" in human and "Per class" in human and "Confusion" in human and "16+" in human

    rows = cli("predict", "--model", directory, "a great film", "an awful film").stdout.splitlines()
    assert len(rows) == 2 and all(row.split("\t")[0] in ("negative", "positive") for row in rows)


def test_evaluate_split_all_scores_every_review_of_a_file_the_model_never_saw(tiny_csv, isolated_env, tmp_path):
    """A labelled sample of other reviews: its TEST half alone wasted half of the few labels a user had."""
    cli("train", "--corpus", tiny_csv, "--limit", "100", "--name", "small", *TINY_TRAIN)
    directory = isolated_env["models"] / "small"
    rows = synthetic_reviews(150, seed=9) + synthetic_reviews(3, seed=9)  # 3 duplicates, dropped as in training
    sample = write_table(tmp_path / "sample.csv", rows)
    whole = json.loads(cli("evaluate", directory, "--corpus", sample, "--split", "all", "--json").stdout)
    halves = [
        json.loads(cli("evaluate", directory, "--corpus", sample, "--split", part, "--json").stdout)
        for part in ("train", "valid", "test")
    ]
    assert whole["split"] == "all" and whole["count"] == 150 == sum(half["count"] for half in halves)
    right = sum(round(half["accuracy"] * half["count"]) for half in halves)
    assert round(whole["accuracy"] * whole["count"]) == right
    own = cli("evaluate", directory, "--corpus", tiny_csv, "--split", "all", code=1)
    assert "is the corpus" in one_error_line(own) and "use --split test" in one_error_line(own)
    usage = cli("evaluate", directory, "--split", "all", code=2)
    assert "--split all goes with --corpus" in usage.stderr
    cli("train", "--corpus", tiny_csv, "--limit", "100", "--name", "disk", "--on-disk", *TINY_TRAIN)
    disk = cli("evaluate", isolated_env["models"] / "disk", "--corpus", sample, "--split", "all", "--json")
    assert json.loads(disk.stdout)["count"] == 150  # the memory-mapped backend joins the parts alike


def test_train_human_output_and_refusal_to_overwrite(tiny_csv, isolated_env):
    result = cli("train", "--corpus", tiny_csv, "--limit", "60", "--name", "m", *TINY_TRAIN)
    assert result.stdout.startswith(f"saved {isolated_env['models'] / 'm'}")
    assert "epoch" in result.stderr and "next: reviewrnn evaluate" in result.stderr
    error = one_error_line(cli("train", "--corpus", tiny_csv, "--name", "m", *TINY_TRAIN, code=1), progress=True)
    assert "already exists" in error and "--force" in error
    cli("train", "--corpus", tiny_csv, "--limit", "60", "--name", "m", "--force", *TINY_TRAIN)


def test_force_replaces_only_a_model_directory(tiny_csv, isolated_env, tmp_path, monkeypatch):
    """A new user's `--out DIR --force` swapped a folder of their own files, and `--out models` every model,
    for the new run's directory; `--out . --force` trained the whole run, then failed on the rename."""
    from test_resume import files_under

    own = tmp_path / "my-folder"
    (own / "sub").mkdir(parents=True)
    (own / "notes.txt").write_text("mine")
    (own / "sub" / "data.csv").write_text("a,b\n")
    a_file = tmp_path / "keep.txt"
    a_file.write_text("mine")
    (tmp_path / "elsewhere").mkdir()
    (isolated_env["models"] / "other").mkdir(parents=True, exist_ok=True)
    (isolated_env["models"] / "other" / "config.json").write_text("{}")
    app = tmp_path / "my-app"  # a second trial: any project's config.json, or a checkpoint/ of another tool
    (app / "checkpoint").mkdir(parents=True)
    (app / "config.json").write_text('{"name": "my app", "model": {}}')
    (app / "checkpoint" / "epoch=3.ckpt").write_text("weights")
    (app / "main.py").write_text("code")
    monkeypatch.chdir(tmp_path / "elsewhere")
    for target, said in (
        (own, "is not a reviewrnn model (no reviewrnn config.json or checkpoint/ in it); --force replaces only a"),
        (isolated_env["models"], "is not a reviewrnn model"),  # the folder of every model
        (a_file, "is a file, not a model directory"),
        (Path("."), "holds the current directory"),
        (own / "sub", "is not a reviewrnn model"),
        (isolated_env["models"] / "other", "is not a reviewrnn model (its config.json does not read as reviewrnn's)"),
        (app, "or delete it yourself if it is a damaged model"),
    ):
        before = files_under(tmp_path)
        error = one_error_line(cli("train", "--corpus", tiny_csv, "--out", target, "--force", *TINY_TRAIN, code=1))
        assert said in error, error
        assert files_under(tmp_path) == before  # refused before anything was read or written
    empty = tmp_path / "empty"
    empty.mkdir()
    cli("train", "--corpus", tiny_csv, "--limit", "60", "--out", empty, "--force", *TINY_TRAIN)  # nothing to lose
    assert (empty / "config.json").is_file()
    (empty / "NOTES.md").write_text("the user's own notes, beside the model")
    before = files_under(tmp_path)
    error = one_error_line(cli("train", "--corpus", tiny_csv, "--out", empty, "--force", *TINY_TRAIN, code=1))
    assert "also holds files reviewrnn did not write (NOTES.md), which --force would delete" in error
    assert files_under(tmp_path) == before
    (empty / "NOTES.md").unlink()
    (empty / ".config.json.k3j2.tmp").write_text("{")  # an atomic write's leftover is reviewrnn's own
    cli(
        "train", "--corpus", tiny_csv, "--limit", "60", "--out", empty, "--force", *TINY_TRAIN
    )  # a model alone: replaced


def test_every_file_a_model_directory_holds_is_one_force_may_replace(trained_model, pretrained_lm, tmp_path):
    """model_entries() lists what --force may delete with a model; a file a run writes and it lacks would make
    --force refuse a model. Here: a classifier scored on TEST (eval.json), and a language model."""
    from reviewrnn.outdir import model_entries

    cli("evaluate", trained_model, "--threads", "1")
    for directory in (trained_model, pretrained_lm):
        assert {entry.name for entry in directory.iterdir()} <= model_entries(), directory


def test_train_runtime_errors_are_one_line(tmp_path):
    missing = cli("train", "--corpus", tmp_path / "x.csv", *TINY_TRAIN, code=1)
    assert "no such corpus file" in one_error_line(missing, progress=True)
    one = write_table(tmp_path / "one.csv", [("a", "pos"), ("b", "pos")])
    assert "one class" in one_error_line(cli("train", "--corpus", one, *TINY_TRAIN, code=1), progress=True)


@pytest.mark.parametrize("command", ["evaluate", "compare", "gradients", "clipping", "probe filler"])
def test_a_missing_model_is_the_same_one_line_everywhere(command, tmp_path, trained_model):
    """The lab's commands check every MODEL before any work, and fail as evaluate does: exit 1, not a usage error."""
    models = [trained_model, tmp_path / "nothing"] if command != "evaluate" else [tmp_path / "nothing"]
    error = one_error_line(cli(*command.split(), *models, code=1))
    assert error == f"error: {tmp_path / 'nothing'}: no such model directory; train one with `reviewrnn train`"


# --- predict ------------------------------------------------------------------------------------------


@pytest.fixture
def with_model(trained_model, monkeypatch):
    monkeypatch.setenv("REVIEWRNN_MODEL", str(trained_model))
    return trained_model


def test_predict_names_the_model_it_picked_only_on_a_terminal(trained_model, isolated_env, monkeypatch):
    import shutil

    from reviewrnn.commands import common

    shutil.copytree(trained_model, isolated_env["models"] / "older")
    shutil.copytree(trained_model, isolated_env["models"] / "newest")
    os.utime(isolated_env["models"] / "older" / "config.json", (1, 1))
    assert "model:" not in cli("predict", "a great film").stderr  # a log or a pipe: rows only
    monkeypatch.setattr(common.err, "_force_terminal", True)
    stderr = cli("predict", "a great film").stderr
    assert f"model: {isolated_env['models'] / 'newest'} (the newest under models/" in stderr
    assert "model:" not in cli("predict", "--model", str(trained_model), "a great film").stderr
    monkeypatch.setenv("REVIEWRNN_MODEL", str(trained_model))
    assert f"model: {trained_model} ($REVIEWRNN_MODEL" in cli("predict", "a great film").stderr


def test_predict_arguments(with_model):
    rows = cli("predict", "a great superb film", "awful boring plot").stdout.splitlines()
    labels = [row.split("\t")[0] for row in rows]
    assert labels == ["positive", "negative"]
    assert all(0.5 < float(row.split("\t")[1]) <= 1.0 for row in rows)


def test_predict_reads_the_text_column_of_a_table_one_row_per_record(with_model, tmp_path):
    """A shop's CSV given as --file: its text column, record by record (a quoted newline stays one review);
    it had been read line by line, header and star ratings included."""
    texts = ["a great superb film", "awful\nboring plot", "", "wonderful, great"]
    expected = [row.split("\t") for row in cli("predict", *[t.replace("\n", " ") for t in texts]).stdout.splitlines()]
    expected[2] = ["", ""]
    table = write_table(tmp_path / "shop.csv", [(text, stars) for text, stars in zip(texts, "5135")], ("body", "stars"))
    error = one_error_line(cli("predict", "--file", table, code=1))
    assert "no text column (looked for review, text; columns: body, stars); name it with --text-column" in error
    jsonl = write_table(tmp_path / "shop.jsonl", [(t, "5") for t in texts], ("body", "stars"))
    parquet = write_table(tmp_path / "shop.parquet", [(t, "5") for t in texts], ("body", "stars"))
    for path in (table, jsonl, parquet):
        rows = cli("predict", "--file", path, "--text-column", "body", "--format", "jsonl").stdout.splitlines()
        found = [json.loads(row) for row in rows]
        assert [row["line"] for row in found] == [1, 2, 3, 4] and found[1]["tokens"] == 3
        assert [[row["label"] or "", f"{row['probability']:.4f}" if row["label"] else ""] for row in found] == expected
    header_only = tmp_path / "none.csv"
    header_only.write_text("body,stars\n")
    assert cli("predict", "--file", header_only, "--text-column", "body").stdout == ""  # no records, no rows
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"body": "fine"}\n{"body": \n')
    failed = cli("predict", "--file", table, "--file", broken, "--text-column", "body", code=1)
    assert failed.stdout == ""  # tables are read before any row is written
    assert one_error_line(failed) == f"error: {broken}:2: not valid JSON (JSONDecodeError); fix or remove that line"


def test_predict_reads_a_table_through_the_models_own_text_column(trained_model, tmp_path):
    """A new user's model trained with --text-column body could not predict --file on a CSV of the same
    shape without --text-column again, while evaluate --corpus found the column from the model."""
    import shutil

    model = tmp_path / "body-model"
    shutil.copytree(trained_model, model)
    config = json.loads((model / "config.json").read_text())
    config["corpus"]["text_column"] = "body"
    (model / "config.json").write_text(json.dumps(config))
    texts = ["a great superb film", "awful boring plot"]
    table = write_table(tmp_path / "shop.csv", [(text, "5") for text in texts], ("body", "stars"))
    rows = cli("predict", "-m", model, "--file", table).stdout.splitlines()
    assert rows == cli("predict", "-m", model, *texts).stdout.splitlines()
    assert cli("predict", "-m", model, "-m", model, "--file", table).stdout.count("\n") == 2  # an ensemble too
    other = write_table(tmp_path / "other.csv", [(text, "5") for text in texts], ("text", "stars"))
    assert cli("predict", "-m", model, "--file", other).stdout.splitlines() == rows  # else the usual names
    neither = write_table(tmp_path / "neither.csv", [(text, "5") for text in texts], ("comment", "stars"))
    error = one_error_line(cli("predict", "-m", model, "--file", neither, code=1))
    assert "no text column (looked for body, text, review; columns: comment, stars)" in error


def test_predict_text_column_reads_stdin_as_json_lines(with_model):
    lines = [json.dumps({"body": "a great superb film", "stars": 5}), "", json.dumps({"body": None})]
    rows = cli("predict", "--text-column", "body", "-", "awful boring plot", input="\n".join(lines) + "\n").stdout
    assert [row.split("\t")[0] for row in rows.splitlines()] == ["positive", "", "", "negative"]  # the TEXT as is
    bad = cli("predict", "--text-column", "body", input=lines[0] + "\n" + "not json\n", code=1)
    assert one_error_line(bad).startswith("error: -:2: not valid JSON; with --text-column, stdin and text files")
    missing = cli("predict", "--text-column", "text", input=lines[0] + "\n", code=1)
    assert "error: -:1: no field 'text' (found: body, stars); fix --text-column" in one_error_line(missing)


def test_a_byte_order_mark_is_not_part_of_the_first_review(with_model, tmp_path):
    plain = cli("predict", "--format", "jsonl", input="waste of money\nawful\n").stdout
    marked = tmp_path / "notepad.txt"
    marked.write_bytes("\ufeffwaste of money\nawful\n".encode())
    assert cli("predict", "--format", "jsonl", "--file", marked).stdout.replace(str(marked), "-") == plain
    assert cli("predict", "--format", "jsonl", input="\ufeffwaste of money\nawful\n").stdout == plain


def test_a_model_variable_naming_nothing_is_named_in_the_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REVIEWRNN_MODEL", str(tmp_path / "gone"))
    error = one_error_line(cli("predict", "great", code=1))
    assert (
        error
        == f"error: $REVIEWRNN_MODEL={tmp_path / 'gone'}: no such model directory; fix or unset it, or pass --model DIR"
    )


def test_predict_stdin(with_model):
    result = cli("predict", input="a great superb film\n\nawful boring plot\n   \nwonderful")
    rows = result.stdout.split("\n")
    assert rows[-1] == ""  # every row ends with a newline
    rows = rows[:-1]
    assert len(rows) == 5
    assert [r.split("\t")[0] for r in rows] == ["positive", "", "negative", "", "positive"]
    assert rows[1] == "\t" and rows[3] == "\t"
    assert cli("predict", "-", input="great\n").stdout.startswith("positive\t")


def test_predict_files_twice_in_order(with_model, tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("great superb\nawful boring\n")
    second.write_text("dreadful\r\nbrilliant wonderful")
    result = cli("predict", "--file", first, "-f", second, "--format", "jsonl")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["source"], r["line"]) for r in records] == [
        (str(first), 1),
        (str(first), 2),
        (str(second), 1),
        (str(second), 2),
    ]
    assert [r["label"] for r in records] == ["positive", "negative", "negative", "positive"]
    for record in records:
        assert record["probability"] == max(record["probabilities"].values())
        assert record["tokens"] > 0 and "text" not in record


def test_predict_jsonl_blank_line_is_null(with_model):
    records = [json.loads(line) for line in cli("predict", "--format", "jsonl", input="\ngreat\n").stdout.splitlines()]
    assert records[0] == {
        "source": "-",
        "line": 1,
        "label": None,
        "probability": None,
        "probabilities": None,
        "tokens": 0,
        "threshold": None,
        "ood": None,
    }
    assert records[1]["source"] == "-" and records[1]["line"] == 2


def test_predict_csv_with_text_quotes_properly(with_model):
    text = 'a great, "superb" film'
    rows = list(csv.reader(io.StringIO(cli("predict", "--format", "csv", "--text", text, "").stdout)))
    assert rows[0][0] == "positive" and rows[0][2] == text and float(rows[0][1]) > 0.5
    assert rows[1] == ["", "", ""]


def test_predict_tsv_with_text(with_model):
    result = cli("predict", "--text", input="great\tsuperb film\n")
    label, probability, text = result.stdout.rstrip("\n").split("\t")
    assert label == "positive" and float(probability) > 0.5 and text == "great superb film"


def test_predict_text_in_jsonl(with_model):
    record = json.loads(cli("predict", "--format", "jsonl", "--text", "ünïcode great ☃").stdout)
    assert record["text"] == "ünïcode great ☃" and record["source"] == "arg"


def test_predict_picks_the_newest_model_under_the_models_folder(trained_model, isolated_env):
    import shutil

    shutil.copytree(trained_model, isolated_env["models"] / "only")
    assert cli("predict", "great superb").stdout.startswith("positive\t")


def test_predict_explicit_model_beats_the_environment(trained_model, monkeypatch, tmp_path):
    monkeypatch.setenv("REVIEWRNN_MODEL", str(tmp_path / "not-a-model"))
    assert cli("predict", "--model", trained_model, "great").stdout.startswith("positive\t")
    assert "no such model directory" in one_error_line(cli("predict", "great", code=1))


def test_predict_without_a_model_is_one_line_on_stderr():
    result = cli("predict", "great film", code=1)
    line = one_error_line(result)
    assert "no model found" in line and "reviewrnn train" in line
    assert result.stdout == ""


def test_debug_lets_the_exception_through():
    result = CliRunner().invoke(app, ["--debug", "predict", "great film"])
    assert result.exit_code == 1
    assert isinstance(result.exception, ReviewRNNError)
    assert "no model found" in str(result.exception)
    assert "error:" not in result.stderr


def test_debug_environment_variable(monkeypatch):
    monkeypatch.setenv("REVIEWRNN_DEBUG", "1")
    result = CliRunner().invoke(app, ["predict", "great film"])
    assert isinstance(result.exception, ReviewRNNError)


def test_damaged_model_is_one_line(model_copy):
    (model_copy / "model.safetensors").write_bytes(b"\x80\x04junk")
    line = one_error_line(cli("predict", "--model", model_copy, "great", code=1))
    assert str(model_copy / "model.safetensors") in line


# --- real processes and pipes --------------------------------------------------------------------------


def run_cli(*args, input: bytes | None = None, env_model: Path | None = None, cwd=None):
    env = dict(os.environ)
    if env_model is not None:
        env["REVIEWRNN_MODEL"] = str(env_model)
        env["REVIEWRNN_MODELS"] = str(env_model.parent)
    return subprocess.run(
        [sys.executable, "-m", "reviewrnn", *map(str, args)],
        input=input,
        capture_output=True,
        env=env,
        timeout=120,
        cwd=cwd,
    )


def test_corpus_table_fits_an_80_column_terminal(tmp_path, isolated_env, monkeypatch):
    classes = ("awful", "poor", "average", "good", "excellent")
    path = write_table(tmp_path / "stars.csv", synthetic_reviews(200, classes=classes))
    monkeypatch.setenv("COLUMNS", "80")
    done = run_cli("corpus", path)
    assert done.returncode == 0, done.stderr
    table = done.stdout.decode().split("\nfile ")[0]
    assert "…" not in table and max(len(line) for line in table.splitlines()[1:]) <= 80
    assert all(f"│ {name} " in table for name in (*classes, "reviews", "median words", "p99 words"))


def test_tables_into_a_file_or_pipe_keep_one_row_per_line_unless_columns_is_set(trained_model, tmp_path, monkeypatch):
    """Not on a terminal, rich wrapped every table at 80 columns: compare's six columns broke each row in two."""
    second = tmp_path / "second"
    shutil.copytree(trained_model, second)
    monkeypatch.delenv("COLUMNS", raising=False)
    piped = run_cli("compare", trained_model, second, "--edges", "0,8,16", "--threads", "1")
    assert piped.returncode == 0, piped.stderr
    rows = [line for line in piped.stdout.decode().splitlines() if line.startswith("│")]
    assert max(len(line) for line in rows) > 80
    assert sorted(line.split("│")[1].strip() for line in rows[-2:]) == sorted([trained_model.name, "second"])
    assert any("gap, read whole" in line for line in piped.stdout.decode().splitlines())  # one header line
    monkeypatch.setenv("COLUMNS", "60")  # still obeyed
    narrow = run_cli("compare", trained_model, second, "--edges", "0,8,16", "--threads", "1")
    assert max(len(line) for line in narrow.stdout.decode().splitlines() if line[0] in "┏┃┡│└") <= 60


def test_python_m_help():
    done = run_cli("--help")
    assert done.returncode == 0 and b"predict" in done.stdout and done.stderr == b""


def test_stdin_pipe_one_row_per_line(trained_model):
    data = b"a great superb film\r\n\r\nawful boring plot\n\n   \nbrilliant wonderful\r\nlast line, no newline"
    done = run_cli("predict", input=data, env_model=trained_model)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    rows = done.stdout.decode().split("\n")
    assert rows[-1] == "" and "\r" not in done.stdout.decode()
    rows = rows[:-1]
    assert len(rows) == 7
    assert [r.split("\t")[0] for r in rows] == ["positive", "", "negative", "", "", "positive", rows[6].split("\t")[0]]
    assert rows[6].split("\t")[0] in ("negative", "positive")


def test_stdin_with_text_keeps_content_without_line_ends(trained_model):
    done = run_cli("predict", "--text", input=b"great film\r\n\r\nawful", env_model=trained_model)
    rows = done.stdout.decode().split("\n")
    assert rows[-1] == ""
    assert [row.split("\t")[2] for row in rows[:-1]] == ["great film", "", "awful"]
    done = run_cli("predict", "--format", "jsonl", "--text", input=b"great film\r\n", env_model=trained_model)
    assert json.loads(done.stdout)["text"] == "great film"


def test_invalid_utf8_still_gives_rows_and_one_warning(trained_model):
    done = run_cli("predict", input=b"great \xff superb\nawful \xfe\xfe boring\nfine\n", env_model=trained_model)
    assert done.returncode == 0
    rows = done.stdout.decode().splitlines()
    assert len(rows) == 3 and rows[0].startswith("positive\t") and rows[1].startswith("negative\t")
    warnings = done.stderr.decode().strip().splitlines()
    assert len(warnings) == 1 and "invalid UTF-8" in warnings[0] and "-:1" in warnings[0]


def test_head_closing_the_pipe_is_a_clean_exit(trained_model, tmp_path):
    many = tmp_path / "many.txt"
    many.write_text("".join(f"a great superb film number {i}\n" for i in range(20_000)))
    errors = tmp_path / "stderr.txt"
    script = f'set -o pipefail; "{sys.executable}" -m reviewrnn predict --file "{many}" 2>"{errors}" | head -1'
    env = dict(os.environ, REVIEWRNN_MODEL=str(trained_model))
    done = subprocess.run(["bash", "-c", script], capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, (done.returncode, errors.read_text())
    assert len(done.stdout.splitlines()) == 1 and done.stdout.startswith(b"positive\t")
    assert "Traceback" not in errors.read_text() and "Error" not in errors.read_text()


@pytest.mark.parametrize("command", ["evaluate MODEL", "corpus CSV --json", "predict --trace --file TEXTS"])
def test_every_command_stops_quietly_when_the_reader_has_gone(command, trained_model, tmp_path):
    # rich's own handling exited 1 with no message (`reviewrnn evaluate M | head -1`); `true` reads nothing.
    texts, table = tmp_path / "texts.txt", tmp_path / "reviews.csv"
    texts.write_text("a great superb film\n" * 50)
    write_table(table, synthetic_reviews(200))
    args = command.replace("MODEL", str(trained_model)).replace("CSV", str(table)).replace("TEXTS", str(texts))
    script = f'set -o pipefail; "{sys.executable}" -m reviewrnn {args} | true'
    env = dict(os.environ, REVIEWRNN_MODEL=str(trained_model))
    done = subprocess.run(["bash", "-c", script], capture_output=True, env=env, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert "error" not in done.stderr.decode() and "Traceback" not in done.stderr.decode()


def test_subprocess_runtime_error_is_one_line_and_debug_shows_the_traceback(tmp_path):
    done = run_cli("predict", "great", cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no model found")
    assert done.stdout == b""
    debug = run_cli("--debug", "predict", "great", cwd=tmp_path)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr.decode() and "ReviewRNNError" in debug.stderr.decode()


def test_subprocess_usage_error_exits_2(trained_model, tmp_path):
    done = run_cli("predict", "--file", tmp_path / "absent.txt", env_model=trained_model)
    assert done.returncode == 2 and done.stdout == b""
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and f"{tmp_path / 'absent.txt'}: no such file" in lines[0]


def test_train_preset_with_an_explicit_flag_that_wins(tiny_csv, isolated_env):
    args = [a for a in TINY_TRAIN if a not in ()]
    cli(
        "train",
        "--corpus",
        tiny_csv,
        "--limit",
        "60",
        "--name",
        "pre",
        "--preset",
        "classic",
        "--dropout",
        "0.1",
        *args,
    )
    config = json.loads((isolated_env["models"] / "pre" / "config.json").read_text())
    assert config["model"]["pool"] == "last" and config["model"]["bidirectional"] is False
    assert config["model"]["dropout"] == 0.1  # typed on the command line: beats the preset's 0.0
    cli("train", "--corpus", tiny_csv, "--limit", "60", "--name", "scaled", "--embed-init", "1", *args)
    config = json.loads((isolated_env["models"] / "scaled" / "config.json").read_text())
    assert config["model"]["embed_init"] == 1.0


def test_predict_progress_goes_to_stderr_only_on_a_terminal(trained_model, tmp_path, monkeypatch):
    import io

    from rich.console import Console

    import reviewrnn.commands.predict as predict_command

    reviews = tmp_path / "many.txt"
    reviews.write_text("".join(f"review {i} was great\n" for i in range(600)))
    screen = io.StringIO()
    monkeypatch.setattr(predict_command, "err", Console(file=screen, force_terminal=True))
    result = cli("predict", "--model", str(trained_model), "--file", str(reviews))
    assert len(result.stdout.splitlines()) == 600
    assert "predicted 600 reviews" in screen.getvalue()
    monkeypatch.setattr(predict_command, "err", Console(file=io.StringIO(), force_terminal=False))
    quiet = cli("predict", "--model", str(trained_model), "--file", str(reviews))
    assert quiet.stderr == ""


def test_help_imports_neither_torch_nor_numpy_nor_datasets():
    code = "import sys; from reviewrnn.cli import app; print(sorted({'torch', 'numpy', 'datasets'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize(
    "flags,expected",
    [
        (["--cell", "gru"], 128),
        (["--cell", "rnn"], 128),
        (["--cell", "lstm"], 64),
        (["--cell", "gru", "--batch-size", "16"], 16),  # an explicit size is kept
        (["--preset", "classic"], 64),  # the preset's cell (lstm) decides
    ],
)
def test_train_default_batch_size_follows_the_cell(tiny_csv, isolated_env, flags, expected):
    untouched = TINY_TRAIN[: TINY_TRAIN.index("--batch-size")] + TINY_TRAIN[TINY_TRAIN.index("--batch-size") + 2 :]
    cli("train", "--corpus", tiny_csv, "--limit", "60", "--name", "b", *untouched, *flags)
    config = json.loads((isolated_env["models"] / "b" / "config.json").read_text())
    assert config["train"]["batch_size"] == expected


@pytest.mark.parametrize(
    "flags,pool", [([], "mean"), (["--pool", "max"], "max"), (["--init-part", "embedding"], "max")]
)
def test_train_init_defaults_follow_the_language_model(pretrained_lm, session_corpus, isolated_env, flags, pool):
    """The session's LM is a GRU: the classifier it starts is one, so its batch is the GRU's, not lstm's 64. From
    the whole LM it pools with the mean (transfer.INIT_POOL) unless --pool says otherwise."""
    common = ["--epochs", "1", "--threads", "1", "--max-tokens", "32", "--device", "cpu", "--limit", "60"]
    cli("train", "--corpus", session_corpus, "--init", pretrained_lm, "--name", "b", *common, *flags)
    config = json.loads((isolated_env["models"] / "b" / "config.json").read_text())
    assert (config["model"]["cell"], config["train"]["batch_size"], config["model"]["pool"]) == ("gru", 128, pool)


def test_train_default_epochs_and_schedule_differ_from_scratch_and_from_a_language_model(
    pretrained_lm, session_corpus, isolated_env
):
    common = [
        "--patience",
        "9",
        "--threads",
        "1",
        "--max-tokens",
        "16",
        "--device",
        "cpu",
        "--limit",
        "40",
        "--hidden",
        "8",
    ]
    cli("train", "--corpus", session_corpus, "--name", "scratch", "--embed", "8", "--vocab-size", "200", *common)
    cli("train", "--corpus", session_corpus, "--init", pretrained_lm, "--name", "lm", *common[:-2])
    cli("train", "--corpus", session_corpus, "--init", pretrained_lm, "--name", "lm2", "--epochs", "2", *common[:-2])
    cli(
        "train",
        "--corpus",
        session_corpus,
        "--init",
        pretrained_lm,
        "--name",
        "lm3",
        "--schedule",
        "linear",
        *common[:-2],
    )
    found = {}
    for name in ("scratch", "lm", "lm2", "lm3"):
        config = json.loads((isolated_env["models"] / name / "config.json").read_text())
        history = json.loads((isolated_env["models"] / name / "history.json").read_text())
        found[name] = (config["train"]["epochs"], len(history), config["train"]["schedule"])
    assert found == {
        "scratch": (3, 3, "linear"),
        "lm": (5, 5, "constant"),  # the LM recipes' own, as measured
        "lm2": (2, 2, "constant"),
        "lm3": (5, 5, "linear"),  # a flag given always wins
    }


@pytest.mark.parametrize(
    "predicted,labelled,accuracy,warned",
    [
        ([25, 0], [13, 12], 0.52, "every VALID review the label 'negative'"),
        ([0, 7], [3, 4], 0.57, "every VALID review the label 'positive'"),
        ([2574, 1], [1334, 1241], 0.482, "VALID accuracy 48.2% is no better than always answering 'negative' (51.8%)"),
        ([60, 40], [95, 5], 0.95, "no better than always answering 'negative' (95.0%)"),  # imbalanced: 95% is nothing
        ([1200, 1375], [1334, 1241], 0.53, None),  # a point above the majority's 51.8%: it learned something
        ([24, 1], None, 0.9, None),
        ([1, 0], [1, 0], 1.0, None),
        (None, None, 0.5, None),
        ([0, 0], [0, 0], 0.0, None),
    ],
)
def test_train_warns_when_the_model_has_learned_nothing(predicted, labelled, accuracy, warned):
    from types import SimpleNamespace

    from reviewrnn.config import RunConfig
    from reviewrnn.runadvice import not_learned

    outcome = SimpleNamespace(
        valid_predicted=predicted, valid_labelled=labelled, best_valid_accuracy=accuracy, config=RunConfig()
    )
    found = not_learned(outcome)
    assert found == warned if warned is None else warned in found


def test_a_valid_split_without_one_class_is_named_and_gets_no_threshold(isolated_env, tmp_path):
    """A small labelled set can leave VALID one-sided: its 100% then says nothing, and a threshold chosen on it
    would be arbitrary (a new user's trial saved one at 0.592)."""
    from reviewrnn.splits import is_test_text, is_valid_text

    rows = [
        (text, label)
        for text, label in synthetic_reviews(400)
        if label == "positive" or is_test_text(text) or not is_valid_text(text, 0.3)
    ]
    table = write_table(tmp_path / "one-sided.csv", rows)
    result = cli("train", "--corpus", table, "--valid-fraction", "0.3", "--name", "v", *TINY_TRAIN)
    warning = " ".join(result.stderr.split())
    assert "warning: VALID holds no 'negative' review (all " in warning and "larger --valid-fraction" in warning
    assert "of its reviews are of other classes" in warning  # its count is VALID's size, not the class's
    assert "not learned yet" not in warning
    config = json.loads((isolated_env["models"] / "v" / "config.json").read_text())
    assert config["train"]["valid_fraction"] == 0.3
    refused = cli("evaluate", isolated_env["models"] / "v", "--find-threshold", "f1", code=1)
    assert "VALID's" in one_error_line(refused) and "are all 'positive'" in one_error_line(refused)
    assert json.loads((isolated_env["models"] / "v" / "config.json").read_text())["decision"]["threshold"] is None


@pytest.mark.parametrize("limit,hint", [("60", "a larger --limit"), ("100000", "more labelled reviews")])
def test_train_warns_on_stderr_and_keeps_json_on_stdout_when_one_label_is_all_it_gives(
    limit, hint, tiny_csv, isolated_env, monkeypatch
):
    """The hint names --limit only when the limit held reviews back (not when it exceeds the corpus)."""
    from reviewrnn import fitting

    real = fitting.fit_decision

    def one_label(*args, **kwargs):  # as if the saved model said 'negative' for every VALID review
        fitted = real(*args, **kwargs)
        return fitted | {"valid_predicted": [sum(fitted["valid_predicted"]), 0]}

    monkeypatch.setattr(fitting, "fit_decision", one_label)
    result = cli("train", "--corpus", tiny_csv, "--limit", limit, "--name", "w", "--json", *TINY_TRAIN)
    assert json.loads(result.stdout)["valid_predicted"]["positive"] == 0
    warning = " ".join(result.stderr.split())
    assert "warning: the model gives every VALID review the label 'negative'" in warning
    assert warning.endswith(f"train longer (--epochs) or on {hint}")


def test_train_writes_no_blank_line_into_a_log(tiny_csv, isolated_env):
    """Off a terminal the stage lines and the error are the whole of stderr: no live display's blank line."""
    result = cli("train", "--corpus", tiny_csv, "--text-column", "nope", *TINY_TRAIN, code=1)
    assert result.stderr.splitlines() == ["reading corpus…", result.stderr.splitlines()[-1]]
    assert result.stderr.splitlines()[-1].startswith("error: ") and "fix --text-column" in result.stderr


def test_train_init_refuses_a_preset(pretrained_lm, session_corpus, isolated_env):
    """A preset sets a shape (classic: a one-way LSTM) that --init would silently replace with the LM's."""
    result = cli("train", "--corpus", session_corpus, "--init", pretrained_lm, "--preset", "classic", code=2)
    assert one_error_line(result).startswith("error: --preset sets a shape and --init brings")


def test_square_brackets_in_user_text_are_text_not_rich_markup(tmp_path):
    """A label like [/bad] ended the command with rich's MarkupError, and [good] vanished from tables."""
    rows = [(text, "[good]" if label in (1, "positive") else "[/bad]") for text, label in synthetic_reviews(40)]
    path = write_table(tmp_path / "brackets[/x].csv", rows)
    result = cli("corpus", path)
    assert "[good]" in result.stdout and "[/bad]" in result.stdout


def test_resume_takes_only_epochs_beside_it(trained_model):
    """Other flags were ignored without a word; a resumed run keeps its own settings."""
    result = cli("train", "--resume", trained_model, "--lr", "0.5", code=2)
    assert "only --epochs (to train it further), --threads and --json go with it, not --lr" in one_error_line(result)
    result = cli("train", "--resume", trained_model, "--json", "--device", "cpu", code=2)
    assert "not --device" in one_error_line(result)
    result = cli("train", "--resume", trained_model, "--no-calibrate", code=2)  # named as typed, not as --calibrate
    assert one_error_line(result).endswith("not --no-calibrate (see `reviewrnn train -h`)")
    result = cli("train", "--resume", trained_model, "--no-bidirectional", code=2)
    assert "not --no-bidirectional" in one_error_line(result)


def test_evaluate_counts_the_reviews_of_another_file_that_the_model_trained_on(trained_model, session_corpus, tmp_path):
    """A re-export of the training file (reordered, spaced and cased otherwise, with new reviews) has another
    sha256, so --split all scored it as unseen; now the reviews it trained or was validated on are counted."""
    import csv

    with open(session_corpus, newline="") as handle:
        rows = [(row["review"], row["sentiment"]) for row in csv.DictReader(handle)]
    respaced = [(f"  {text.upper()}  ".replace(" ", "   "), label) for text, label in reversed(rows)]
    export = write_table(tmp_path / "export.csv", respaced + synthetic_reviews(40, seed=23))
    sizes = json.loads((trained_model / "config.json").read_text())["corpus"]["sizes"]
    seen = sizes["train_used"] + sizes["valid"]
    result = cli("evaluate", trained_model, "--corpus", export, "--split", "all", "--threads", "1", "--json")
    report = json.loads(result.stdout)
    assert report["not_clean"] == [
        f"{trained_model}: {seen:,} of the {report['count']:,} reviews scored are in its TRAIN or VALID split (the "
        "same text, in this file or another); their scores are not clean: score reviews it never saw"
    ]
    assert f"warning: {report['not_clean'][0]}" in " ".join(result.stderr.split())
    fresh = write_table(tmp_path / "fresh.csv", synthetic_reviews(60, seed=29))
    assert (
        json.loads(cli("evaluate", trained_model, "--corpus", fresh, "--split", "all", "--json").stdout)["not_clean"]
        == []
    )
    own = cli("evaluate", trained_model, "--split", "valid", "--json", "--threads", "1").stdout
    assert json.loads(own)["not_clean"] == []  # its own splits, read its own way: no warning about its own VALID
    # Its own TRAIN split is what it learned from: scored, with a warning (it once said nothing).
    result = cli("evaluate", trained_model, "--split", "train", "--threads", "1")
    assert "accuracy" in result.stdout.lower()
    assert f"warning: {trained_model}: it learned from its TRAIN split" in " ".join(result.stderr.split())
    assert "score --split test for a clean figure" in " ".join(result.stderr.split())


def test_a_model_without_readable_fingerprints_says_it_cannot_count_seen_reviews(model_copy, session_corpus):
    """An older model (no seen.npy) or a damaged seen.npy: a note instead of silence or a crash."""
    args = ["evaluate", model_copy, "--corpus", session_corpus, "--label-map", "negative=negative positive=positive"]
    (model_copy / "seen.npy").write_bytes((model_copy / "seen.npy").read_bytes()[:100])
    damaged = cli(*args, "--json")
    assert json.loads(damaged.stdout)["unchecked"] == [
        f"{model_copy}: seen.npy unreadable (ValueError), so the reviews of this file it trained on cannot be "
        f"counted; `reviewrnn evaluate {model_copy} --calibrate` writes one (and fits its temperature again)"
    ]
    (model_copy / "seen.npy").unlink()
    older = cli(*args)
    assert f"note: {model_copy}: no seen.npy (saved before models kept one)" in " ".join(older.stderr.split())
    cli("evaluate", model_copy, "--calibrate", "--threads", "1")
    assert json.loads(cli(*args, "--split", "valid", "--json").stdout)["not_clean"]  # another label map: checked


def test_evaluate_says_when_it_scored_part_of_another_file(trained_model, session_corpus, tmp_path, monkeypatch):
    """Another labelled file was scored on its TEST part alone, without a word; the model's own file,
    named by a relative path, is still its own (no note, and eval.json is its TEST report)."""
    other = write_table(tmp_path / "other.csv", synthetic_reviews(200, seed=11))
    result = cli("evaluate", trained_model, "--corpus", other, "--threads", "1")
    assert "note: scored the test part of" in result.stderr and "--split all scores every review" in result.stderr
    assert "note:" not in cli("evaluate", trained_model, "--corpus", other, "--split", "all", "--threads", "1").stderr
    monkeypatch.chdir(session_corpus.parent)
    own = cli("evaluate", trained_model, "--corpus", session_corpus.name, "--json", "--threads", "1")
    assert "note:" not in own.stderr
    assert json.loads((trained_model / "eval.json").read_text()) == json.loads(own.stdout)


def test_weight_decay_flag_reaches_the_optimizer(tiny_csv, isolated_env):
    """The config had the field, no flag set it; a large decay must shrink the weights it trains."""
    from safetensors.numpy import load_file

    norms = {}
    for decay in ("0", "0.5"):
        cli(
            "train",
            "--corpus",
            tiny_csv,
            "--limit",
            "100",
            "--name",
            f"wd{decay}",
            "--weight-decay",
            decay,
            *TINY_TRAIN,
        )
        directory = isolated_env["models"] / f"wd{decay}"
        assert json.loads((directory / "config.json").read_text())["train"]["weight_decay"] == float(decay)
        weights = load_file(directory / "model.safetensors")
        norms[decay] = sum(float((value.astype("float64") ** 2).sum()) for value in weights.values())
    assert norms["0.5"] < norms["0"]


def test_train_resume_epochs_extends_a_finished_run_from_the_command_line(tiny_csv, isolated_env):
    args = ["--corpus", tiny_csv, "--limit", "100", "--schedule", "constant", *TINY_TRAIN]
    cli("train", *args, "--name", "short")
    directory = isolated_env["models"] / "short"
    refused = cli("train", "--resume", directory, code=1)
    assert "already finished; train it further with `reviewrnn train --resume" in one_error_line(refused)
    summary = json.loads(cli("train", "--resume", directory, "--epochs", "2", "--threads", "1", "--json").stdout)
    assert summary["model"] == str(directory)
    assert json.loads((directory / "config.json").read_text())["train"]["epochs"] == 2
    assert len(json.loads((directory / "history.json").read_text())) == 2


def test_a_missing_model_is_named_without_touching_its_folder(tmp_path):
    """The lock beside a model was tried (and its folder made) before the model was found missing."""
    deep = tmp_path / "no" / "such" / "model"
    result = cli("evaluate", deep, "--calibrate", code=1)
    assert "no such model directory" in one_error_line(result) and not (tmp_path / "no").exists()
    assert "no such model directory" in one_error_line(cli("predict", "--model", "/proc/no-such-model", "x", code=1))


def test_a_one_review_valid_is_not_counted_as_the_missing_class():
    """A 60-row sample left VALID one review, and the warning read "no 'positive' review (it has 1)"."""
    from types import SimpleNamespace

    from reviewrnn.runadvice import one_sided_valid

    config = SimpleNamespace(corpus=SimpleNamespace(label_names=["negative", "positive"]))
    message = one_sided_valid(SimpleNamespace(valid_labelled=[1, 0], config=config))
    assert message.startswith("VALID holds no 'positive' review (its only review is of another class)")
    assert one_sided_valid(SimpleNamespace(valid_labelled=[1, 1], config=config)) is None


def test_a_file_given_as_the_model_is_named_as_a_file(tiny_csv):
    refused = one_error_line(cli("predict", "-m", tiny_csv, "a review", code=1))
    assert refused == f"error: {tiny_csv}: a file, not a model directory; give the folder `reviewrnn train` saved"


def test_evaluate_says_when_the_models_own_corpus_changed_or_moved(tiny_csv, isolated_env, tmp_path):
    """A trial appended 50 reviews to the training file: evaluate scored the new TEST split without a word and
    saved it as the model's own report. A moved file gave only "no such corpus file"."""
    corpus = tmp_path / "shop.csv"
    corpus.write_bytes(tiny_csv.read_bytes())
    cli("train", "--corpus", corpus, "--limit", "60", "--name", "shop", *TINY_TRAIN)
    model = isolated_env["models"] / "shop"
    original = corpus.read_bytes()
    corpus.rename(tmp_path / "moved.csv")
    moved = one_error_line(cli("evaluate", model, code=1))
    assert moved == f"error: {corpus}: the model's training file is no longer there; put it back, or score it " \
        "where it is now with `reviewrnn evaluate MODEL --corpus FILE`"  # fmt: skip
    there = cli("evaluate", model, "--corpus", tmp_path / "moved.csv", "--json", "--threads", "1")
    assert "never trained on" not in there.stderr and "hash split" not in there.stderr  # its own bytes: its own
    assert json.loads((model / "eval.json").read_text())["count"] == json.loads(there.stdout)["count"]
    (model / "eval.json").unlink()
    corpus.write_bytes(original + "".join(f"a brand new review number {n},positive\n" for n in range(30)).encode())
    result = cli("evaluate", model, "--json", "--threads", "1")
    changed = (
        f"{corpus} changed since {model} trained on it (sha256 differs): its test split now holds other reviews "
        "than the model's own"
    )
    assert json.loads(result.stdout)["corpus_changed"] == [changed]
    assert "not saved: its corpus file changed since it trained" in result.stderr
    assert not (model / "eval.json").exists()
    compared = cli("compare", model, "--threads", "1")  # compare scores through evaluate: the same warning
    assert f"warning: {changed}" in compared.stderr.replace("\n", " ") and not (model / "eval.json").exists()


def test_force_replaces_only_its_own_kind_of_model(trained_model, pretrained_lm, tiny_csv, tmp_path):
    """A trial's `pretrain --out CLASSIFIER --force` replaced a trained classifier with a language model."""
    from test_resume import files_under

    classifier, lm = tmp_path / "classifier", tmp_path / "lm"
    shutil.copytree(trained_model, classifier)
    shutil.copytree(pretrained_lm, lm)
    before = files_under(tmp_path)
    refused = one_error_line(cli("pretrain", "--corpus", tiny_csv, "--out", classifier, "--force", code=1))
    assert refused == (
        f"error: {classifier} holds a classifier; `reviewrnn pretrain --force` replaces only its own kind, so "
        "choose another --name/--out"
    )
    refused = one_error_line(cli("train", "--corpus", tiny_csv, "--out", lm, "--force", *TINY_TRAIN, code=1))
    assert f"{lm} holds a language model; `reviewrnn train --force` replaces only its own kind" in refused
    assert files_under(tmp_path) == before


def test_a_threshold_of_nan_is_a_usage_error(trained_model):
    refused = cli("predict", "-m", trained_model, "--threshold", "nan", "good", code=2)
    assert "Invalid value for '--threshold': nan is not a probability" in one_error_line(refused)
