"""The trace (`predict --trace`): per-step probabilities equal running the model on each prefix."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from reviewrnn.calibration import apply_temperature
from reviewrnn.cli import app
from reviewrnn.config import CELLS, POOLS, ModelConfig
from reviewrnn.inference import NumpyClassifier, expected_shapes
from reviewrnn.predict import Predictor
from reviewrnn.render import sparkline, trace_view
from reviewrnn.trace import trace_text

SHAPES = list(itertools.product(CELLS, (False, True), (1, 2), POOLS))


def random_classifier(cell, bidirectional, layers, pool, seed=0) -> NumpyClassifier:
    config = ModelConfig(
        cell=cell,
        vocab_size=30,
        num_classes=3,
        embed=5,
        hidden=6,
        layers=layers,
        bidirectional=bidirectional,
        pool=pool,
    )
    rng = np.random.default_rng(seed)
    weights = {
        name: rng.normal(0, 0.8, size=shape).astype(np.float32) for name, shape in expected_shapes(config).items()
    }
    return NumpyClassifier(config, weights)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}-{'bi' if s[1] else 'uni'}-{s[2]}L-{s[3]}")
def test_step_probabilities_equal_each_prefix_run_alone(shape):
    classifier = random_classifier(*shape)
    ids = np.random.default_rng(1).integers(1, 30, size=11)
    steps = classifier.step_probabilities(ids)
    assert steps.shape == (11, 3)
    for t in range(11):
        alone = classifier.probabilities(ids[None, : t + 1], np.array([t + 1]))[0]
        np.testing.assert_allclose(steps[t], alone, atol=1e-5, rtol=0)
    assert np.ptp(steps[:, 0]) > 1e-3  # the prediction really moves along the review


@pytest.fixture(scope="module")
def predictor(trained_model) -> Predictor:
    return Predictor(trained_model)


def test_trace_follows_the_review(predictor):
    text = "the plot was awful and boring and the music was great superb wonderful"
    trace = trace_text(predictor, text)
    assert trace.tokens == text.split() and trace.dropped == 0
    assert [text[a:b] for a, b in trace.offsets] == trace.tokens
    ids = np.asarray(predictor.tokenizer.encode(text, add_special_tokens=False).ids)
    for t in range(len(ids)):
        alone = predictor.classifier.probabilities(ids[None, : t + 1], np.array([t + 1]))  # (1, K)
        alone = apply_temperature(alone, predictor.decision.temperature)[0]  # calibrated, as predict shows it
        np.testing.assert_allclose(trace.probabilities[t], alone, atol=1e-5, rtol=0)
    [whole] = predictor.predict([text])
    assert trace.to_record()["probability"] == pytest.approx(whole.probability, abs=1e-6)
    moves = trace.moves()
    assert moves[trace.tokens.index("awful")] < 0 < moves[trace.tokens.index("great")]
    assert np.sum(moves) == pytest.approx(trace.probabilities[-1, 1] - trace.prior[1], abs=1e-6)


def test_trace_reads_what_predict_reads(predictor):
    text = " ".join(["film"] * (predictor.max_tokens + 7))
    trace = trace_text(predictor, text)
    assert len(trace.tokens) == predictor.max_tokens and trace.dropped == 7
    empty = trace_text(predictor, "   ")
    assert empty.tokens == [] and empty.to_record()["label"] is None
    assert "nothing to trace" in str(trace_view(empty).renderables[0])


def test_sparkline():
    assert sparkline(np.array([0.0, 0.5, 1.0])) == "▁▅█"
    assert len(sparkline(np.linspace(0, 1, 500), width=40)) == 40


def test_predict_trace_cli(trained_model):
    runner = CliRunner()
    result = runner.invoke(app, ["predict", "--model", str(trained_model), "--trace", "a great film", "awful plot"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("P(positive)") == 2 and "moved most" in result.stdout
    assert "green raised" in result.stderr
    lines = runner.invoke(
        app, ["predict", "-m", str(trained_model), "--trace", "--format", "jsonl", "-"], input="a great film\n\n"
    ).stdout.splitlines()
    first, blank = (json.loads(line) for line in lines)
    assert first["tokens"] == ["a", "great", "film"] and first["line"] == 1 and first["source"] == "-"
    assert len(first["probabilities"]["positive"]) == 3 and first["label"] == "positive"
    assert blank["tokens"] == [] and blank["label"] is None
    refused = runner.invoke(app, ["predict", "-m", str(trained_model), "--trace", "--format", "csv", "x"])
    assert refused.exit_code == 2


def test_a_trace_labels_the_review_as_predict_does_with_a_threshold(trained_model):
    """--trace took the most probable label while predict applied the threshold: the two disagreed."""
    runner = CliRunner()
    args = ["predict", "-m", str(trained_model), "--format", "jsonl", "awful boring plot"]
    positive = json.loads(runner.invoke(app, args).stdout)["probabilities"]["positive"]
    assert positive < 0.5  # the most probable label is negative; a threshold below P(positive) says positive
    args[-1:-1] = ["--threshold", f"{positive / 2:.6g}"]
    plain = json.loads(runner.invoke(app, args).stdout)
    traced = json.loads(runner.invoke(app, [*args, "--trace"]).stdout)
    assert plain["label"] == traced["label"] == "positive"
    assert traced["probability"] == pytest.approx(plain["probability"], abs=1e-4)
    assert traced["threshold"] == plain["threshold"] == float(f"{positive / 2:.6g}")
    shown = runner.invoke(app, [a for a in args if a not in ("--format", "jsonl")] + ["--trace"]).stdout
    assert re.search(r"→ [0-9.]+\s+positive [0-9.]+%", shown.splitlines()[1])  # the terminal view's verdict


def test_trace_does_not_import_torch(trained_model):
    code = (
        "import sys; from reviewrnn.predict import Predictor; from reviewrnn.trace import trace_text; "
        "from reviewrnn.render import trace_view; "
        f"trace_view(trace_text(Predictor({str(trained_model)!r}), 'great film')); print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False"]


def test_trace_reads_a_lone_surrogate_as_a_replacement_character(predictor):
    trace = trace_text(predictor, "great \udcff film")
    assert trace.text == "great \ufffd film" and trace.tokens[0] == "great"
