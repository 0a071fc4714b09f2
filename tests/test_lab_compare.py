"""compare: shared buckets split at max_tokens, eval.json reuse, gaps with Newcombe intervals, the CLI."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import tiny_configs
from typer.testing import CliRunner

from reviewrnn.cli import app
from reviewrnn.errors import ReviewRNNError
from reviewrnn.lab import charts
from reviewrnn.lab.compare import bucket_edges, compare_models, length_gap
from reviewrnn.metrics import difference_interval

EDGES = (0, 8, 16)


@pytest.fixture(scope="module")
def cut_model(session_env, session_corpus):
    """A tiny RNN that reads only 12 tokens: reviews of 13+ tokens are truncated."""
    from reviewrnn.runs import train_step
    from reviewrnn.source import CorpusSettings

    model, train, tokenizer = tiny_configs(cell="rnn", pool="mean", max_tokens=12, epochs=2)
    directory = session_env / "models" / "tiny-rnn-cut"
    train_step(CorpusSettings(str(session_corpus)), model, train, tokenizer, directory)
    return directory


def test_difference_interval_matches_newcombe():
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 - 48/80, method 10.
    low, high = difference_interval(56, 70, 48, 80)
    assert low == pytest.approx(0.0524, abs=5e-4) and high == pytest.approx(0.3339, abs=5e-4)


def test_bucket_edges_add_a_cut_past_each_max_tokens():
    assert bucket_edges([400], (0, 64, 128, 256, 512, 1024)) == (0, 64, 128, 256, 401, 512, 1024)
    assert bucket_edges([12, 400], (0, 8, 16)) == (0, 8, 13, 16, 401)


def test_length_gap():
    rows = [
        {"low": 0, "high": 10, "count": 70, "accuracy": 56 / 70},
        {"low": 10, "high": 20, "count": 0, "accuracy": None},
        {"low": 20, "high": None, "count": 80, "accuracy": 48 / 80},
    ]
    gap = length_gap(rows)
    assert gap["short"]["low"] == 0 and gap["long"]["low"] == 20  # the empty bucket is skipped
    assert gap["difference"] == pytest.approx(0.2) and gap["clear"]
    assert length_gap(rows[:1]) is None


def test_compare_two_models_and_reuse_eval_json(trained_model, cut_model, monkeypatch):
    first = compare_models([trained_model, cut_model], EDGES, device="cpu", threads=1)
    assert [m.name for m in first] == ["tiny-gru", "tiny-rnn-cut"]
    gru, rnn = first
    assert [row["low"] for row in gru.rows] == [0, 8, 13, 16, 65]
    assert [row["cut"] for row in rnn.rows] == [False, False, True, True, True]
    assert [row["cut"] for row in gru.rows] == [False, False, False, False, True]  # 65+: empty here
    assert rnn.truncated == sum(row["count"] for row in rnn.rows if row["cut"]) > 0
    assert gru.count == rnn.count == sum(row["count"] for row in gru.rows)
    assert rnn.gap_read_whole["long"]["high"] == 13
    assert rnn.cell == "rnn" and rnn.pool == "mean" and rnn.max_tokens == 12

    def no_evaluation(*_):
        raise AssertionError("eval.json should have been reused")

    again = compare_models([trained_model, cut_model], EDGES, evaluate=no_evaluation)
    assert [m.to_dict() for m in again] == [m.to_dict() for m in first]


def test_compare_cli(trained_model, cut_model, tmp_path):
    runner = CliRunner()
    args = ["compare", str(trained_model), str(cut_model), "--edges", "0,8,16", "--threads", "1"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert [m["name"] for m in json.loads(result.stdout)] == ["tiny-gru", "tiny-rnn-cut"]
    human = runner.invoke(app, args).stdout
    assert (
        "Test accuracy by length" in human and "13-15" in human and "✂" in human and "Shortest minus longest" in human
    )
    assert runner.invoke(app, ["compare", str(tmp_path / "none")]).exit_code == 1


def test_compare_png(trained_model, cut_model, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "by-length.png"
    result = CliRunner().invoke(app, ["compare", str(trained_model), str(cut_model), "--edges", "0,8,16", "--png", png])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "folder.png").mkdir()
    for name in ("by-length.txt", "by-length", "by-length.pgf", "folder.png"):  # before scoring (pgf: needs LaTeX)
        refused = CliRunner().invoke(app, ["compare", str(trained_model), "--png", tmp_path / name])
        assert refused.exit_code == 2 and "Invalid value for '--png'" in refused.stderr


def test_missing_matplotlib_is_one_clear_error(monkeypatch, trained_model, tmp_path):
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    with pytest.raises(ReviewRNNError, match=r"-m pip install 'matplotlib>=3.7'"):
        charts.pyplot()
    result = CliRunner().invoke(app, ["compare", str(trained_model), "--edges", "0,8,16", "--png", tmp_path / "x.png"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"error: {charts.INSTALL_HINT}"]


def test_help_names_the_plots_extra():
    """The install hint reaches --help whole (rich, which drew the help before, read '[plots]' as markup);
    the error names the running Python's pip, not whichever `pip` is first on PATH."""
    assert sys.executable in charts.INSTALL_HINT
    for command in (["compare"], ["study"], ["probe", "filler"]):
        assert "'.[plots]'" in CliRunner().invoke(app, [*command, "--help"]).stdout
