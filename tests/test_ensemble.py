"""Ensembles: `predict -m A -m B` and `evaluate A B` average the members' probabilities."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from reviewrnn.cli import app
from reviewrnn.errors import ReviewRNNError
from reviewrnn.predict import EnsemblePredictor, Predictor, load_predictor
from reviewrnn.scoring import evaluate_step
from tests.conftest import tiny_configs

TEXTS = ["a great superb film", "", "awful boring plot", "wonderful but dreadful", "   "]


@pytest.fixture(scope="module")
def second_model(session_env, session_corpus) -> Path:
    """A second tiny GRU on the same corpus, from another seed and with another width."""
    from reviewrnn.runs import train_step
    from reviewrnn.source import CorpusSettings

    model_config, train_config, tokenizer_config = tiny_configs(epochs=2, seed=1, hidden=12)
    directory = session_env / "models" / "tiny-gru-seed-1"
    if not directory.exists():
        train_step(CorpusSettings(str(session_corpus)), model_config, train_config, tokenizer_config, directory)
    return directory


def test_ensemble_probabilities_are_the_members_mean(trained_model, second_model):
    first, second = Predictor(trained_model), Predictor(second_model)
    ensemble = load_predictor([trained_model, second_model])
    assert isinstance(ensemble, EnsemblePredictor)
    for text, mine, a, b in zip(
        TEXTS, ensemble.predict(TEXTS), first.predict(TEXTS), second.predict(TEXTS), strict=True
    ):
        if not text.strip():
            assert mine.label is None and mine.probabilities is None
            continue
        for name in ensemble.label_names:
            assert mine.probabilities[name] == pytest.approx((a.probabilities[name] + b.probabilities[name]) / 2)
        assert mine.label == max(mine.probabilities, key=mine.probabilities.get)
        assert a.probabilities != b.probabilities  # the members really differ
    assert [line for line, _ in ensemble.stream(TEXTS, chunk_lines=2)] == TEXTS


def test_one_model_is_a_plain_predictor(trained_model):
    assert type(load_predictor([trained_model])) is Predictor


def test_members_must_share_labels_and_truncation_side(trained_model, tmp_path):
    renamed = edited_copy(trained_model, tmp_path, "renamed", lambda c: c["corpus"].update(label_names=["bad", "good"]))
    with pytest.raises(ReviewRNNError, match="labels .* differ"):
        EnsemblePredictor([trained_model, renamed])
    head = edited_copy(trained_model, tmp_path, "head", lambda c: c["train"].update(truncate="head"))
    with pytest.raises(ReviewRNNError, match="same --truncate"):
        EnsemblePredictor([trained_model, head])
    with pytest.raises(ReviewRNNError, match="--model"):
        load_predictor([])


def test_evaluate_scores_the_mean_and_writes_no_eval_json(trained_model, second_model):
    from reviewrnn.artifacts import load_model
    from reviewrnn.calibration import apply_temperature
    from reviewrnn.metrics import classification_report
    from reviewrnn.scoring import _model_probabilities
    from reviewrnn.source import CorpusSettings

    for directory in (trained_model, second_model):
        evaluate_step(directory, device_name="cpu", threads=1)  # each has its eval.json now
    before = {d: (d / "eval.json").read_bytes() for d in (trained_model, second_model)}
    report = evaluate_step([trained_model, second_model], device_name="cpu", threads=1)
    assert report["model"] == [str(trained_model), str(second_model)]
    assert {d: (d / "eval.json").read_bytes() for d in (trained_model, second_model)} == before

    members = [load_model(d) for d in (trained_model, second_model)]
    settings = CorpusSettings(members[0].config.corpus.name)
    scored = [_model_probabilities(m, settings, "test", torch.device("cpu"), ([], [], [])) for m in members]
    encoded = scored[0][0]
    calibrated = [apply_temperature(p, m.config.decision.temperature) for (_, p, _), m in zip(scored, members)]
    mean = (calibrated[0] + calibrated[1]) / 2  # each member's own temperature, then the mean
    expected = classification_report(mean, encoded.labels, ["negative", "positive"], encoded.full_lengths)
    assert report["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-12)
    assert report["log_loss"] == pytest.approx(expected["log_loss"], abs=1e-9)
    assert not np.allclose(scored[0][1], scored[1][1])  # the members really differ


def edited_copy(model: Path, tmp_path: Path, name: str, edit) -> Path:
    other = Path(shutil.copytree(model, tmp_path / name))
    config = json.loads((other / "config.json").read_text())
    edit(config)
    (other / "config.json").write_text(json.dumps(config))
    return other


def test_evaluate_checks_members_before_scoring(trained_model, tmp_path):
    renamed = edited_copy(trained_model, tmp_path, "renamed", lambda c: c["corpus"].update(label_names=["bad", "good"]))
    with pytest.raises(ReviewRNNError, match="labels .* differ"):
        evaluate_step([trained_model, renamed], device_name="cpu", threads=1)
    resplit = edited_copy(trained_model, tmp_path, "resplit", lambda c: c["train"].update(valid_fraction=0.2))
    with pytest.raises(ReviewRNNError, match="valid-fraction .* valid splits differ"):
        evaluate_step([trained_model, resplit], split_name="valid", device_name="cpu", threads=1)
    # TEST does not depend on the valid fraction: the same weights twice score as one model
    assert evaluate_step([trained_model, resplit], threads=1)["accuracy"] == pytest.approx(
        evaluate_step([trained_model], threads=1)["accuracy"]
    )


def test_cli_predict_and_evaluate_with_several_models(trained_model, second_model):
    runner = CliRunner()
    result = runner.invoke(app, ["predict", "-m", str(trained_model), "-m", str(second_model), "a great film"])
    assert result.exit_code == 0, result.stderr
    expected = load_predictor([trained_model, second_model]).predict(["a great film"])[0]
    label, probability = result.stdout.strip().split("\t")
    assert label == expected.label and float(probability) == pytest.approx(expected.probability, abs=1e-4)

    result = runner.invoke(app, ["evaluate", str(trained_model), str(second_model), "--json", "--threads", "1"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["model"] == [str(trained_model), str(second_model)]


def test_trace_needs_one_model(trained_model, second_model):
    result = CliRunner().invoke(
        app, ["predict", "--trace", "-m", str(trained_model), "-m", str(second_model), "a great film"]
    )
    assert result.exit_code == 2 and "one model" in result.stderr


def test_an_ensemble_says_its_members_saved_thresholds_are_not_used(trained_model, second_model, tmp_path):
    """A new user's ensemble dropped a member's fitted threshold (0.5604) without a word."""
    with_threshold = lambda c: c.setdefault("decision", {}).update(threshold=0.7)  # noqa: E731
    fitted = edited_copy(trained_model, tmp_path, "fitted", with_threshold)
    runner = CliRunner()
    result = runner.invoke(app, ["predict", "-m", str(fitted), "-m", str(second_model), "a great film"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == (
        f"note: saved thresholds not used ({fitted}: 0.7): an ensemble takes the most probable label of the "
        "members' mean probabilities; give --threshold to set one for it"
    )
    given = runner.invoke(app, ["predict", "-m", str(fitted), "-m", str(second_model), "--threshold", "0.6", "x"])
    assert given.exit_code == 0 and given.stderr == ""
    scored = runner.invoke(app, ["evaluate", str(fitted), str(second_model), "--json", "--threads", "1"])
    assert json.loads(scored.stdout)["unused_thresholds"] == {str(fitted): 0.7}  # evaluate's ensemble too
    assert f"note: saved thresholds not used ({fitted}: 0.7)" in scored.stderr
    assert "; predict --threshold sets one for it" in scored.stderr  # evaluate has no --threshold to advise
    alone = runner.invoke(app, ["predict", "-m", str(fitted), "--format", "jsonl", "a great film"])
    assert alone.stderr == "" and json.loads(alone.stdout)["threshold"] == 0.7  # one model uses its own
