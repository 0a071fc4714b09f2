"""probe: neutral filler, the synthetic task's distances and labels, span and chance, both probes, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import NEGATIVE_WORDS, POSITIVE_WORDS, tiny_configs, write_table
from labdata import sentence_reviews
from typer.testing import CliRunner

from reviewrnn.cli import app
from reviewrnn.lab import probe
from reviewrnn.lab.filler import filler_sequences, neutral_sentences, split_sentences, token_leaning
from reviewrnn.lab.memory import true_log_odds
from reviewrnn.lab.probe import (
    SyntheticSettings,
    chance_distance,
    filler_rows,
    memory_span,
    probe_synthetic,
    probe_with_filler,
)
from reviewrnn.lab.reading import filler_findings
from reviewrnn.lab.synthetic import FIRST_NEUTRAL, POLARITY, SyntheticTask, make_set


@pytest.fixture(scope="module")
def sentence_model(tmp_path_factory):
    from reviewrnn.runs import train_step
    from reviewrnn.source import CorpusSettings

    root = tmp_path_factory.mktemp("probe")
    corpus = write_table(root / "sentences.csv", sentence_reviews(600))
    model, train, tokenizer = tiny_configs(cell="gru", epochs=4, max_tokens=80)
    train_step(CorpusSettings(str(corpus)), model, train, tokenizer, root / "sentence-gru")
    return root / "sentence-gru"


# --- filler -------------------------------------------------------------------------------------------


def test_token_leaning_by_hand():
    leaning = token_leaning([[1, 1, 2], [2, 3]], np.array([0, 1]), vocab_size=4, classes=2)
    counts = np.array([[0, 2, 1, 0], [0, 0, 1, 1]]) + 1.0
    in_class = counts / counts.sum(1, keepdims=True)
    overall = (np.array([0, 2, 2, 1]) + 1.0) / (5 + 4)
    np.testing.assert_allclose(leaning, np.abs(np.log(in_class / overall)).max(0))
    assert leaning[2] < leaning[1] and leaning[2] < leaning[3]  # token 2 is in both classes


def test_split_sentences():
    text = "A fine start here.<br /><br />Then it went on and on! Short. Was it worth a look? yes it was"
    assert split_sentences([text]) == ["A fine start here.", "Then it went on and on!", "Was it worth a look?"]


def test_neutral_sentences_leave_out_polar_words(sentence_model):
    from reviewrnn.artifacts import load_model
    from reviewrnn.lab.sources import model_split

    loaded = load_model(sentence_model)
    train = model_split(loaded.config).train
    pool = neutral_sentences(loaded.tokenizer, train.texts, train.labels, 2)
    assert len(pool) > 100
    polar = {loaded.tokenizer.token_to_id(word) for word in POSITIVE_WORDS + NEGATIVE_WORDS}
    assert not any(polar & set(ids.tolist()) for ids in pool)


def test_filler_sequences_have_exact_lengths():
    pool = [np.array([5, 6, 7]), np.array([8, 9])]
    fillers = filler_sequences(pool, 20, 11, np.random.default_rng(0))
    assert all(len(f) == 11 and set(f.tolist()) <= {5, 6, 7, 8, 9} for f in fillers)
    assert filler_sequences(pool, 2, 0, np.random.default_rng(0))[0].size == 0


# --- the synthetic task -------------------------------------------------------------------------------


def test_synthetic_distances_and_labels():
    task = SyntheticTask(neutral_tokens=5, max_prefix=3)
    distances = np.array([0, 1, 5, 17, 0, 9] * 20)
    encoded = make_set(task, distances, np.random.default_rng(0))
    assert task.vocab_size == FIRST_NEUTRAL + 5
    for ids, distance, label, length in zip(encoded.ids, distances, encoded.labels, encoded.full_lengths):
        position = len(ids) - 1 - distance
        assert ids[position] == POLARITY[label] and length == len(ids)
        rest = np.delete(ids, position)
        assert ((rest >= FIRST_NEUTRAL) & (rest < task.vocab_size)).all()  # nothing else carries a class
        assert distance + 1 <= len(ids) <= distance + 1 + task.max_prefix
    assert 0.3 < encoded.labels.mean() < 0.7


def test_span_and_chance():
    def row(distance, accuracy, low, high):
        return {"distance": distance, "accuracy": accuracy, "ci_low": low, "ci_high": high}

    rows = [row(0, 1.0, 0.99, 1), row(4, 0.93, 0.9, 0.95), row(8, 0.7, 0.6, 0.8), row(16, 0.95, 0.9, 1)]
    rows += [row(32, 0.52, 0.45, 0.58)]
    assert memory_span(rows) == 4  # accuracy must *stay* above 90%: the recovery at 16 does not count
    assert chance_distance(rows, 0.5) == 32
    assert memory_span([row(0, 0.6, 0.5, 0.7)]) is None and chance_distance(rows[:2], 0.5) is None


# --- the memory measure on constructed models -----------------------------------------------------------

POLAR_TOKENS, FILLER_FROM = (1, 2), 10  # review token 1 says class 0, 2 says class 1; filler ids are >= 10
DISTANCES = (0, 16, 64, 256, 1024)


def constructed_probe(log_odds_of_class_1, distances=DISTANCES, count=40):
    """The filler probe's rows for a model given as log-odds of class 1 from (review's own log-odds, filler count)."""
    rng = np.random.default_rng(0)
    labels = np.arange(count) % 2
    reviews = [np.array([3, POLAR_TOKENS[label], 4]) for label in labels]
    fillers = [rng.integers(FILLER_FROM, FILLER_FROM + 4, size=max(distances)) for _ in labels]

    def score(sequences):
        z = []
        for ids in sequences:
            review = 4.0 * ((POLAR_TOKENS[1] in ids) - (POLAR_TOKENS[0] in ids))  # +-4, or 0 for the filler alone
            z.append(log_odds_of_class_1(review, int((ids >= FILLER_FROM).sum())))
        z = np.asarray(z, dtype=float)
        return np.stack([-np.logaddexp(0, z), -np.logaddexp(0, -z)], axis=1)  # (N, 2) log-probabilities

    rows = filler_rows(score, reviews, labels, fillers, distances)
    return probe.curve("constructed", "filler", rows, 2, {})


@pytest.mark.parametrize(
    "pull",
    [lambda n: 0.0, lambda n: 3.0, lambda n: -3.0, lambda n: 0.02 * n, lambda n: -0.02 * n],
    ids=["no pull", "towards 1", "towards 0", "growing towards 1", "growing towards 0"],
)
def test_a_model_that_ignores_the_review_has_memory_span_0_whatever_the_filler_says(pull):
    # reads the review only when nothing follows it; once there is filler, only the filler counts
    probe = constructed_probe(lambda review, fill: pull(fill) if fill else review)
    assert probe.memory_span == 0 and probe.memory_chance == DISTANCES[1]
    for row in probe.rows[1:]:
        assert row["memory"]["accuracy"] == 0.5 and row["memory"]["evidence"] == 0.0 and row["memory"]["kept"] == 0
    assert probe.rows[0]["memory"]["accuracy"] == 1.0


def test_a_model_that_remembers_perfectly_gets_the_full_span_under_a_filler_that_outvotes_it():
    probe = constructed_probe(lambda review, fill: review + 0.02 * fill)  # the filler alone reaches 0.02 * 1024 = 20
    assert probe.memory_span == DISTANCES[-1] and probe.memory_chance is None
    for row in probe.rows:
        assert row["memory"]["accuracy"] == 1.0 and row["memory"]["kept"] == pytest.approx(1.0)
        assert row["memory"]["per_class"] == {0: pytest.approx(4.0), 1: pytest.approx(4.0)}
    # the old figure is fooled: class 0 is outvoted, class 1 kept right by the filler alone
    assert probe.span == 64 and probe.rows[-1]["accuracy"] == 0.5 and probe.rows[-1]["per_class"] == {0: 0.0, 1: 1.0}
    assert probe.rows[-1]["filler_alone"][1] == pytest.approx(1 / (1 + np.exp(-20.48)))
    assert probe.rows[-1]["memory"]["kept_per_class"] == {0: pytest.approx(1.0), 1: pytest.approx(1.0)}
    settings = {"label_names": ["negative", "positive"], "max_tokens": 2000}
    [reading] = filler_findings({"filler": {"curves": [probe.to_dict() | {"settings": settings}]}})
    assert "accuracy falls 50.0 points" in reading and "0.0 points are memory lost and 50.0 are the filler's" in reading


def test_a_filler_that_masks_the_reviews_saying_what_it_says_shows_in_kept_per_class():
    # saturating: the review and the filler drive the same class-1 feature, which cannot exceed 4
    probe = constructed_probe(lambda review, fill: min(4.0, max(review, 0.0) + 0.02 * fill) + min(review, 0.0))
    kept = probe.rows[-1]["memory"]["kept_per_class"]
    assert kept[0] == pytest.approx(1.0) and kept[1] == pytest.approx(0.0, abs=1e-9)


def test_kept_is_the_share_of_the_review_evidence_left():
    probe = constructed_probe(lambda review, fill: review * np.exp(-fill / 64) + 1.5)
    kept = [row["memory"]["kept"] for row in probe.rows]
    np.testing.assert_allclose(kept, np.exp(-np.array(DISTANCES) / 64), rtol=1e-6, atol=1e-9)


def test_true_log_odds_by_hand():
    p = np.array([[0.7, 0.2, 0.1], [1e-30, 0.5, 0.5]])
    got = true_log_odds(np.log(p), np.array([0, 1]))
    np.testing.assert_allclose(got, [np.log(0.7 / 0.3), np.log(0.5 / 0.5)], atol=1e-12)
    confident = np.log(np.array([[1 - 1e-20, 1e-20]]))  # 1 - p underflows in float64; the log-odds do not
    assert true_log_odds(np.array([[0.0, -46.0]]), np.array([0]))[0] == pytest.approx(46.0, abs=1e-6)
    assert np.isfinite(true_log_odds(confident, np.array([1]))).all()


# --- the probes ---------------------------------------------------------------------------------------


def test_filler_probe(sentence_model):
    curve = probe_with_filler(sentence_model, (0, 8, 40, 100), reviews=40, short_max=30)
    assert [row["distance"] for row in curve.rows] == [0, 8, 40, 100]
    first = curve.rows[0]
    assert first["accuracy"] == 1.0 and first["count"] == 40 and first["filler_alone"] is None
    assert first["per_class"] == {0: 1.0, 1: 1.0}  # 20 of each class, all right by construction
    assert set(curve.rows[1]["filler_alone"]) == {0, 1} and curve.rows[-1]["longer_than_trained"] == 1.0
    assert curve.kind == "filler" and curve.span is not None and curve.settings["neutral_sentences"] > 100
    assert first["memory"]["accuracy"] == 1.0 and first["memory"]["kept"] == 1.0
    assert curve.memory_span is not None and set(curve.rows[1]["memory"]["per_class"]) == {0, 1}
    again = probe_with_filler(sentence_model, (0, 8, 40, 100), reviews=40, short_max=30)
    assert again.to_dict() == curve.to_dict()  # seeded


@pytest.mark.parametrize("protocol", ["per-distance", "mixed"])
def test_synthetic_probe(protocol):
    settings = SyntheticSettings(
        distances=(0, 3), train_size=64, valid_size=16, test_per_distance=20, epochs=1, hidden=4
    )
    curve = probe_synthetic("rnn", settings, protocol)
    assert [row["distance"] for row in curve.rows] == [0, 3] and curve.rows[0]["count"] == 20
    assert curve.settings["protocol"] == protocol
    assert len(curve.settings["best_epochs"]) == (2 if protocol == "per-distance" else 1)
    assert probe_synthetic("rnn", settings, protocol).to_dict() == curve.to_dict()  # seeded


def test_probe_cli(sentence_model, tmp_path):
    runner = CliRunner()
    args = ["probe", "filler", str(sentence_model), "--distances", "0,20", "--reviews", "10", "--short-max", "30"]
    [curve] = json.loads(runner.invoke(app, [*args, "--json", "--threads", "1"]).stdout)
    assert curve["name"] == "sentence-gru" and [r["distance"] for r in curve["rows"]] == [0, 20]
    human = runner.invoke(app, args)
    assert human.exit_code == 0 and "span ≥90%" in human.stdout and "sentence-gru memory" in human.stdout
    assert "alone" in human.stderr and "memory" in human.stderr
    tiny = ["--distances", "0,2", "--train-size", "32", "--epochs", "1", "--hidden", "4", "--threads", "1"]
    result = runner.invoke(app, ["probe", "synthetic", "--cell", "rnn", "--cell", "lstm", *tiny, "--json"])
    assert [c["name"] for c in json.loads(result.stdout)] == ["rnn", "lstm"]
    assert runner.invoke(app, ["probe", "synthetic", "--cell", "transformer", *tiny]).exit_code == 2
    for bad in ("5,1", "0,x"):  # the one-line error names the option, as for any other flag
        refused = runner.invoke(app, ["probe", "filler", str(sentence_model), "--distances", bad])
        assert refused.exit_code == 2 and f"Invalid value for '--distances': '{bad}'" in refused.stderr
    if pytest.importorskip("matplotlib"):
        png = tmp_path / "p.png"
        assert runner.invoke(app, [*args, "--png", png]).exit_code == 0 and png.stat().st_size > 1000


def test_the_cli_imports_no_torch_until_a_command_needs_it():
    code = "import sys, reviewrnn.cli; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
