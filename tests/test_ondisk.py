"""`train --on-disk`: the Arrow-backed path must split, encode and train exactly like the in-memory one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import synthetic_reviews, write_table

from reviewrnn.corpus import load_corpus
from reviewrnn.data import RaggedIds, encode_set
from reviewrnn.errors import ReviewRNNError
from reviewrnn.ondisk import TextColumn, encode_on_disk, load_disk_corpus
from reviewrnn.runs import train_step
from reviewrnn.scoring import evaluate_step
from reviewrnn.source import CorpusSettings
from reviewrnn.splits import split_corpus
from reviewrnn.tokenizer import train_tokenizer


@pytest.fixture
def corpus_with_duplicates(tmp_path):
    rows = synthetic_reviews(400, seed=3)
    rows += [rows[5], rows[17], (rows[30][0], "positive" if rows[30][1] == "negative" else "negative")]
    return write_table(tmp_path / "dups.csv", rows)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_split_matches_the_in_memory_split_row_for_row(tmp_path, suffix):
    rows = synthetic_reviews(300, seed=4)
    flipped = "positive" if rows[11][1] == "negative" else "negative"
    rows += [rows[2], rows[9], (rows[11][0], flipped)]  # exact duplicates (one relabelled): the first copy stays
    path = write_table(tmp_path / f"reviews{suffix}", rows)
    memory = split_corpus(load_corpus(str(path)).examples, 0.1)
    disk = load_disk_corpus(str(path), None, None, 0.1)
    assert disk.duplicates_dropped == memory.duplicates_dropped == 3
    assert disk.label_names == ["negative", "positive"]
    for part in ("train", "valid", "test"):
        rows_of_part = disk.indices(part)
        texts = TextColumn(disk, rows_of_part)[:]
        assert texts == getattr(memory, part).texts
        assert disk.labels[rows_of_part].tolist() == getattr(memory, part).labels
    assert disk.indices("train", limit=7).tolist() == disk.indices("train")[:7].tolist()


def test_encoded_ids_equal_the_in_memory_encoding(corpus_with_duplicates):
    memory = split_corpus(load_corpus(str(corpus_with_duplicates)).examples, 0.1)
    tokenizer = train_tokenizer(memory.train.texts, tiny_tokenizer_config())
    disk = load_disk_corpus(str(corpus_with_duplicates), None, None, 0.1)
    for keep in ("head", "tail"):
        expected = encode_set(tokenizer, memory.train.texts, memory.train.labels, 9, keep)
        encoded = encode_on_disk(disk, disk.indices("train"), tokenizer, 9, keep)
        assert isinstance(encoded.ids, RaggedIds)
        assert len(encoded) == len(expected)
        assert [row.tolist() for row in encoded.ids] == [row.tolist() for row in expected.ids]
        assert encoded.full_lengths.tolist() == expected.full_lengths.tolist()
        assert encoded.labels.tolist() == expected.labels.tolist()
        assert encoded.lengths.tolist() == expected.lengths.tolist()


def test_encoding_is_cached_on_disk_and_reused(corpus_with_duplicates, isolated_env):
    disk = load_disk_corpus(str(corpus_with_duplicates), None, None, 0.1)
    tokenizer = train_tokenizer(TextColumn(disk, disk.indices("train")), tiny_tokenizer_config())
    encode_on_disk(disk, disk.indices("valid"), tokenizer, 16, "tail")
    cached = sorted((isolated_env["cache"] / "ondisk").glob("*.arrow"))
    stamps = [path.stat().st_mtime_ns for path in cached]
    assert [path.name.split("-")[0] for path in cached] == ["encoded", "split"]
    again = load_disk_corpus(str(corpus_with_duplicates), None, None, 0.1)
    encode_on_disk(again, again.indices("valid"), tokenizer, 16, "tail")
    assert sorted((isolated_env["cache"] / "ondisk").glob("*.arrow")) == cached
    assert [path.stat().st_mtime_ns for path in cached] == stamps
    encode_on_disk(again, again.indices("valid"), tokenizer, 8, "tail")  # other settings: a new file
    assert len(list((isolated_env["cache"] / "ondisk").glob("encoded-*.arrow"))) == 2


def test_on_disk_training_gives_the_same_weights_and_test_accuracy(make_corpus, tiny_settings, isolated_env, tmp_path):
    from safetensors.numpy import load_file

    corpus = CorpusSettings(str(make_corpus(count=400)))
    results = {}
    for on_disk in (False, True):
        model, train, tokenizer = tiny_settings(epochs=2, on_disk=on_disk)
        directory = tmp_path / f"model-{on_disk}"
        outcome = train_step(corpus, model, train, tokenizer, directory)  # the second run reuses the cached tokenizer
        assert json.loads((directory / "config.json").read_text())["train"]["on_disk"] is on_disk
        report = evaluate_step(directory)
        results[on_disk] = (outcome, load_file(directory / "model.safetensors"), report)
    (memory, memory_weights, memory_report), (disk, disk_weights, disk_report) = results[False], results[True]
    assert disk.best_valid_accuracy == memory.best_valid_accuracy
    assert disk.config.corpus.sizes == memory.config.corpus.sizes
    assert memory_weights.keys() == disk_weights.keys()
    differing = {  # every differing tensor, with its count, so a rare failure says where it started
        name: int((disk_weights[name] != memory_weights[name]).sum())
        for name in memory_weights
        if not np.array_equal(disk_weights[name], memory_weights[name])
    }
    losses = [  # the step whose loss first differs is where the two runs parted
        [epoch["step_losses"] for epoch in json.loads((tmp_path / f"model-{side}" / "history.json").read_text())]
        for side in (False, True)
    ]
    assert not differing, f"weights differ (values per tensor): {differing}; step losses: {losses}"
    assert disk_report["accuracy"] == memory_report["accuracy"]
    assert disk_report["count"] == memory_report["count"]


def test_ragged_ids_behave_like_a_list_of_arrays():
    import pyarrow as pa

    rows = [[1, 2, 3], [4], [5, 6], [7, 8, 9, 10]]
    chunked = pa.chunked_array([pa.array(rows[:3], pa.list_(pa.int32())), pa.array(rows[3:], pa.list_(pa.int32()))])
    sliced = pa.array([[0]] + rows, pa.list_(pa.int32())).slice(1)  # offsets that do not start at 0
    for ids in (RaggedIds.from_arrow(chunked.chunks), RaggedIds.from_arrow([sliced])):
        assert len(ids) == 4
        assert [row.tolist() for row in ids] == rows
        assert ids[-1].tolist() == [7, 8, 9, 10]
        assert [row.tolist() for row in ids[1:3]] == rows[1:3]
        assert ids.lengths.tolist() == [3, 1, 2, 4]
        with pytest.raises(IndexError):
            ids[4]
    assert RaggedIds([]).lengths.tolist() == []


def test_bad_rows_are_named(tmp_path):
    broken_label = write_table(tmp_path / "labels.csv", [("good", "positive"), ("bad", "negative"), ("meh", "")])
    with pytest.raises(ReviewRNNError, match=r"labels\.csv:4: empty label in column 'sentiment'"):
        load_disk_corpus(str(broken_label), None, None, 0.1)
    null_text = tmp_path / "texts.jsonl"
    null_text.write_text('{"text": "fine", "label": 1}\n{"text": null, "label": 0}\n', encoding="utf-8")
    with pytest.raises(ReviewRNNError, match=r"texts\.jsonl:2: column 'text' is NoneType, expected text"):
        load_disk_corpus(str(null_text), None, None, 0.1)
    with pytest.raises(ReviewRNNError, match="--on-disk reads local files"):
        load_disk_corpus("hub:imdb", None, None, 0.1)
    with pytest.raises(ReviewRNNError, match="no column 'body'"):
        load_disk_corpus(str(broken_label), "body", None, 0.1)


def test_cli_on_disk_flag(make_corpus, isolated_env):
    from typer.testing import CliRunner

    from reviewrnn.cli import app

    corpus = make_corpus(count=200)
    args = ["train", "--corpus", str(corpus), "--on-disk", "--epochs", "1", "--vocab-size", "150"]
    args += ["--embed", "8", "--hidden", "8", "--threads", "1", "--name", "disk", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    config = json.loads((isolated_env["models"] / "disk" / "config.json").read_text())
    assert config["train"]["on_disk"] is True
    assert list((isolated_env["cache"] / "ondisk").glob("encoded-*.arrow"))


def tiny_tokenizer_config():
    from reviewrnn.config import TokenizerConfig

    return TokenizerConfig(vocab_size=150, min_frequency=2)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_file_replaced_in_place_with_its_time_kept_is_read_afresh(tmp_path, suffix):
    """`datasets` knows a converted file by path and mtime; reviewrnn keys its Arrow caches by content."""
    import os

    path = write_table(tmp_path / f"reviews{suffix}", synthetic_reviews(120, seed=5))
    stamp = path.stat().st_mtime_ns
    first = load_disk_corpus(str(path), None, None, 0.1)
    write_table(path, [(f"another {text}", label) for text, label in synthetic_reviews(150, seed=6)])
    os.utime(path, ns=(stamp, stamp))  # as cp -p, rsync -a or tar would leave it
    second = load_disk_corpus(str(path), None, None, 0.1)
    assert second.sha256 != first.sha256 and len(second.parts) == 150
    assert all(text.startswith("another ") for text in TextColumn(second, second.indices("train"))[:])
    if suffix == ".jsonl":  # the in-memory path reads JSON Lines through datasets too
        assert load_corpus(str(path)).examples.texts[0].startswith("another ")


def test_no_rows_encode_to_an_empty_set(corpus_with_duplicates):
    disk = load_disk_corpus(str(corpus_with_duplicates), None, None, 0.1)
    tokenizer = train_tokenizer(TextColumn(disk, disk.indices("train")), tiny_tokenizer_config())
    empty = encode_on_disk(disk, np.zeros(0, dtype=np.int64), tokenizer, 16, "tail")
    assert len(empty) == 0 and empty.lengths.tolist() == [] and empty.labels.tolist() == []


def test_json_arrays_and_list_labels_are_refused_by_name(tmp_path):
    array = tmp_path / "reviews.json"
    array.write_text(json.dumps([{"text": "good", "label": 1}, {"text": "bad", "label": 0}]), encoding="utf-8")
    with pytest.raises(ReviewRNNError, match=r"reviews\.json: a JSON array is read whole; .*JSON Lines"):
        load_disk_corpus(str(array), None, None, 0.1)
    lines = write_table(tmp_path / "lines.json", synthetic_reviews(40, seed=2))  # JSON Lines named .json: fine
    assert len(load_disk_corpus(str(lines), None, None, 0.1).parts) == 40
    listed = tmp_path / "listed.jsonl"
    listed.write_text('{"text": "good", "label": [1]}\n{"text": "bad", "label": [0]}\n', encoding="utf-8")
    with pytest.raises(ReviewRNNError, match=r"listed\.jsonl: column 'label' holds List values"):
        load_disk_corpus(str(listed), None, None, 0.1)
