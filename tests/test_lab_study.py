"""study: the whole experiment on a tiny corpus with a tiny plan; a rerun reuses every run; the CLI."""

from __future__ import annotations

import json

import pytest
from conftest import write_table
from labdata import sentence_reviews
from typer.testing import CliRunner

from reviewrnn.cli import app
from reviewrnn.lab.plan import StudyPlan, run_specs
from reviewrnn.lab.probe import SyntheticSettings
from reviewrnn.lab.study import run_study


def tiny_plan(corpus) -> StudyPlan:
    synthetic = SyntheticSettings(
        distances=(0, 2), train_size=48, valid_size=16, test_per_distance=16, epochs=1, hidden=4, embed=4
    )
    return StudyPlan(
        corpus=str(corpus), embed=8, hidden=8, epochs=1, batch_size=32, lr=0.01, max_tokens=20, vocab_size=200,
        clip_seeds=(0, 1), threads=1, filler_distances=(0, 8), filler_reviews=10, short_max=16, gradient_reviews=4,
        synthetic=synthetic,
    )  # fmt: skip


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    plan = tiny_plan(write_table(root / "reviews.csv", sentence_reviews(400)))
    stages = []
    results = run_study(plan, root / "out", charts=False, callbacks=_recording(stages))
    return plan, root / "out", results, stages


def _recording(stages):
    from reviewrnn.lab.study import Callbacks

    return Callbacks(stage=stages.append)


def test_run_specs_share_the_plain_rnn_run():
    names = [spec.name for spec in run_specs(StudyPlan(clip_seeds=(0, 1, 2)))]
    assert names[:6] == ["rnn", "gru", "lstm", "rnn-mean", "rnn-max", "rnn-tail"]
    assert names[6:] == [
        "rnn-clip0-seed0", "rnn-clip0-seed1", "rnn-clip1-seed1", "rnn-clip0-seed2", "rnn-clip1-seed2",
    ]  # fmt: skip


def test_study_measures_everything(study):
    plan, out, results, stages = study
    assert set(results["runs"]) == {spec.name for spec in run_specs(plan)}
    assert [m["name"] for m in results["compare"]] == list(results["runs"])  # every saved run, in order
    assert [c["name"] for c in results["filler"]["curves"]] == ["rnn", "gru", "lstm", "rnn-mean", "rnn-max"]
    assert set(results["synthetic"]) == {"per-distance", "mixed"}
    assert {(f["name"], f["state"]) for f in results["gradients"]} >= {("rnn", "init"), ("lstm", "trained")}
    assert [(r["name"], r["clip_norm"]) for r in results["clipping"]] == [
        ("rnn-clip0-seed0", 0.0), ("rnn", 1.0), ("rnn-clip0-seed1", 0.0), ("rnn-clip1-seed1", 1.0),
    ]  # fmt: skip
    assert all(r["summary"]["steps"] > 0 and r["summary"]["test_accuracy"] is not None for r in results["clipping"])
    assert json.loads((out / "results.json").read_text())["plan"]["clip_seeds"] == [0, 1]
    report = (out / "REPORT.md").read_text()
    for heading in ("## What the numbers say", "## 1. Accuracy by review length", "## 4. Gradient flow"):
        assert heading in report
    assert "![" not in report  # charts=False: no images referenced
    assert any(stage.startswith("training rnn-tail") for stage in stages)


def test_rerun_reuses_every_run_and_cli_draws_charts(study, monkeypatch):
    pytest.importorskip("matplotlib")
    plan, out, first, _ = study
    monkeypatch.setattr(StudyPlan, "quick", classmethod(lambda cls, threads=None, corpus="imdb": plan))
    result = CliRunner().invoke(app, ["study", "--quick", "--out", str(out), "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'REPORT.md'}" in result.stdout
    assert "reusing rnn" in result.stderr and "training rnn" not in result.stderr
    again = json.loads((out / "results.json").read_text())
    assert again["runs"] == json.loads(json.dumps(first["runs"]))
    assert (out / "length-cells.png").is_file() and "![accuracy by length per cell](length-cells.png)" in (
        out / "REPORT.md"
    ).read_text()
