"""clipping: spikes, the run summary, runs read from history.json, the step recorder, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import tiny_configs
from typer.testing import CliRunner

from reviewrnn.cli import app
from reviewrnn.lab.clipping import ClipRun, StepRecorder, run_from_model, spike_steps, summarise


def test_spike_steps():
    norms = np.ones(100)
    norms[[5, 40, 70]] = [50.0, 50.0, 5.0]  # too early to judge, a spike, a bump below 10x
    assert spike_steps(norms) == [41]


def test_summary_of_a_diverged_run():
    run = ClipRun("r", 0.0, 3, [0.7, 0.6, 0.5], [0.5, 2.0, 4.0], [0.6], diverged="training diverged at epoch 2")
    s = summarise(run)
    assert s["steps"] == 3 and s["grad_norm_max"] == 4.0 and s["grad_norm_median"] == 2.0
    assert s["above_reference"] == pytest.approx(2 / 3) and s["final_loss"] == pytest.approx(0.6)
    assert s["diverged"] and s["non_finite"] == 1 and s["best_valid_accuracy"] == 0.6
    assert json.loads(json.dumps(run.to_dict()))["summary"]["steps"] == 3


@pytest.fixture(scope="module")
def clip_runs(session_env, session_corpus):
    """Two tiny RNNs from the same seed, clipping at 1 and off, each with a recorder of its steps."""
    from reviewrnn.callbacks import Callbacks
    from reviewrnn.runs import train_step
    from reviewrnn.source import CorpusSettings

    directories, recorders = [], []
    for clip in (1.0, 0.0):
        model, train, tokenizer = tiny_configs(cell="rnn", epochs=2, clip_norm=clip, limit=200)
        directory = session_env / "models" / f"tiny-rnn-clip{clip:g}"
        recorder = StepRecorder()
        train_step(
            CorpusSettings(str(session_corpus)), model, train, tokenizer, directory,
            callbacks=Callbacks(step=recorder.step, epoch=recorder.epoch),
        )  # fmt: skip
        directories.append(directory)
        recorders.append(recorder)
    return directories, recorders


def test_history_and_recorder_agree(clip_runs):
    directories, recorders = clip_runs
    for directory, recorder in zip(directories, recorders):
        run = run_from_model(directory)
        assert run.losses == pytest.approx(recorder.losses) and run.grad_norms == pytest.approx(recorder.grad_norms)
        assert run.valid_accuracy == pytest.approx(recorder.valid_accuracy) and len(run.valid_accuracy) == 2
        assert len(run.losses) == 2 * 13  # 200 reviews, batches of 16
    clipped, unclipped = (run_from_model(d) for d in directories)
    assert (clipped.clip_norm, unclipped.clip_norm) == (1.0, 0.0) and clipped.seed == unclipped.seed
    assert clipped.grad_norms[0] == pytest.approx(unclipped.grad_norms[0])  # same seed, same first step
    assert clipped.cell == unclipped.cell == "rnn"


def test_the_clipping_chart_names_the_runs_cells(monkeypatch, tmp_path):
    """Its title said "Vanilla RNN" over `reviewrnn clipping` of two LSTMs."""
    pytest.importorskip("matplotlib")
    from reviewrnn.lab import charts

    titles = []
    monkeypatch.setattr(charts, "_save", lambda figure, path: titles.append(figure.axes[0].get_title()))
    run = ClipRun("r", 1.0, 0, [0.7, 0.6], [0.5, 2.0], [0.6]).to_dict()
    old_results = {key: value for key, value in run.items() if key != "cell"}  # a results.json from before
    for runs in ([run | {"cell": "lstm"}], [run | {"cell": "gru"}, run | {"cell": "lstm"}], [old_results]):
        charts.clipping_chart(runs, tmp_path / "c.png")
    assert titles == [
        "LSTM with and without gradient clipping",
        "GRU, LSTM with and without gradient clipping",
        "Vanilla RNN with and without gradient clipping",
    ]


def test_clipping_cli(clip_runs, tmp_path):
    directories, _ = clip_runs
    runner = CliRunner()
    runs = json.loads(runner.invoke(app, ["clipping", *map(str, directories), "--json"]).stdout)
    assert [run["clip_norm"] for run in runs] == [1.0, 0.0] and runs[0]["summary"]["steps"] == 26
    human = runner.invoke(app, ["clipping", *map(str, directories)])
    assert human.exit_code == 0 and "off" in human.stdout and "ok" in human.stdout
    assert runner.invoke(app, ["clipping", str(tmp_path / "none")]).exit_code == 1
    if pytest.importorskip("matplotlib"):
        png = tmp_path / "clip.png"
        assert runner.invoke(app, ["clipping", *map(str, directories), "--png", png]).exit_code == 0
        assert png.stat().st_size > 1000
