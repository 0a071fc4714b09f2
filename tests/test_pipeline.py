"""runs, scoring, source and tokenizing: the steps behind the commands, from corpus to saved model to eval.json."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import synthetic_reviews, tiny_configs, write_table

from reviewrnn.artifacts import load_model
from reviewrnn.callbacks import Callbacks
from reviewrnn.errors import ReviewRNNError
from reviewrnn.outdir import output_directory
from reviewrnn.runs import train_step
from reviewrnn.scoring import evaluate_step
from reviewrnn.source import CorpusSettings, corpus_summary, read_split
from reviewrnn.splits import is_test_text
from reviewrnn.tokenizing import tokenize_step


def test_read_split_refuses_a_corpus_without_test_reviews(tmp_path):
    texts = [t for t, _ in synthetic_reviews(200) if not is_test_text(t)][:6]
    path = write_table(tmp_path / "no-test.csv", [(t, i % 2) for i, t in enumerate(texts)])
    with pytest.raises(ReviewRNNError, match="the test split is empty"):
        read_split(CorpusSettings(str(path)), 0.1)


def test_tokenizer_is_trained_on_the_train_split_only(tmp_path):
    marked = []
    for text, label in synthetic_reviews(300):
        tagged = f"{text} zanzibar zanzibar"
        marked.append((tagged if is_test_text(tagged) else text, label))  # the word only in TEST reviews
    assert sum("zanzibar" in text for text, _ in marked) > 100
    path = write_table(tmp_path / "leak.csv", marked)
    tokenizer, report = tokenize_step(CorpusSettings(str(path)), tiny_configs()[2], 0.1)
    assert "zanzibar" not in tokenizer.get_vocab()
    assert "great" in tokenizer.get_vocab()
    assert report.vocab_size == tokenizer.get_vocab_size() <= 200
    assert report.unknown_rate == 0.0 and report.median_tokens > 4


def test_each_text_column_gets_its_own_cached_tokenizer(tmp_path, isolated_env):
    import csv

    path = tmp_path / "two-texts.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "title", "sentiment"])
        for index, (text, label) in enumerate(synthetic_reviews(300, seed=8)):
            writer.writerow([text, f"quokka wombat {index}", label])
    vocabularies = {}
    for column in ("review", "title"):
        settings = CorpusSettings(str(path), text_column=column)
        train_step(settings, *tiny_configs(epochs=1), isolated_env["models"] / column)
        vocabularies[column] = load_model(isolated_env["models"] / column).tokenizer.get_vocab()
    assert "quokka" in vocabularies["title"] and "quokka" not in vocabularies["review"]


def test_train_step_writes_a_complete_model(make_corpus, isolated_env):
    corpus = make_corpus(300)
    stages, epochs = [], []
    model_config, train_config, tokenizer_config = tiny_configs(epochs=2, limit=50, cell="lstm")
    directory = isolated_env["models"] / "m"
    outcome = train_step(
        CorpusSettings(str(corpus)),
        model_config,
        train_config,
        tokenizer_config,
        directory,
        callbacks=Callbacks(stage=stages.append, epoch=epochs.append),
    )
    assert outcome.directory == directory and len(epochs) == 2
    assert stages == ["reading corpus", "training tokenizer", "encoding reviews", "training", "calibrating on VALID"]
    loaded = load_model(directory)
    config = loaded.config
    assert config.model.cell == "lstm" and config.model.vocab_size == loaded.tokenizer.get_vocab_size()
    assert config.model.num_classes == 2
    assert config.corpus.name == str(corpus) and config.corpus.sha256
    assert config.corpus.sizes["train_used"] == 50
    assert sum(config.corpus.sizes[k] for k in ("train", "valid", "test", "duplicates_dropped")) == 300
    assert config.versions["torch"] and config.versions["python"]
    history = json.loads((directory / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert outcome.best_valid_accuracy == max(h["valid_accuracy"] for h in history)


def test_train_step_with_three_classes_and_a_given_tokenizer(tmp_path, isolated_env):
    corpus = write_table(
        tmp_path / "k.jsonl", synthetic_reviews(450, classes=("bad", "meh", "good")), ("text", "label")
    )
    tokenizer, _ = tokenize_step(CorpusSettings(str(corpus)), tiny_configs()[2], 0.1)
    tokenizer_path = tmp_path / "tok.json"
    tokenizer_path.write_text(tokenizer.to_str())
    stages = []
    directory = isolated_env["models"] / "k3"
    outcome = train_step(
        CorpusSettings(str(corpus)),
        *tiny_configs(epochs=6),
        directory,
        tokenizer_path=tokenizer_path,
        callbacks=Callbacks(stage=stages.append),
    )
    assert "loading tokenizer" in stages
    loaded = load_model(directory)
    assert loaded.config.model.num_classes == 3
    assert loaded.config.corpus.label_names == ["bad", "good", "meh"]
    assert loaded.tokenizer.get_vocab() == tokenizer.get_vocab()
    report = evaluate_step(directory, device_name="cpu", threads=1)
    assert len(report["per_class"]) == 3 and len(report["confusion"]["matrix"]) == 3
    assert outcome.best_valid_accuracy > 0.6 and report["accuracy"] > 0.6  # chance is 1/3


def test_evaluate_step_scores_the_test_split_and_writes_eval_json(trained_model, session_corpus):
    report = evaluate_step(trained_model, device_name="cpu", threads=1)
    saved = json.loads((trained_model / "eval.json").read_text())
    assert saved == json.loads(json.dumps(report))
    sizes = load_model(trained_model).config.corpus.sizes
    assert report["count"] == sizes["test"] and report["split"] == "test"
    assert report["accuracy"] > 0.9
    assert sum(row["count"] for row in report["by_length"]) == report["count"]
    assert report["corpus"] == str(session_corpus) and report["model"] == str(trained_model)
    assert report["truncated"] == 0 and report["max_tokens"] == 64


def test_evaluate_step_other_split_edges_and_corpus(trained_model, tmp_path):
    """Another split or corpus is reported, and leaves the model's own TEST report in eval.json alone."""
    evaluate_step(trained_model, device_name="cpu", threads=1)
    own_test = (trained_model / "eval.json").read_bytes()
    valid = evaluate_step(trained_model, split_name="valid", edges=(0, 10, 20), device_name="cpu", threads=1)
    assert valid["split"] == "valid" and [row["low"] for row in valid["by_length"]] == [0, 10, 20]
    other = write_table(tmp_path / "other.tsv", synthetic_reviews(120, seed=9), ("text", "label"))
    report = evaluate_step(trained_model, CorpusSettings(str(other)), device_name="cpu", threads=1)
    assert report["corpus"] == str(other) and report["accuracy"] > 0.8
    assert (trained_model / "eval.json").read_bytes() == own_test
    with pytest.raises(ReviewRNNError, match="--split must be one of"):
        evaluate_step(trained_model, split_name="everything")


def test_evaluate_step_rejects_labels_the_model_does_not_know(trained_model, tmp_path):
    other = write_table(tmp_path / "three.csv", synthetic_reviews(60, classes=("negative", "positive", "mixed")))
    with pytest.raises(ReviewRNNError, match="'mixed' is not one of negative, positive"):
        evaluate_step(trained_model, CorpusSettings(str(other)), device_name="cpu", threads=1)


def test_output_directory(isolated_env, tmp_path):
    named = output_directory("run1", None, "gru", force=False)
    assert named == isolated_env["models"] / "run1"
    stamped = output_directory(None, None, "lstm", force=False)
    assert stamped.parent == isolated_env["models"] and stamped.name.startswith("lstm-")
    exact = tmp_path / "exact"
    assert output_directory("ignored", exact, "gru", force=False) == exact
    exact.mkdir()
    with pytest.raises(ReviewRNNError, match="already exists"):
        output_directory(None, exact, "gru", force=False)
    assert output_directory(None, exact, "gru", force=True) == exact


def test_corpus_summary(make_corpus, isolated_env):
    path = make_corpus(300)
    summary = corpus_summary(CorpusSettings(str(path)))
    assert summary["rows"] == 300 and summary["label_names"] == ["negative", "positive"]
    assert summary["path"] == str(path) and summary["cache_dir"] == str(isolated_env["cache"])
    counts = sum(part["count"] for part in summary["splits"].values())
    assert counts + summary["duplicates_dropped"] == 300
    for part in summary["splits"].values():
        assert sum(part["class_share"]) == pytest.approx(1.0)
        assert part["words"]["median"] <= part["words"]["p90"] <= part["words"]["p99"]


def test_eval_json_is_the_own_corpus_read_its_own_way(trained_model, session_corpus):
    """The model's own file under another --label-map is another reading: its report is not saved."""
    from reviewrnn.labelmap import LabelMap

    own = CorpusSettings(str(session_corpus), label_column=load_model(trained_model).config.corpus.label_column)
    evaluate_step(trained_model, own, device_name="cpu", threads=1)
    saved = (trained_model / "eval.json").read_bytes()
    swapped = LabelMap.parse("negative=positive positive=negative")
    report = evaluate_step(trained_model, replace(own, label_map=swapped), device_name="cpu", threads=1)
    assert report["accuracy"] < 0.2  # the labels really were read the other way round
    assert (trained_model / "eval.json").read_bytes() == saved


@pytest.mark.parametrize("threads", [1, 2])
def test_evaluate_scores_on_as_many_workers_as_its_threads(trained_model, engine_threads, threads):
    """A new user's `evaluate --threads 1` kept both cores busy: the forward pass took every core."""
    evaluate_step([trained_model], threads=threads)
    assert engine_threads == [threads]
