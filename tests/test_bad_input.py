"""Bad input, tried systematically: property-based tests over predict and the corpus readers.

Every input gets a correct result or one line of error: never a traceback, a hang, or a row count
other than one row per input line. `make soak` runs ten times the examples, and a 50 MB line.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_table
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from reviewrnn.cli import app
from reviewrnn.corpus import NEGATIVE_NAMES, POSITIVE_NAMES, load_corpus
from reviewrnn.errors import ReviewRNNError
from reviewrnn.lines import UTF8_BOM, Cut, clip, line_chunks
from reviewrnn.predict import Predictor

# Tests that start a process per example run a quarter as many; fixtures here are shared by all examples.
PROCESS_EXAMPLES = max(10, settings.default.max_examples // 4)
shared_fixtures = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

# What trips line-oriented tools: line separators other than \n, NUL, BOM, combining and wide characters, markup.
ODD = ["\x00", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\t", " ", "\ufeff"]
ODD += ["e\u0301", "\ufdfa", "\U0001f600", "<br />", "<", '"', ",", "great", "awful", "superb", "boring"]
SURROGATE = st.integers(0xD800, 0xDFFF).map(chr)
TEXT = st.lists(st.one_of(st.text(max_size=20), st.sampled_from(ODD)), max_size=12).map("".join)
ONE_LINE = TEXT.map(lambda text: text.replace("\n", " "))
# A line of input as bytes, never holding b"\n": text, raw bytes (often invalid UTF-8), maybe a CRLF end.
RAW_LINE = st.tuples(
    st.one_of(ONE_LINE.map(str.encode), st.binary(max_size=24).map(lambda raw: raw.replace(b"\n", b" "))),
    st.booleans(),
).map(lambda pair: pair[0] + b"\r" * pair[1])
STDIN = st.tuples(st.lists(RAW_LINE, max_size=30), st.booleans()).map(
    lambda pair: b"\n".join(pair[0]) + (b"\n" if pair[0] and pair[1] else b"")
)
FORMATS = st.sampled_from(["tsv", "csv", "jsonl"])


@pytest.fixture(scope="module")
def predictor(trained_model) -> Predictor:
    return Predictor(trained_model)


def input_lines(data: bytes) -> list[bytes]:
    """The lines `predict` must answer: split on b"\\n" only; a final newline ends the last line."""
    lines = data.split(b"\n")
    return lines[:-1] if lines[-1] == b"" else lines


def as_text(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", errors="replace")


def check_prediction(prediction, label_names: list[str]) -> None:
    if prediction.tokens == 0:
        assert prediction.label is None and prediction.probability is None and prediction.probabilities is None
        return
    assert prediction.label in label_names
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert prediction.probability == max(prediction.probabilities.values())


# --- Predictor.predict and Predictor.stream -------------------------------------------------------------


@given(texts=st.lists(st.one_of(TEXT, st.lists(SURROGATE, min_size=1).map("".join), TEXT.map(lambda t: t + "\ud800"))))
def test_predict_gives_one_valid_prediction_per_text(predictor, texts):
    together = predictor.predict(texts)
    assert len(together) == len(texts)
    for text, prediction in zip(texts, together):
        check_prediction(prediction, predictor.label_names)
        [alone] = predictor.predict([text])  # batch company does not change the answer
        assert alone.tokens == prediction.tokens
        if alone.probability is not None:
            assert alone.probability == pytest.approx(prediction.probability, abs=1e-4)


@given(texts=st.lists(TEXT, max_size=40), chunk=st.integers(1, 9))
def test_stream_keeps_every_text_in_order(predictor, texts, chunk):
    pairs = list(predictor.stream(iter(texts), chunk_lines=chunk))
    assert [text for text, _ in pairs] == texts
    assert [p.tokens for _, p in pairs] == [p.tokens for p in predictor.predict(texts)]


def test_predict_2mb_line(predictor):
    [row] = predictor.predict(["great ☃ film\x00\r " * 140_000])
    assert row.label in predictor.label_names and 0 < row.tokens <= predictor.max_chars


# --- the predict command: stdin, files and arguments -------------------------------------------------------


NOT_TEXT_HEADS = (b"\x1f\x8b", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"PK\x03\x04", b"\xff\xfe", b"\xfe\xff")


def refused_as_not_text(data: bytes, stdout: bytes, stderr: bytes, code: int) -> bool:
    """Input opening like gzip, xz, zstd, bzip2, zip or UTF-16 is refused whole, before any row (lines.py)."""
    head = data[:64]
    utf16 = (
        len(head) >= 8
        and any(  # one byte of each pair NUL, the other not: UTF-16 without a mark
            nuls.count(0) >= 0.75 * len(nuls) and chars.count(0) <= 0.25 * len(chars)
            for nuls, chars in ((head[1::2], head[0::2]), (head[0::2], head[1::2]))
        )
    )
    if not (data.startswith(NOT_TEXT_HEADS) or re.match(rb"BZh[1-9]1AY&SY", data) or utf16):
        return False
    assert code == 1 and stdout == b"" and b"not UTF-8 text; make text of it first" in stderr
    return True


def check_output(stdout: bytes, stderr: bytes, data: bytes, fmt: str, echo: bool, source: str = "-") -> None:
    """One row per input line, in order, well formed in its format; at most one warning on stderr."""
    lines = input_lines(data.removeprefix(UTF8_BOM))  # a byte-order mark is not part of the input (lines.py)
    assert stdout == b"" or stdout.endswith(b"\n")
    text = stdout.decode("utf-8")
    if fmt == "jsonl":
        records = [json.loads(row) for row in text.split("\n")[:-1]]
        assert [(r["source"], r["line"]) for r in records] == [(source, n) for n in range(1, len(lines) + 1)]
        for record, raw in zip(records, lines):
            assert (record["label"] is None) == (record["tokens"] == 0)
            if echo:
                assert record["text"] == as_text(raw)
    elif fmt == "tsv":
        rows = [row.split("\t") for row in text.split("\n")[:-1]]
        assert len(rows) == len(lines)
        for row, raw in zip(rows, lines):
            assert len(row) == 2 + echo
            if echo:
                assert row[2] == re.sub(r"[\t\r\n]", " ", as_text(raw))
    else:
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert len(rows) == len(lines)
        for row, raw in zip(rows, lines):
            assert len(row) == 2 + echo
            if echo:
                assert row[2] == as_text(raw)
    bad = [n for n, raw in enumerate(lines, start=1) if as_text(raw).encode() != raw.rstrip(b"\r")]
    # Beside it, at most one out-of-domain warning (domain.py): arbitrary bytes may well read unlike TRAIN.
    warnings = [line for line in stderr.decode().splitlines() if "reviews read unlike" not in line]
    assert len(stderr.decode().splitlines()) - len(warnings) <= 1
    assert warnings == (
        [f"warning: {source}:{bad[0]}: invalid UTF-8 replaced with U+FFFD (reported once)"] if bad else []
    )


@shared_fixtures
@given(data=STDIN, fmt=FORMATS, echo=st.booleans())
@example(data=b"\xef\xbb\xbf", fmt="csv", echo=True)  # a byte-order mark alone: empty input, no row
@example(data=b"PK\x03\x04", fmt="tsv", echo=False)  # a zip archive's head: refused, not rows of garbage
def test_cli_stdin_one_row_per_line(trained_model, data, fmt, echo):
    args = ["predict", "--model", str(trained_model), "--format", fmt] + ["--text"] * echo
    result = CliRunner().invoke(app, args, input=data)
    if refused_as_not_text(data, result.stdout_bytes, result.stderr_bytes, result.exit_code):
        return
    assert result.exit_code == 0, (result.stderr, result.exception)
    check_output(result.stdout_bytes, result.stderr_bytes, data, fmt, echo)


@shared_fixtures
@given(texts=st.lists(st.one_of(TEXT, TEXT.map(lambda t: t + "\udcff")), min_size=1, max_size=6))
def test_cli_arguments_one_row_each(trained_model, texts):
    texts = [text for text in texts if text != "-"] or ["x"]
    args = ["predict", "--model", str(trained_model), "--format", "jsonl", "--text", "--", *texts]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.stderr, result.exception)
    records = [json.loads(row) for row in result.stdout.split("\n")[:-1]]
    assert len(records) == len(texts) and all(r["source"] == "arg" for r in records)
    for record, text in zip(records, texts):
        if "\udcff" in text:  # an undecodable byte 0xFF on the command line
            assert record["text"] == as_text(text.replace("\udcff", "\ufffd").encode())
        else:
            assert record["text"] == text.rstrip("\r")
    assert len(result.stderr.splitlines()) == any("\udcff" in text for text in texts)


def run_predict(model: Path, *args, data: bytes = b"") -> subprocess.CompletedProcess:
    env = dict(os.environ, REVIEWRNN_MODEL=str(model))
    command = [sys.executable, "-m", "reviewrnn", "predict", *map(str, args)]
    return subprocess.run(command, input=data, capture_output=True, env=env, timeout=120)


@settings(max_examples=PROCESS_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=STDIN, fmt=FORMATS, echo=st.booleans(), through_file=st.booleans())
def test_subprocess_one_row_per_line(trained_model, tmp_path, data, fmt, echo, through_file):
    args = ["--format", fmt] + ["--text"] * echo
    if through_file:
        path = tmp_path / "input.txt"
        path.write_bytes(data)
        done, source = run_predict(trained_model, *args, "--file", path), str(path)
    else:
        done, source = run_predict(trained_model, *args, data=data), "-"
    if refused_as_not_text(data, done.stdout, done.stderr, done.returncode):
        return
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    check_output(done.stdout, done.stderr, data, fmt, echo, source)


# --- long lines: read in bounded pieces, predicted as if read whole -----------------------------------------


class PieceReader:
    """Stands in for lines.Reader: hands out the input in the given piece sizes."""

    def __init__(self, data: bytes, sizes: list[int], ready: list[bool]):
        self.data, self.sizes, self.ready_answers = data, itertools.cycle(sizes), itertools.cycle(ready)

    def read(self) -> bytes:
        size = next(self.sizes)
        piece, self.data = self.data[:size], self.data[size:]
        return piece

    def ready(self) -> bool:
        return next(self.ready_answers)


@given(
    lines=st.lists(st.one_of(ONE_LINE, st.sampled_from(["☃" * 40, "é" * 33, "\U0001f600" * 21])), max_size=20),
    final=st.booleans(),
    cap=st.one_of(st.none(), st.integers(4, 64)),
    keep=st.sampled_from(["head", "tail"]),
    sizes=st.lists(st.integers(1, 50), min_size=1, max_size=5),
    ready=st.lists(st.booleans(), min_size=1, max_size=3),
    chunk_lines=st.integers(1, 5),
)
@example(lines=["\ufeff"], final=False, cap=None, keep="head", sizes=[1], ready=[False], chunk_lines=1)
def test_line_chunks_cut_lines_at_characters(lines, final, cap, keep, sizes, ready, chunk_lines):
    data = "\n".join(lines).encode() + (b"\n" if lines and final else b"")
    cut = Cut(cap, keep, chunk_lines)
    chunks = list(line_chunks(PieceReader(data, sizes, ready), cut))
    got = [line for chunk in chunks for line in chunk]
    assert all(0 < len(chunk) <= chunk_lines for chunk in chunks)
    wanted = input_lines(data.removeprefix(UTF8_BOM))  # a byte-order mark is not part of the input
    assert len(got) == len(wanted)
    for line, whole in zip(got, wanted):
        line.decode("utf-8")  # never a split character
        if cap is None or len(whole) <= cap:
            assert line == whole
        else:  # the head or tail after the whitespace at the line's ends (test_lines has the read-split property)
            assert line == clip(whole.strip(), cap, keep).strip() and len(line) <= cap


@pytest.fixture(scope="module")
def tail_model(trained_model, tmp_path_factory) -> Path:
    """The trained model, set to keep the last max_tokens of a review instead of the first."""
    import shutil

    directory = Path(shutil.copytree(trained_model, tmp_path_factory.mktemp("tail") / "model"))
    config = json.loads((directory / "config.json").read_text())
    config["train"]["truncate"] = "tail"
    (directory / "config.json").write_text(json.dumps(config))
    return directory


@pytest.mark.parametrize("keep", ["head", "tail"])
def test_long_lines_predict_as_if_read_whole(trained_model, tail_model, keep):
    """Without --text predict keeps only what the model can read of a line; the answers must not change."""
    model = trained_model if keep == "head" else tail_model
    pieces = ["great ☃ film ", "awful \U0001f600 plot ", "é" * 7, "superb\r", "\x00 boring "]
    lines = ["".join(pieces[(i + j) % 5] for j in range(n)) for i, n in enumerate([1, 3000, 9000, 40_000, 2, 70_001])]
    data = ("\n".join(lines) + "\r\n").encode()
    outputs = []
    for echo in (False, True):
        args = ["predict", "--model", str(model), "--format", "jsonl"] + ["--text"] * echo
        result = CliRunner().invoke(app, args, input=data)
        assert result.exit_code == 0, result.stderr
        outputs.append([json.loads(row) for row in result.stdout.splitlines()])
    cut, whole = outputs
    assert len(cut) == len(whole) == len(lines)
    for short, full in zip(cut, whole):
        assert (short["label"], short["tokens"]) == (full["label"], full["tokens"])
        assert short["probability"] == pytest.approx(full["probability"], abs=1e-6)


def test_subprocess_2mb_line_then_more(trained_model):
    data = b"great \xe2\x98\x83 film \xff " * 150_000 + b"\r\n\nawful boring\n"
    done = run_predict(trained_model, "--format", "jsonl", data=data)
    assert done.returncode == 0 and b"Traceback" not in done.stderr
    records = [json.loads(row) for row in done.stdout.splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3]
    assert records[0]["label"] == "positive" and records[1]["label"] is None and records[2]["label"] == "negative"


@pytest.mark.soak
@pytest.mark.parametrize("echo", [False, True])
def test_subprocess_50mb_line(trained_model, echo):
    data = b"great \xe2\x98\x83 film " * (50 * 2**20 // 16) + b"\nawful\n"
    done = run_predict(trained_model, *["--text"] * echo, data=data)
    assert done.returncode == 0 and done.stderr == b""
    rows = done.stdout.split(b"\n")
    assert len(rows) == 3 and rows[0].startswith(b"positive\t") and rows[1].startswith(b"negative\t")
    if echo:
        assert rows[0].split(b"\t")[2] == data.split(b"\n")[0]


@pytest.mark.soak
def test_predict_50mb_text(predictor):
    [row] = predictor.predict(["great ☃ film " * (50 * 2**20 // 14)])
    assert row.label == "positive"


# --- corpus readers ----------------------------------------------------------------------------------------

LABELS = ["positive", "negative", "pos", "neg", " Positive ", "NEG", "0", "1", "meh", "good", "NA", "True", ""]
ROWS = st.lists(st.tuples(TEXT, st.sampled_from(LABELS)), min_size=1, max_size=12)
written = itertools.count()


def expected_labels(labels: list[str]) -> tuple[list[str], list[int]] | str:
    """What encode_labels promises: aliases of negative/positive, else sorted names; or the error it names."""
    keys = [label.strip().lower() for label in labels]
    if "" in keys:
        return "empty label"
    aliases = NEGATIVE_NAMES | POSITIVE_NAMES
    if set(keys) <= aliases and set(keys) & NEGATIVE_NAMES and set(keys) & POSITIVE_NAMES:
        return ["negative", "positive"], [int(key in POSITIVE_NAMES) for key in keys]
    if len(set(keys)) < 2:
        return "one class"
    names = sorted(set(keys))
    return names, [names.index(key) for key in keys]


@shared_fixtures
@given(rows=ROWS, suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]))
@example(rows=[("", "")], suffix=".tsv")  # a line of one tab is a row of empty fields, not a blank line
@example(rows=[("", "")], suffix=".csv")
def test_corpus_readers_round_trip_or_one_line_error(tmp_path, rows, suffix):
    path = write_table(tmp_path / f"corpus-{next(written)}{suffix}", rows)  # a new name: no stale datasets cache
    expected = expected_labels([label for _, label in rows])
    if not isinstance(expected, str) and any(not text.strip() for text, _ in rows):  # after the labels
        expected = "empty text"
    try:
        corpus = load_corpus(str(path))
    except ReviewRNNError as error:
        message = str(error)
        assert "\n" not in message and str(path) in message
        assert isinstance(expected, str) and expected in message, (message, expected)
        return
    assert not isinstance(expected, str), expected
    assert corpus.examples.texts == [text for text, _ in rows]
    assert (corpus.label_names, corpus.examples.labels) == expected


@shared_fixtures
@given(
    records=st.lists(
        st.one_of(
            st.fixed_dictionaries({"text": TEXT, "label": st.sampled_from(LABELS + [0, 1, 2.0, True, None])}),
            st.dictionaries(st.sampled_from(["text", "label", "other"]), st.one_of(st.none(), st.integers(), TEXT)),
            st.lists(st.integers(), max_size=2),
            TEXT,
        ),
        max_size=8,
    ),
    broken=st.one_of(st.none(), st.integers(0, 8)),
    line_end=st.sampled_from(["\n", "\r\n"]),
)
@example(records=[{"label": "0\n0", "text": ""}], broken=None, line_end="\n")  # a label quoted in the error
def test_jsonl_any_records_read_or_one_line_error(tmp_path, records, broken, line_end):
    lines = [json.dumps(record) for record in records]
    if broken is not None and broken <= len(lines):
        lines.insert(broken, '{"text": "cut off", "label"')
    path = tmp_path / f"records-{next(written)}.jsonl"
    path.write_text(line_end.join(lines))  # and no final line end
    first_bad = next((n for n, line in enumerate(lines, start=1) if not is_json_object(line)), None)
    try:
        corpus = load_corpus(str(path))
    except ReviewRNNError as error:
        message = str(error)
        assert "\n" not in message and str(path) in message
        if first_bad is not None:
            assert f"{path}:{first_bad}:" in message  # the first line that is not a JSON object, by number
        return
    assert first_bad is None
    assert corpus.examples.texts == [record["text"] for record in records]


def is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


@pytest.mark.parametrize(
    "content,texts",
    [
        (b"text,label\r\ngood one,1\r\nbad one,0\r\n", ["good one", "bad one"]),  # CRLF
        (b"text,label\ngood one,1\nbad one,0", ["good one", "bad one"]),  # no final newline
        (b'text,label\n"  a  ",1\n" \t b",0\n', ["  a  ", " \t b"]),  # kept as is (only whitespace: an error)
        (b'text,label\n"go\x00od",1\nbad,0\n', ["go\x00od", "bad"]),  # NUL byte
        (b'text,label\n"a\rb",1\n"c\r\nd",0\n', ["a\rb", "c\r\nd"]),  # CR and CRLF inside quotes
        ("\ufefftext,label\ngood,1\nbad,0\n".encode(), ["good", "bad"]),  # byte-order mark
        (b'text,label\ngood,"1"\nbad,"0"\n', ["good", "bad"]),  # numbers as quoted strings
    ],
    ids=["crlf", "no-final-newline", "whitespace", "nul", "cr-in-quotes", "bom", "quoted-numbers"],
)
def test_csv_edge_cases_read_exactly(tmp_path, content, texts):
    path = tmp_path / "edge.csv"
    path.write_bytes(content)
    corpus = load_corpus(str(path))
    assert corpus.examples.texts == texts and corpus.examples.labels == [1, 0]


@pytest.mark.parametrize("suffix,separator", [(".csv", ","), (".tsv", "\t")])
def test_a_file_not_in_utf8_is_named_with_its_line_and_how_to_convert(tmp_path, suffix, separator):
    """Latin-1 from an old export had given "'utf-8' codec can't decode byte 0xe8 in position 2"; UTF-16 (Excel's
    'Unicode text') had given "a header but no reviews"."""
    path = tmp_path / f"latin{suffix}"
    rows = ["text", "label"], ["good one", "1"], ["caf\xe9 was bad", "0"]
    path.write_bytes("\n".join(separator.join(row) for row in rows).encode("latin-1"))
    converted = f"iconv -f latin1 -t utf-8 {path} > {path.with_name('utf8-' + path.name)}"  # runs from anywhere
    with pytest.raises(ReviewRNNError, match=f"{re.escape(str(path))}:3: not UTF-8 text; .*{re.escape(converted)}$"):
        load_corpus(str(path))
    wide = tmp_path / f"wide{suffix}"
    wide.write_bytes("\n".join(separator.join(row) for row in rows).encode("utf-16"))
    with pytest.raises(ReviewRNNError, match=f"{re.escape(str(wide))}: UTF-16 text .*iconv -f utf-16 -t utf-8"):
        load_corpus(str(wide))
    unmarked = tmp_path / f"unmarked{suffix}"  # iconv -t utf-16le writes no byte-order mark
    unmarked.write_bytes("\n".join(separator.join(row) for row in rows).encode("utf-16-le"))
    with pytest.raises(ReviewRNNError, match=r"UTF-16 text \(no byte-order mark\).*iconv -f utf-16le -t utf-8"):
        load_corpus(str(unmarked))
    packed = tmp_path / f"packed{suffix}"  # compressed under a plain name
    packed.write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(ReviewRNNError, match=f"{re.escape(str(packed))}: gzip-compressed, not UTF-8 text; .*zcat"):
        load_corpus(str(packed))


def test_a_json_lines_field_of_two_kinds_is_named_with_its_line(tmp_path):
    """Arrow gives a column one type; its own error ("Expected object or value") named no line."""
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"text": "a good one", "label": 1}\n\n{"text": 5, "label": 0}\n')
    with pytest.raises(
        ReviewRNNError, match=f"{re.escape(str(path))}:3: field 'text' holds a number, but text on line 1"
    ):
        load_corpus(str(path))


def test_a_semicolon_separated_file_is_named_as_such(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("review_text;stars\ngood one;5\nbad one;1\n")
    with pytest.raises(ReviewRNNError, match="one column named 'review_text;stars': the file looks separated by semi"):
        load_corpus(str(path))


def test_json_array_file_is_read(tmp_path):
    path = tmp_path / "reviews.json"
    path.write_text(json.dumps([{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}], indent=1))
    assert load_corpus(str(path)).examples.labels == [1, 0]
    path.write_text('[{"text": "good", "label": 1},\n {"text": "bad", "label": 0,}]')
    with pytest.raises(ReviewRNNError, match=f"{re.escape(str(path))}:2: not valid JSON"):
        load_corpus(str(path))


@pytest.mark.parametrize("label", [[1], {"stars": 5}])
def test_label_that_is_not_a_class_name_or_number(tmp_path, label):
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"text": "a", "label": label}) + "\n" + json.dumps({"text": "b", "label": label}))
    with pytest.raises(ReviewRNNError, match=r"odd\.jsonl:1: column 'label' holds a"):
        load_corpus(str(path))


@pytest.mark.parametrize("reader", ["corpus", "unlabeled", "predict table"])
def test_a_number_where_text_belongs_is_named_by_every_reader(tmp_path, reader):
    """JSON keeps numbers as numbers: each reader names the row and column instead of failing later."""
    from reviewrnn.lmtexts import read_unlabeled
    from reviewrnn.tableinput import read_table

    path = tmp_path / "numbers.jsonl"
    path.write_text('{"review": 12, "sentiment": "positive"}\n{"review": 7, "sentiment": "negative"}\n')
    read = {
        "corpus": lambda: load_corpus(str(path)),
        "unlabeled": lambda: read_unlabeled(path, None),
        "predict table": lambda: read_table(path, None),
    }[reader]
    with pytest.raises(ReviewRNNError, match=r"numbers\.jsonl:1: column 'review' is int, expected text$"):
        read()


def test_a_corpus_that_is_not_a_named_file_says_what_to_do(tmp_path):
    """A pipe was 'no such corpus file' though it existed; a .gz or a name without extension was
    an 'unknown file type' with no hint."""

    from reviewrnn.corpusfile import resolve

    plain = write_table(tmp_path / "own.csv", [("good", "positive"), ("bad", "negative")])
    (tmp_path / "own.csv.gz").write_bytes(gzip.compress(plain.read_bytes()))
    (tmp_path / "own").write_bytes(plain.read_bytes())
    read, write = os.pipe()
    try:
        cases = {
            f"/dev/fd/{read}": "a corpus is read from a file, not a pipe: .* save it first",
            "-": "a corpus is read from a file, not a pipe",
            str(tmp_path): "a directory; give the CSV/TSV/JSONL/Parquet file inside it",
            str(tmp_path / "own.csv.gz"): r"a compressed file; decompress it first \(e\.g\. gunzip -k",
            str(tmp_path / "own"): "no file extension, so its format is unknown; name it with one of .csv",
            str(tmp_path / "gone.csv"): "no such corpus file",
        }
        for spec, message in cases.items():
            with pytest.raises(ReviewRNNError, match=f"^{re.escape(spec)}: {message}"):
                resolve(spec)
    finally:
        os.close(read), os.close(write)


@pytest.mark.parametrize(
    "kind, data",
    [
        ("gzip-compressed", "gzip"),
        ("bzip2-compressed", "bz2"),
        ("xz-compressed", "lzma"),
        ("UTF-16 text", "utf-16"),
        ("UTF-16 text (no byte-order mark)", "utf-16-le"),
        ("UTF-16 text (no byte-order mark)", "utf-16-be"),
    ],
)
def test_predict_refuses_compressed_or_utf16_input_before_any_row(trained_model, tmp_path, kind, data):
    """Such input came out as one garbage row per newline byte, exit 0."""
    import bz2
    import lzma

    text = "".join(f"review {n} was a great film\n" for n in range(300))
    packed = {"gzip": gzip.compress, "bz2": bz2.compress, "lzma": lzma.compress}.get(data)
    raw = packed(text.encode()) if packed else text.encode(data)
    path = tmp_path / "reviews.txt.packed"
    path.write_bytes(raw)
    for args, stdin in ((["--file", str(path)], None), (["-"], raw)):
        result = CliRunner().invoke(app, ["predict", "--model", str(trained_model), *args], input=stdin)
        assert result.exit_code == 1 and result.stdout == ""
        assert f": {kind}" in result.stderr and "not UTF-8 text; make text of it first" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    ordinary = CliRunner().invoke(app, ["predict", "--model", str(trained_model), "-"], input=b"BZh is a fine brand\n")
    assert ordinary.exit_code == 0 and len(ordinary.stdout.splitlines()) == 1


def test_unlabeled_text_from_a_pipe_is_read_once_and_compressed_text_is_refused(tmp_path):

    from reviewrnn.fetch import sha256_file
    from reviewrnn.lmtexts import read_unlabeled

    plain = tmp_path / "more.txt"
    plain.write_text("a fine film\n\nbad acting\n", encoding="utf-8")
    texts, digest = read_unlabeled(plain, None)
    assert texts == ["a fine film", "bad acting"] and digest == sha256_file(plain)
    marked = tmp_path / "marked.txt"  # a Windows editor's byte-order mark is not part of the first review
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    assert read_unlabeled(marked, None) == (texts, sha256_file(marked))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"cat {plain} > {fifo}"])
    assert read_unlabeled(fifo, None) == (texts, digest)  # hashed from what was read, not read again
    writer.wait(timeout=10)
    packed = tmp_path / "more.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    with pytest.raises(ReviewRNNError, match=r"more\.txt\.gz: gzip-compressed, not UTF-8 text; .* zcat .*\.gz >"):
        read_unlabeled(packed, None)


def test_a_compressed_or_utf16_table_is_made_a_file_again_not_piped_as_lines(trained_model, tmp_path):
    """Piped as lines, a table's header and label column would be scored as reviews."""

    table = write_table(tmp_path / "shop.csv", [("good", "positive"), ("bad", "negative")])
    packed = tmp_path / "shop.csv.gz"
    packed.write_bytes(gzip.compress(table.read_bytes()))
    wide = tmp_path / "wide.csv"
    wide.write_bytes(table.read_text().encode("utf-16"))
    sheet = tmp_path / "shop.xlsx"
    sheet.write_bytes(b"PK\x03\x04" + bytes(40))
    spaced = tmp_path / "my shop.csv.gz"
    spaced.write_bytes(packed.read_bytes())
    expected = {
        spaced: f"e.g. zcat '{spaced}' > '{tmp_path / 'my shop.csv'}'",
        packed: f"make a file of it, e.g. zcat {packed} > {tmp_path / 'shop-2.csv'}",  # shop.csv is there
        wide: f"make a file of it, e.g. iconv -f utf-16 -t utf-8 {wide} > {tmp_path / 'utf8-wide.csv'}",
        sheet: "a spreadsheet, not text; save it as CSV UTF-8",
    }
    for path, advice in expected.items():
        result = CliRunner().invoke(app, ["predict", "--model", str(trained_model), "--file", str(path)])
        assert result.exit_code == 1 and result.stdout == "" and advice in result.stderr, result.stderr
