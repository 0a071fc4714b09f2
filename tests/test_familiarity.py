"""familiarity.py: a review's mean per-token loss under the forward LM (numpy, equal to torch's), as a
percentile of TRAIN's; kept by `train --init`, reported by `predict --familiarity --format jsonl`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_configs
from safetensors.numpy import load_file
from typer.testing import CliRunner

from reviewrnn.cli import app
from reviewrnn.familiarity import KEPT, PROFILE_FILE, WEIGHTS_FILE, Familiarity, forward_shape
from reviewrnn.lm import LanguageModel

SMALL = ["--threads", "1", "--device", "cpu", "--epochs", "1", "--batch-size", "16", "--max-tokens", "64"]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_losses_equal_the_torch_language_model_forward_direction(cell):
    model_config, _, _ = tiny_configs(cell=cell, bidirectional=False, dropout=0.0)
    model_config.vocab_size = 1400  # adaptive softmax: a head of 70 ids and two clusters (cutoffs 70, 350)
    torch.manual_seed(3)
    lm = LanguageModel(model_config).eval()
    lm.set_output_order(torch.randint(0, 1000, (1400,)))  # ranks differ from ids, as after pretraining
    weights = {k: v.detach().numpy().copy() for k, v in lm.state_dict().items() if k.startswith(KEPT)}
    assert {"forward_softmax.tail.0.0.weight", "forward_softmax.tail.1.0.weight"} <= set(weights)
    familiarity = Familiarity(forward_shape(model_config), weights, np.array([1.0, 2.0]))
    generator = np.random.default_rng(0)
    reviews = [generator.integers(1, 1400, size=n) for n in (2, 9, 30, 17, 60)]
    got = familiarity.losses(reviews + [np.array([5])])
    for review, loss in zip(reviews, got):
        with torch.no_grad():
            total, count = lm(torch.from_numpy(review[None, :]), torch.tensor([len(review)]))
        assert count == len(review) - 1
        assert loss == pytest.approx(float(total) / count, rel=1e-5)
    assert np.isnan(got[-1])  # one token: nothing to predict


def test_a_review_gets_the_same_loss_bits_in_any_company():
    """Alone or among others (other row counts, other slices of the softmax): the same loss, bit for bit."""
    model_config, _, _ = tiny_configs(cell="lstm", bidirectional=False, dropout=0.0)
    model_config.vocab_size = 1400
    torch.manual_seed(4)
    lm = LanguageModel(model_config).eval()
    weights = {k: v.detach().numpy().copy() for k, v in lm.state_dict().items() if k.startswith(KEPT)}
    familiarity = Familiarity(forward_shape(model_config), weights, np.array([1.0, 2.0]))
    generator = np.random.default_rng(1)
    reviews = [generator.integers(1, 1400, size=n) for n in generator.integers(2, 90, size=150)]
    together = familiarity.losses(reviews)
    alone = np.array([familiarity.losses([review])[0] for review in reviews[:30]])
    np.testing.assert_array_equal(alone, together[:30])


def test_percentile_is_the_share_of_train_reviews_found_harder():
    model_config, _, _ = tiny_configs(bidirectional=False)
    model_config.vocab_size = 300
    weights = {k: v.numpy() for k, v in LanguageModel(model_config).state_dict().items() if k.startswith(KEPT)}
    familiarity = Familiarity(forward_shape(model_config), weights, np.array([4.0, 1.0, 3.0, 2.0]))
    got = familiarity.percentiles(np.array([0.5, 2.5, 4.0, 9.0, np.nan]))
    np.testing.assert_array_equal(got[:4], [100.0, 50.0, 0.0, 0.0])
    assert np.isnan(got[4])


@pytest.fixture(scope="module")
def init_model(pretrained_lm, session_corpus, tmp_path_factory):
    """A classifier trained from the session's tiny LM: it keeps the LM's forward direction."""
    models = tmp_path_factory.mktemp("familiar-models")
    args = ["train", "--corpus", str(session_corpus), "--init", str(pretrained_lm), *SMALL]
    result = CliRunner().invoke(app, [*args, "--name", "familiar"], env={"REVIEWRNN_MODELS": str(models)})
    assert result.exit_code == 0, result.output
    return models / "familiar"


def test_train_init_keeps_the_forward_lm_and_train_losses(init_model, pretrained_lm):
    kept = load_file(str(init_model / WEIGHTS_FILE))
    lm = load_file(str(pretrained_lm / "model.safetensors"))
    assert set(kept) == {name for name in lm if name.startswith(KEPT)}
    assert not any(name.startswith(("backward_", "head")) for name in kept)
    for name, value in kept.items():
        np.testing.assert_array_equal(value, lm[name])  # the LM's own weights, not the fine-tuned ones
    reference = json.loads((init_model / PROFILE_FILE).read_text())["reference_losses"]
    assert len(reference) > 50 and reference == sorted(reference) and all(x > 0 for x in reference)


def test_predict_reports_familiarity_and_other_text_reads_less_familiar(init_model, session_corpus):
    import csv

    with session_corpus.open(encoding="utf-8") as handle:
        reviews = [row["review"] for row in csv.DictReader(handle)][:60]
    other = [
        "The kernel schedules threads across cores; a mutex guards the queue and the scheduler preempts it.",
        "Add two cups of flour, stir in the eggs, then bake at 180 degrees for forty minutes until golden.",
        "Article 3: the parties agree that payment is due within thirty days of the invoice date.",
    ] * 20
    text = "\n".join(reviews + other + [""]) + "\n"
    args = ["predict", "--model", str(init_model), "--format", "jsonl", "--familiarity", "-"]
    result = CliRunner().invoke(app, args, input=text)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 121 and rows[-1]["familiarity"] is None  # the blank line
    ours = np.median([row["familiarity"] for row in rows[:60]])
    theirs = np.median([row["familiarity"] for row in rows[60:120]])
    assert 20 <= ours <= 80 and theirs < ours - 20, (ours, theirs)


def _flat(output: str) -> str:
    """The usage error's single line."""
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


def test_familiarity_needs_jsonl_one_model_and_an_lm(init_model, trained_model):
    runner = CliRunner()
    result = runner.invoke(app, ["predict", "--model", str(init_model), "--familiarity", "good film"])
    assert result.exit_code == 2 and "add --format jsonl" in _flat(result.output)
    assert "Invalid value for '--format'" not in _flat(result.output)  # --format was not given
    traced = ["predict", "--model", str(init_model), "--format", "jsonl", "--trace", "--familiarity", "good film"]
    result = runner.invoke(app, traced)
    assert result.exit_code == 2 and "does not go with --trace" in _flat(result.output)
    result = runner.invoke(
        app, ["predict", "-m", str(init_model), "-m", str(init_model), "--format", "jsonl", "--familiarity", "x"]
    )
    assert result.exit_code == 2 and "single --model" in _flat(result.output)
    result = runner.invoke(app, ["predict", "--model", str(trained_model), "--format", "jsonl", "--familiarity", "x"])
    assert result.exit_code == 1 and "train with --init" in result.output
    assert len(result.output.strip().splitlines()) == 1
    plain = runner.invoke(app, ["predict", "--model", str(init_model), "--format", "jsonl", "good film"])
    assert plain.exit_code == 0 and "familiarity" not in json.loads(plain.stdout)


def test_evaluate_summarises_familiarity_only_for_a_model_with_an_lm(init_model, model_copy):
    result = CliRunner().invoke(app, ["evaluate", str(init_model), "--json", "--threads", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["familiarity"]
    assert summary["reviews"] == summary["of"] > 0  # a small split: every review, no sample
    assert 20 <= summary["median"] <= 80 and 0 <= summary["below_5"] <= 0.3
    shown = CliRunner().invoke(app, ["evaluate", str(init_model), "--threads", "1"])
    assert "Familiarity median" in shown.stdout
    plain = CliRunner().invoke(app, ["evaluate", str(model_copy), "--json", "--threads", "1"])
    assert json.loads(plain.stdout)["familiarity"] is None


def _damage(profile: dict, how: str) -> dict:
    if how == "hidden":
        profile["model"]["hidden"] = 64
    else:
        profile["reference_losses"] = []
    return profile


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("weights", "familiarity.safetensors: unreadable"),
        ("profile", "familiarity.json: not a familiarity profile"),
        ("hidden", "familiarity.safetensors: tensor forward_layers.0.weight_ih_l0 is shaped"),
        ("empty", "familiarity.json: the model must be one-way and reference_losses a non-empty list"),
        ("missing", "familiarity.safetensors: missing"),
    ],
)
def test_damaged_familiarity_files_are_one_line_naming_the_file(init_model, tmp_path, damage, fragment):
    import shutil

    copy = Path(shutil.copytree(init_model, tmp_path / "copy"))
    profile_path = copy / PROFILE_FILE
    if damage in ("weights", "profile"):
        (copy / (WEIGHTS_FILE if damage == "weights" else PROFILE_FILE)).write_text("garbage")
    elif damage == "missing":
        (copy / WEIGHTS_FILE).unlink()
    else:
        profile_path.write_text(json.dumps(_damage(json.loads(profile_path.read_text()), damage)))
    args = ["predict", "--model", str(copy), "--format", "jsonl", "--familiarity", "good film"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and fragment in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    report = CliRunner().invoke(app, ["evaluate", str(copy), "--json", "--threads", "1"])
    assert report.exit_code == 0, report.output  # the classifier is fine: evaluate scores it and says why not
    assert fragment in json.loads(report.stdout)["familiarity"]["unreadable"]


def test_predict_threads_reach_the_familiarity_pass(init_model):
    """predict --threads 1 leaves the other cores alone in the LM pass as well as the classifier's."""
    from reviewrnn.predict import load_predictor

    predictor = load_predictor([init_model], familiarity=True, threads=1)
    assert predictor.engine.threads == 1 and predictor.familiarity.encoder.threads == 1
