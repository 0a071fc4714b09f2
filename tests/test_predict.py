"""predict.py: Predictor.predict keeps order and handles blank lines; stream() is lazy and complete."""

from __future__ import annotations

import itertools
import json
import sys

import pytest

from reviewrnn.errors import ReviewRNNError
from reviewrnn.predict import Predictor


@pytest.fixture(scope="module")
def predictor(trained_model) -> Predictor:
    return Predictor(trained_model)


def test_one_row_per_text_in_order(predictor):
    texts = ["a great superb film", "", "awful boring plot", "   ", "\t", "wonderful brilliant music", "dreadful"]
    rows = predictor.predict(texts)
    assert len(rows) == len(texts)
    assert [row.label for row in rows] == ["positive", None, "negative", None, None, "positive", "negative"]
    for text, row in zip(texts, rows):
        if not text.strip():
            assert row.probability is None and row.probabilities is None and row.tokens == 0
            continue
        assert set(row.probabilities) == {"negative", "positive"}
        assert sum(row.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
        assert row.probability == max(row.probabilities.values()) > 0.5
        assert row.probabilities[row.label] == row.probability
        assert row.tokens == len(text.split())


def test_batched_results_equal_one_by_one(predictor):
    texts = [f"the film was {'great ' * (i % 7)} {'boring ' * (i % 5)} story" for i in range(150)]
    together = predictor.predict(texts)
    for text, row in zip(texts[::10], together[::10]):
        [alone] = predictor.predict([text])
        assert alone.label == row.label
        assert alone.probability == pytest.approx(row.probability, abs=1e-6)


def test_empty_list(predictor):
    assert predictor.predict([]) == []


def test_only_blank_lines(predictor):
    assert [row.label for row in predictor.predict(["", " ", "<br />"])] == [None, None, None]


def test_very_long_line(predictor):
    [row] = predictor.predict(["great " * 200_000])
    assert row.label == "positive"
    assert row.tokens <= predictor.max_tokens * 64  # cut before tokenizing, bounded work


def test_a_review_padded_with_whitespace_is_scored_as_its_words(trained_model):
    """More padding than the cap kept of a line had left only whitespace: the review read as blank."""
    from typer.testing import CliRunner

    from reviewrnn.cli import app

    review = "a great and moving film"
    lines = [review, review + " " * 200_000, "\t" * 200_000 + review, " " * 90_000 + review + "\t " * 90_000]
    args = ["predict", "--model", str(trained_model), "-"]
    result = CliRunner().invoke(app, args, input="".join(line + "\n" for line in lines))
    rows = result.stdout.splitlines()
    assert result.exit_code == 0 and len(rows) == 4 and rows[0].split("\t")[0] != "" and len(set(rows)) == 1, rows
    traced = ["predict", "--model", str(trained_model), "--trace", "--format", "jsonl", lines[3]]
    record = json.loads(CliRunner().invoke(app, traced).stdout)
    assert record["tokens"] and record["label"] == rows[0].split("\t")[0]  # --trace reads the words predict read
    assert f"{record['probability']:.4f}" == rows[0].split("\t")[1]


def test_stream_covers_many_lines_in_order(predictor):
    lines = [("superb film" if i % 3 else "boring awful") + f" {i}" for i in range(1000)] + [""]
    pairs = list(predictor.stream(iter(lines), chunk_lines=7))
    assert [line for line, _ in pairs] == lines
    streamed = [p.label for _, p in pairs]
    assert streamed == [p.label for p in predictor.predict(lines)]
    assert streamed[-1] is None and streamed[0] == "negative" and streamed[1] == "positive"


def test_stream_reads_at_most_one_chunk_ahead(predictor):
    pulled = []

    def source():
        for i in itertools.count():
            pulled.append(i)
            yield "great film"

    stream = predictor.stream(source(), chunk_lines=5)
    next(stream)
    assert len(pulled) <= 6  # one chunk, plus at most the look-ahead that ends it
    for _ in range(9):
        next(stream)
    assert len(pulled) <= 11


def test_predict_does_not_import_torch(trained_model):
    """The numpy forward pass is the point: predicting must not pay for torch."""
    import subprocess

    code = (
        "import sys; from reviewrnn.predict import Predictor; "
        f"p = Predictor({str(trained_model)!r}); p.predict(['great film']); "
        "print('torch' in sys.modules, 'datasets' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_predict_command_does_not_import_pydantic(trained_model):
    """Cold start: typer 0.29 parses through pydantic (~70-100 ms), so typer is pinned below it; this keeps it so."""
    import subprocess

    command = [sys.executable, "-X", "importtime", "-m", "reviewrnn", "predict", "--model", str(trained_model)]
    done = subprocess.run([*command, "great film"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "reviewrnn.predict" in imported  # the listing is real
    assert not {name for name in imported if name.split(".")[0] in ("pydantic", "pydantic_core", "torch")}


def test_missing_model_directory(tmp_path):
    with pytest.raises(ReviewRNNError, match="no such model directory"):
        Predictor(tmp_path / "none")


def test_predict_threads_gives_the_same_bytes_on_one_worker(trained_model):
    """--threads 1 runs the forward pass on one worker (a shared machine); rows are the same bytes."""
    from typer.testing import CliRunner

    from reviewrnn.cli import app
    from reviewrnn.predict import load_predictor

    assert load_predictor([trained_model], threads=1).engine.threads == 1
    lines = "".join(f"review {n}: a {'great' if n % 3 else 'dull'} film\n" for n in range(400))
    args = ["predict", "--model", str(trained_model), "--format", "jsonl", "-"]
    rows = [CliRunner().invoke(app, args + extra, input=lines) for extra in ([], ["--threads", "1"])]
    assert all(result.exit_code == 0 for result in rows) and rows[0].stdout == rows[1].stdout
    refused = CliRunner().invoke(app, ["predict", "--model", str(trained_model), "--file", "-"], input="x\n")
    assert refused.exit_code == 2 and "'-' is stdin; give it as a TEXT argument" in refused.stderr
    twice = CliRunner().invoke(app, ["predict", "--model", str(trained_model), "--file", "-", "-"], input="x\n")
    assert twice.exit_code == 2 and "'-' is stdin; drop --file -: the TEXT '-' reads it" in twice.stderr
