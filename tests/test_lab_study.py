"""study: the whole experiment on a tiny corpus with a tiny plan; a rerun reuses every run; the CLI."""

from __future__ import annotations

import json

import pytest
from conftest import write_table
from labdata import sentence_reviews
from typer.testing import CliRunner

from reviewrnn.cli import app
from reviewrnn.lab.plan import StudyPlan, run_configs, run_specs
from reviewrnn.lab.probe import SyntheticSettings
from reviewrnn.lab.study import run_study


def tiny_plan(corpus) -> StudyPlan:
    synthetic = SyntheticSettings(
        distances=(0, 2), train_size=48, valid_size=16, test_per_distance=16, epochs=1, hidden=4, embed=4
    )
    return StudyPlan(
        corpus=str(corpus), embed=8, hidden=8, epochs=1, batch_size=32, lr=0.01, cut_tokens=12, vocab_size=200,
        seeds=(0, 1), clip_seeds=(0, 2), threads=1, filler_distances=(0, 8), filler_reviews=10, short_max=16,
        move_reviews=12, gradient_reviews=4, synthetic=synthetic,
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


def test_run_specs_share_the_plain_rnn_runs():
    specs = run_specs(StudyPlan(seeds=(0, 1, 2), clip_seeds=(0, 1, 3)))
    names = [spec.name for spec in specs]
    assert names[:9] == [
        "rnn", "gru", "lstm", "rnn-seed1", "gru-seed1", "lstm-seed1", "rnn-seed2", "gru-seed2", "lstm-seed2",
    ]  # fmt: skip
    assert names[9:] == [
        "rnn-mean", "rnn-max", "rnn-head", "rnn-tail",
        "rnn-clip0-seed0", "rnn-clip0-seed1", "rnn-clip0-seed3", "rnn-clip1-seed3",
    ]  # fmt: skip
    assert [spec.max_tokens for spec in specs if spec.role == "truncation"] == [400, 400]
    assert all(spec.max_tokens is None for spec in specs if spec.role != "truncation")  # read whole


def test_the_study_keeps_torchs_embedding_scale_whatever_train_defaults_to():
    plan = StudyPlan(seeds=(0,), clip_seeds=(0,))
    for spec in run_specs(plan):
        model, _, _ = run_configs(plan, spec, whole_tokens=500)
        assert model.embed_init == 1.0, spec.name  # the study's figures were measured with it


def test_read_whole_never_truncates(study):
    from reviewrnn.artifacts import load_config
    from reviewrnn.lab.sources import model_split
    from reviewrnn.tokenizer import encode, load_tokenizer

    plan, out, results, _ = study
    tokenizer = load_tokenizer(out / "tokenizer.json")
    split = model_split(load_config(out / "models" / "rnn"))
    longest = max(len(ids) for part in (split.train, split.valid, split.test) for ids in encode(tokenizer, part.texts))
    assert results["whole"]["longest"] == longest > plan.cut_tokens  # recorded, and the cut runs do cut
    for model in results["compare"]:
        config = load_config(out / "models" / model["name"])
        if model["name"] in ("rnn-head", "rnn-tail"):
            assert config.train.max_tokens == plan.cut_tokens and model["truncated"] > 0
        else:
            assert config.train.max_tokens >= longest and model["truncated"] == 0
            assert not any(row["cut"] and row["count"] for row in model["rows"])  # no review falls past the limit


def test_study_measures_everything(study):
    plan, out, results, stages = study
    assert set(results["runs"]) == {spec.name for spec in run_specs(plan)}
    assert [m["name"] for m in results["compare"]] == list(results["runs"])  # every saved run, in order
    assert [c["name"] for c in results["filler"]["curves"]] == ["rnn", "gru", "lstm", "rnn-mean", "rnn-max"]
    assert set(results["synthetic"]) == {"per-distance", "mixed"}
    assert {(f["name"], f["state"]) for f in results["gradients"]} >= {("rnn", "init"), ("lstm", "trained")}
    assert [(r["name"], r["clip_norm"]) for r in results["clipping"]] == [
        ("rnn-clip0-seed0", 0.0), ("rnn", 1.0), ("rnn-clip0-seed2", 0.0), ("rnn-clip1-seed2", 1.0),
    ]  # fmt: skip
    assert [(m["name"], m["cell"], m["seed"]) for m in results["moves"]] == [
        ("rnn", "rnn", 0), ("gru", "gru", 0), ("lstm", "lstm", 0),
        ("rnn-seed1", "rnn", 1), ("gru-seed1", "gru", 1), ("lstm-seed1", "lstm", 1),
    ]  # fmt: skip
    assert [cell["runs"] for cell in results["seeds"]["cells"]][0] == ["rnn", "rnn-seed1"]
    longest = results["whole"]["test_top"][plan.gradient_reviews - 1]
    assert {flow["length"] for flow in results["gradients"]} == {longest}
    assert all(r["summary"]["steps"] > 0 and r["summary"]["test_accuracy"] is not None for r in results["clipping"])
    assert json.loads((out / "results.json").read_text())["plan"]["clip_seeds"] == [0, 2]
    report = (out / "REPORT.md").read_text()
    headings = ("## The answer", "## What the numbers say", "## 1. Accuracy by review length", "## 3. The verdict")
    for heading in (*headings, "## 5. Gradient flow"):
        assert heading in report
    assert "![" not in report  # charts=False: no images referenced
    cpu = results["machine"]["cpu"]
    assert cpu and f"| machine | {cpu} (" in report  # the CPU beside every figure
    assert any(stage.startswith("training rnn-tail (truncation) · run 10/13 · ~") for stage in stages)


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
    report = (out / "REPORT.md").read_text()
    for chart, alt in (
        ("length-cells", "accuracy by length per cell, seed 0"),
        ("length-seeds", "accuracy by length over seeds"),
        ("move", "accuracy by distance of the moved sentence"),
    ):
        assert (out / f"{chart}.png").is_file() and f"![{alt}]({chart}.png)" in report
