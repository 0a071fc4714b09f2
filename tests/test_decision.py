"""The fitted decision end to end: temperature after training, --find-threshold on VALID only, predict's
--threshold in every format, old model directories, and the multi-class refusal."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_reviews, tiny_configs, write_table
from typer.testing import CliRunner

from reviewrnn.artifacts import CONFIG_FILE, load_model
from reviewrnn.calibration import apply_temperature
from reviewrnn.cli import app
from reviewrnn.config import DecisionConfig
from reviewrnn.domain import DOMAIN_FILE
from reviewrnn.predict import Predictor
from reviewrnn.runs import train_step
from reviewrnn.scoring import evaluate_step
from reviewrnn.source import CorpusSettings
from reviewrnn.splits import is_test_text

TEXTS = ["great superb film", "awful boring plot", "the music was wonderful", "a dreadful story", "the cast"]


def cli(*args, code=0):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
    return result


def edit_config(directory: Path, **decision) -> None:
    path = directory / CONFIG_FILE
    raw = json.loads(path.read_text())
    raw["decision"] = raw.get("decision", {}) | decision
    path.write_text(json.dumps(raw))


def make_old(directory: Path) -> Path:
    """What a model trained before this feature looks like: no decision in config.json, no domain.json."""
    path = directory / CONFIG_FILE
    raw = json.loads(path.read_text())
    raw.pop("decision")
    raw["train"].pop("calibrate")
    path.write_text(json.dumps(raw))
    (directory / DOMAIN_FILE).unlink()
    return directory


def test_training_fits_a_temperature_and_a_domain_profile(trained_model):
    loaded = load_model(trained_model)
    assert loaded.config.decision.temperature is not None and loaded.config.decision.threshold is None
    assert loaded.domain is not None and loaded.domain.token_counts.sum() > 0


def test_no_calibrate_keeps_the_raw_probabilities_but_profiles_train(session_corpus, tmp_path):
    configs = tiny_configs(epochs=1, calibrate=False)
    train_step(CorpusSettings(str(session_corpus)), *configs, tmp_path / "raw")
    loaded = load_model(tmp_path / "raw")
    assert loaded.config.decision.temperature is None and loaded.domain is not None


def test_train_no_calibrate_flag(tiny_csv, isolated_env):
    tiny = ["--epochs", "1", "--hidden", "8", "--embed", "8", "--vocab-size", "100", "--threads", "1"]
    cli("train", "--corpus", tiny_csv, "--limit", "100", "--name", "raw", "--no-calibrate", *tiny)
    assert load_model(isolated_env["models"] / "raw").config.train.calibrate is False
    assert load_model(isolated_env["models"] / "raw").config.decision.temperature is None


def test_old_model_directories_load_with_the_behaviour_of_before(model_copy):
    old = make_old(model_copy)
    loaded = load_model(old)
    assert loaded.config.decision == DecisionConfig() and loaded.domain is None
    predictor = Predictor(old)
    rows = predictor.predict(TEXTS)
    ids = [np.asarray(loaded.tokenizer.encode(t, add_special_tokens=False).ids) for t in TEXTS]
    raw = np.concatenate([predictor.classifier.probabilities(i[None, :], np.array([len(i)])) for i in ids])
    assert [row.probabilities["positive"] for row in rows] == pytest.approx(raw[:, 1].tolist(), abs=1e-6)
    assert all(row.threshold is None and row.ood is None for row in rows)
    report = evaluate_step(old, split_name="valid")
    assert report["calibration"]["temperature"] is None and report["domain"] is None
    assert report["calibration"]["ece"] == report["calibration"]["ece_uncalibrated"]


def test_calibrate_fits_an_old_model_on_valid_and_saves_it(model_copy):
    old = make_old(model_copy)
    result = cli("evaluate", old, "--calibrate", "--split", "valid", "--threads", "1")
    assert "calibrated on VALID: temperature" in result.stderr
    loaded = load_model(old)
    assert loaded.config.decision.temperature is not None and loaded.domain is not None
    assert "ECE" in result.stdout and "Reliability" in result.stdout


def test_predict_applies_the_saved_temperature(model_copy, tmp_path):
    plain = make_old(Path(shutil.copytree(model_copy, tmp_path / "plain")))
    edit_config(model_copy, temperature=3.0)
    raw = np.array(
        [[r.probabilities["negative"], r.probabilities["positive"]] for r in Predictor(plain).predict(TEXTS)]
    )
    scaled = Predictor(model_copy).predict(TEXTS)
    assert [r.probabilities["positive"] for r in scaled] == pytest.approx(apply_temperature(raw, 3.0)[:, 1], abs=1e-6)
    rows = cli("predict", "-m", model_copy, "--format", "jsonl", *TEXTS).stdout.splitlines()
    assert [json.loads(row)["probability"] for row in rows] == pytest.approx([r.probability for r in scaled])


def rows_of(output_format: str, stdout: str) -> list[tuple[str, float]]:
    if output_format == "jsonl":
        return [(r["label"], r["probability"]) for r in map(json.loads, stdout.splitlines())]
    delimiter = "\t" if output_format == "tsv" else ","
    return [(label, float(p)) for label, p in csv.reader(io.StringIO(stdout), delimiter=delimiter)]


@pytest.mark.parametrize("output_format", ["tsv", "csv", "jsonl"])
def test_predict_applies_the_saved_threshold_and_threshold_overrides_it(model_copy, output_format):
    before = Predictor(model_copy).predict(TEXTS)
    positive = [r.probabilities["positive"] for r in before]
    distinct = sorted(set(positive))
    saved = (distinct[0] + distinct[1]) / 2  # all but the most negative text(s) reach it
    edit_config(model_copy, threshold=saved)
    expected = ["positive" if p >= saved else "negative" for p in positive]
    assert expected != [r.label for r in before] and "positive" in expected  # the threshold changed a label
    stdout = cli("predict", "-m", model_copy, "--format", output_format, *TEXTS).stdout
    rows = rows_of(output_format, stdout)
    assert [label for label, _ in rows] == expected
    chosen = [p if label == "positive" else 1 - p for label, p in zip(expected, positive)]
    assert [p for _, p in rows] == pytest.approx(chosen, abs=1e-4)  # the probability of the chosen label
    overridden = cli("predict", "-m", model_copy, "--format", output_format, "--threshold", 0, *TEXTS).stdout
    assert [label for label, _ in rows_of(output_format, overridden)] == ["positive"] * len(TEXTS)
    if output_format == "jsonl":
        assert {json.loads(row)["threshold"] for row in stdout.splitlines()} == {saved}
        assert {json.loads(row)["threshold"] for row in overridden.splitlines()} == {0.0}


def test_evaluate_applies_the_saved_threshold(model_copy):
    edit_config(model_copy, threshold=0.0)
    report = evaluate_step(model_copy, split_name="valid")
    assert report["threshold"] == 0.0
    assert report["per_class"]["positive"]["recall"] == 1.0 and report["per_class"]["negative"]["recall"] == 0.0


def test_recalibrating_moves_a_saved_threshold_so_every_decision_stays_the_same():
    from reviewrnn.fitting import rescale_threshold

    raw = np.random.default_rng(0).uniform(0.001, 0.999, 2000)  # none exactly on a threshold
    probabilities = np.stack([1 - raw, raw], axis=1)
    for old, new in ((None, 2.0), (0.8, 1.6), (2.0, None)):
        for threshold in (0.3, 0.5, 0.9):
            moved = rescale_threshold(threshold, old, new)
            before = apply_temperature(probabilities, old)[:, 1] >= threshold
            after = apply_temperature(probabilities, new)[:, 1] >= moved
            assert (before == after).all()
    assert rescale_threshold(0.0, 1.0, 2.0) == 0.0


def test_find_threshold_saves_what_it_prints(model_copy, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "decision.png"
    result = cli("evaluate", model_copy, "--find-threshold", "balanced-accuracy", "--png", png, "--threads", "1")
    decision = load_model(model_copy).config.decision
    assert decision.threshold is not None and decision.threshold_objective == "balanced-accuracy"
    assert "Threshold on VALID" in result.stdout and "← chosen" in result.stdout
    assert f"{decision.threshold:.4f}" in result.stdout
    assert png.stat().st_size > 1000


@pytest.mark.parametrize("cause", ["no matplotlib", "folder is a file", "a type it cannot write", "no type"])
def test_a_chart_that_cannot_be_drawn_fails_before_anything_is_saved(model_copy, tmp_path, monkeypatch, cause):
    """A file type matplotlib cannot write failed with its ValueError only after the threshold was saved."""
    config_before = (model_copy / CONFIG_FILE).read_bytes()
    png, code, said = tmp_path / "decision.png", 1, "cannot create its folder"
    if cause == "no matplotlib":
        monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
        said = "matplotlib"
    elif cause == "folder is a file":
        (tmp_path / "charts").write_text("a file where the folder would go")
        png = tmp_path / "charts" / "decision.png"
    else:
        pytest.importorskip("matplotlib")
        png, code = tmp_path / "new" / ("decision.txt" if cause == "a type it cannot write" else "decision"), 2
        said = "Invalid value for '--png'" if cause == "no type" else "matplotlib cannot write '.txt' files"
    args = ["evaluate", model_copy, "--find-threshold", "f1", "--calibrate", "--png", png, "--threads", "1"]
    result = cli(*args, code=code)
    assert said in result.stderr
    assert (model_copy / CONFIG_FILE).read_bytes() == config_before and not png.exists()
    assert not png.with_suffix(".png").exists() and not (tmp_path / "new").exists()  # no folder made either


def flip_test_labels(path: Path) -> None:
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    flip = {"negative": "positive", "positive": "negative"}
    body = [(text, flip[label] if is_test_text(text) else label) for text, label in rows[1:]]
    write_table(path, body)


def test_a_threshold_that_calls_a_handful_of_valid_reviews_one_class_is_warned_about(model_copy):
    """A new user's precision=0.95 on a weak model called 3 VALID reviews positive; TEST accuracy fell to 22.7%
    with only the curve table as a hint. The rule still picks it; a warning says what it rests on."""
    few = cli("evaluate", model_copy, "--find-threshold", "recall=0.01", "--json", "--threads", "1")
    search = json.loads(few.stdout)["threshold_search"]
    called = round(search["chosen"]["positive_share"] * search["count"])
    assert called < 30 and search["warning"].startswith(f"the chosen threshold calls {called} of VALID's")
    assert f"warning: {search['warning']}" in few.stderr
    balanced = cli("evaluate", model_copy, "--find-threshold", "balanced-accuracy", "--json", "--threads", "1")
    assert json.loads(balanced.stdout)["threshold_search"]["warning"] is None and "warning" not in balanced.stderr


def test_find_threshold_reads_valid_and_never_test(tmp_path):
    """TEST's labels flipped would move any threshold chosen on it; the one chosen on VALID stays put."""
    corpus = write_table(tmp_path / "noisy.csv", synthetic_reviews(600, seed=3, polarity_words=1, words=(10, 30)))
    directory = tmp_path / "model"
    train_step(CorpusSettings(str(corpus)), *tiny_configs(epochs=2), directory)
    first = cli("evaluate", directory, "--find-threshold", "f1", "--json", "--threads", "1")
    flip_test_labels(corpus)
    again = cli("evaluate", directory, "--find-threshold", "f1", "--json", "--threads", "1")
    before, after = json.loads(first.stdout), json.loads(again.stdout)
    assert before["threshold_search"]["chosen"] == after["threshold_search"]["chosen"]
    assert before["threshold_search"]["count"] == load_model(directory).config.corpus.sizes["valid"]
    assert before["accuracy"] + after["accuracy"] == pytest.approx(1.0)  # TEST itself did change


def test_a_threshold_needs_two_classes(tmp_path):
    corpus = write_table(tmp_path / "three.csv", synthetic_reviews(240, classes=("bad", "fine", "good")))
    directory = tmp_path / "three"
    train_step(CorpusSettings(str(corpus)), *tiny_configs(epochs=1), directory)
    for args in (
        ["evaluate", directory, "--find-threshold", "f1"],
        ["predict", "-m", directory, "--threshold", 0.5, "ok"],
    ):
        result = cli(*args, code=1)
        assert (
            result.stderr.count("\n") == 1
            and "a decision threshold needs two classes, this model has 3" in result.stderr
        )


def test_find_threshold_fits_one_model_and_rejects_a_bad_objective(model_copy, trained_model):
    assert "single MODEL" in cli("evaluate", model_copy, trained_model, "--calibrate", code=2).stderr
    result = cli("evaluate", model_copy, "--find-threshold", "precision", code=2)  # a usage error
    line = " ".join(result.stderr.split())  # one line, however wide the terminal
    assert "give f1, balanced-accuracy, precision=X or recall=X" in line
    assert load_model(model_copy).config.decision.threshold is None


def test_threshold_chart_leaves_a_gap_where_precision_is_undefined():
    import math

    from reviewrnn.calibration_chart import _defined

    nobody = {"precision": 0.0, "recall": 0.0, "positive_share": 0.0}
    assert math.isnan(_defined(nobody, "precision")) and _defined(nobody, "recall") == 0.0
    assert _defined({"precision": 0.8, "positive_share": 0.1}, "precision") == 0.8


@pytest.mark.parametrize("flag", [["--calibrate"], ["--find-threshold", "f1"]])
def test_evaluate_does_not_rewrite_a_model_that_a_run_is_writing(model_copy, flag):
    """`train --force` or `--resume` into the same directory would swap it away under the rewrite."""
    from reviewrnn.modellock import training_lock

    before = (model_copy / "config.json").read_bytes()
    with training_lock(model_copy):
        result = cli("evaluate", model_copy, *flag, "--threads", "1", code=1)
    assert "being written by another run" in result.stderr
    assert (model_copy / "config.json").read_bytes() == before


def test_an_extended_run_chooses_its_saved_threshold_again_for_the_new_weights(session_corpus, isolated_env):
    """A trial's threshold, fitted on epoch 2's weights, stayed in force after `train --resume --epochs 4` without
    a word. It is chosen again for its objective, as a fresh --find-threshold on the new weights would."""
    from reviewrnn.fitting import threshold_step
    from reviewrnn.runs import resume_step

    directory = isolated_env["models"] / "extended"
    settings = CorpusSettings(str(session_corpus))
    train_step(settings, *tiny_configs(epochs=2, schedule="constant", patience=9, limit=300), directory)
    old = threshold_step(directory, "recall=0.99")["chosen"]["threshold"]
    outcome = resume_step(directory, epochs=4)
    refitted = load_model(directory).config.decision
    assert refitted.threshold_objective == "recall=0.99" and refitted.threshold != old
    assert outcome.threshold_refit == (
        f"the threshold for recall=0.99 refitted on VALID for the new weights: {old:.4f} -> {refitted.threshold:.4f}"
    )
    assert threshold_step(directory, "recall=0.99")["chosen"]["threshold"] == refitted.threshold


def test_find_threshold_none_removes_a_saved_threshold(model_copy):
    """A trial's precision=0.95 took TEST accuracy to 23%; the only way back was editing config.json."""
    cli("evaluate", model_copy, "--find-threshold", "recall=0.99", "--threads", "1")
    saved = load_model(model_copy).config.decision.threshold
    assert saved is not None
    removed = cli("evaluate", model_copy, "--find-threshold", "none", "--json", "--threads", "1")
    assert f"removed the saved threshold {saved:.4f}: the most probable label decides" in removed.stderr
    decision = load_model(model_copy).config.decision
    assert decision.threshold is None and decision.threshold_objective is None
    assert json.loads(removed.stdout)["threshold"] is None and "threshold_search" not in json.loads(removed.stdout)
    again = cli("evaluate", model_copy, "--find-threshold", "none", "--threads", "1")
    assert "no threshold was saved: the most probable label decides" in again.stderr
