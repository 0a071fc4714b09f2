"""`reviewrnn predict`: one row out per review in, streaming, safe in shell pipelines."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import select
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import typer

from reviewrnn.commands.common import err, friendly_errors
from reviewrnn.errors import ReviewRNNError

READ_BYTES = 1 << 16  # one read of input
CHUNK_BYTES = 1 << 20  # input predicted and written together, at most (and CHUNK_LINES lines)
TSV_BREAKS = re.compile(r"[\t\n\r]")  # in an echoed text these would split a TSV row: they become spaces


@friendly_errors
def predict(
    texts: Annotated[
        list[str] | None, typer.Argument(help="Reviews to classify; '-' (or nothing) reads stdin, one per line.")
    ] = None,
    files: Annotated[
        list[Path] | None, typer.Option("--file", "-f", help="Read reviews from a file, one per line (repeatable).")
    ] = None,
    models: Annotated[
        list[Path] | None,
        typer.Option(
            "--model",
            "-m",
            help="Model directory (default: $REVIEWRNN_MODEL or the newest under models/). "
            "Repeat it to average several models' probabilities (an ensemble).",
        ),
    ] = None,
    output_format: Annotated[
        Literal["tsv", "jsonl", "csv"],
        typer.Option("--format", help="tsv: label<TAB>probability; csv; jsonl: one JSON object per line."),
    ] = "tsv",
    echo_text: Annotated[bool, typer.Option("--text", help="Add the input text as the last column.")] = False,
    trace: Annotated[
        bool,
        typer.Option(
            "--trace",
            help="Show the prediction after every token; with --format jsonl: tokens and per-step probabilities.",
        ),
    ] = False,
) -> None:
    """Classify reviews: label<TAB>probability, one row per input line, in order.

    Examples:
      reviewrnn predict "The plot was thin but the acting saved it."
      cat reviews.txt | reviewrnn predict - > labels.tsv
      reviewrnn predict --file a.txt --file b.txt --format jsonl | jq .
      reviewrnn predict --trace "The dog barked all night, but the ending was lovely."
      zcat reviews.gz | reviewrnn predict --format jsonl | head -3
      reviewrnn predict -m models/wide-0 -m models/wide-1 -m models/wide-2 - < reviews.txt
    An empty or blank line gives a row with an empty label and probability (null in JSON). Rows come out
    as lines come in; memory stays flat however long the input, and its lines, unless --text keeps them whole.
    """
    from reviewrnn.artifacts import MODEL_ENV, default_model_dir
    from reviewrnn.predict import CHUNK_LINES, load_predictor

    texts, files = texts or [], files or []
    stdin = _check_input(texts, files)
    if trace and output_format == "csv":
        raise typer.BadParameter(
            "--trace renders in the terminal or, with --format jsonl, as JSON", param_hint="'--format'"
        )
    if trace and models and len(models) > 1:
        raise typer.BadParameter("--trace follows one model; give a single --model", param_hint="'--trace'")
    if not models:
        models = [default_model_dir()]
        if err.is_terminal:  # say which model answered; never in a log or a pipe
            source = "$REVIEWRNN_MODEL" if os.environ.get(MODEL_ENV) else "the newest under models/"
            err.print(f"[dim]model: {models[0]} ({source}; choose with --model)[/dim]")
    predictor = load_predictor(models)
    if sys.stdout is None:
        raise ReviewRNNError("standard output is closed; send it to a file or a pipe (> labels.tsv)")
    # Without --text or --trace nothing past the first (or last) max_chars of a line is needed: keep
    # only that much, so a line of any length takes bounded memory. 4 bytes a character, plus 3 for a cut one.
    cap = None if echo_text or trace else 4 * predictor.max_chars + 3
    chunks = _chunks(texts, files, stdin, _Cut(cap, predictor.keep, CHUNK_LINES))
    if trace:
        _write_traces(predictor, (line for chunk in chunks for line in chunk), as_json=output_format == "jsonl")
        return
    with _progress(show=err.is_terminal and (stdin is not None or bool(files))) as advance:
        _write_rows(predictor, chunks, _row_writer(output_format, echo_text), advance)


@contextlib.contextmanager
def _progress(show: bool) -> Iterator:
    """A count of reviews done on stderr, only when stderr is a terminal (never in a log or a pipe)."""
    if not show:
        yield lambda count: None
        return
    from rich.live import Live
    from rich.spinner import Spinner

    started, done = time.perf_counter(), 0
    spinner = Spinner("dots", "predicting…")
    # stdout stays ours: rich would otherwise capture it and draw the rows on the stderr display.
    with Live(spinner, console=err, transient=True, redirect_stdout=False, redirect_stderr=False):

        def advance(count: int) -> None:
            nonlocal done
            done += count
            rate = done / max(time.perf_counter() - started, 1e-9)
            spinner.update(text=f"predicted {done:,} reviews ({rate:,.0f}/s)")

        yield advance


def _check_input(texts: list[str], files: list[Path]):
    """Every --file readable and stdin usable where it is read, before any output: returns stdin or None."""
    for path in files:
        if problem := _file_problem(path):
            raise typer.BadParameter(f"{path}: {problem}", param_hint="'--file'")
    if not ("-" in texts or not (texts or files)):
        return None
    if sys.stdin is None:
        raise ReviewRNNError("standard input is closed; give TEXT or --file PATH, or pipe reviews in")
    stdin = typer.get_binary_stream("stdin")
    if stdin.isatty():
        raise typer.BadParameter("no input: give TEXT, --file PATH, or pipe reviews on stdin", param_hint="TEXTS")
    return stdin


def _file_problem(path: Path) -> str | None:
    """Why `path` cannot be read, or None; a FIFO or /dev/fd/N (`--file <(zcat reviews.gz)`) is fine."""
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "is a directory"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


def _write_rows(predictor, chunks: Iterator[list], writer, advance=lambda count: None) -> None:
    """Rows in input order, flushed after every chunk, so a slow producer sees each row as soon as possible."""
    with _stdout_errors():
        for chunk in chunks:
            for line, prediction in zip(chunk, predictor.predict(chunk)):
                sys.stdout.write(writer(line.source, line.number, str(line), prediction))
            sys.stdout.flush()
            advance(len(chunk))


@contextlib.contextmanager
def _stdout_errors() -> Iterator[None]:
    try:
        yield
    except BrokenPipeError:
        # The reader (`head -1`, say) has gone: stop quietly, as Unix tools do.
        _silence_stdout()
        raise typer.Exit(0) from None
    except OSError as error:  # disk full, say: one line, and no second failure when Python flushes at exit
        _silence_stdout()
        raise ReviewRNNError(f"cannot write the output: {error.strerror or error}") from None


def _silence_stdout() -> None:
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _write_traces(predictor, records, as_json: bool) -> None:
    """One trace per input line: a coloured rendering on the terminal, or one JSON object per line."""
    from reviewrnn.commands.common import out
    from reviewrnn.lab.render import trace_legend, trace_view
    from reviewrnn.lab.trace import trace_text

    with _stdout_errors():
        for number, line in enumerate(records):
            traced = trace_text(predictor, str(line))
            if as_json:
                record = {"source": line.source, "line": line.number} | traced.to_record()
                sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
                sys.stdout.flush()
                continue
            if number == 0:
                err.print(trace_legend(traced.label_names[traced.traced]))
            out.print(trace_view(traced))


@dataclass
class _Cut:
    """How input lines are gathered: `cap` bytes kept of a long line, from its head or tail; `lines` per chunk."""

    cap: int | None
    keep: str
    lines: int


def _chunks(texts: list[str], files: list[Path], stdin, cut: _Cut) -> Iterator[list[_Text]]:
    """Input lines in order, in chunks: one per TEXT argument, then what each read of a file or stdin gives."""
    sources: list[tuple[str, object]] = [("-", stdin) if text == "-" else ("arg", text) for text in texts]
    sources += [(str(path), path) for path in files]
    warn = _Warner()
    for name, source in sources or [("-", stdin)]:
        if name == "arg":
            # argv arrives with undecodable bytes as surrogates: give them back as bytes to decode like stdin.
            line, bad = _decode(_argument_bytes(source))
            warn(bad, name, 1)
            yield [_Text(name, 1, line)]
            continue
        handle = _open(source) if isinstance(source, Path) else source
        try:
            number = 0
            for raw_lines in _line_chunks(_Reader(handle), cut):
                chunk = []
                for raw in raw_lines:
                    number += 1
                    line, bad = _decode(raw)
                    warn(bad, name, number)
                    chunk.append(_Text(name, number, line))
                yield chunk
        finally:
            if isinstance(source, Path):
                handle.close()


def _open(path: Path):
    try:
        return open(path, "rb", buffering=0)
    except OSError as error:  # it changed since the check at the start
        raise ReviewRNNError(f"{path}: cannot read ({error.strerror})") from None


class _Warner:
    """Warn once per run about invalid UTF-8."""

    def __init__(self):
        self.warned = False

    def __call__(self, bad: bool, source: str, number: int) -> None:
        if bad and not self.warned:
            err.print(f"warning: {source}:{number}: invalid UTF-8 replaced with U+FFFD (reported once)")
            self.warned = True


def _argument_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no byte could have made (in-process callers)
        return text.encode("utf-8", "surrogatepass")


class _Reader:
    """Reads whatever input is there now (up to READ_BYTES), and says whether more is waiting."""

    def __init__(self, handle):
        try:
            self.descriptor = handle.fileno()
        except (AttributeError, OSError, ValueError):  # an in-memory stream (CliRunner)
            self.descriptor = None
        self.handle = handle

    def read(self) -> bytes:
        if self.descriptor is None:
            return getattr(self.handle, "read1", self.handle.read)(READ_BYTES)
        return os.read(self.descriptor, READ_BYTES)

    def ready(self) -> bool:
        if self.descriptor is None:
            return True
        return bool(select.select([self.descriptor], [], [], 0)[0])


def _line_chunks(reader: _Reader, cut: _Cut) -> Iterator[list[bytes]]:
    """Lines split on b"\\n" only, in chunks of what has arrived: up to `cut.lines` lines or CHUNK_BYTES,
    or fewer when no more input is waiting, so rows go out while a slow producer is still writing.

    With `cut.cap`, a line keeps only its first (keep="head") or last ("tail") `cap` bytes, cut at a character.
    """
    cap, keep = cut.cap, cut.keep
    lines: list[bytes] = []
    size, partial, skipping = 0, bytearray(), False  # the line being read; skipping: its head is complete
    while block := reader.read():
        *complete, rest = block.split(b"\n")
        for piece in complete:
            if not skipping:
                partial += piece
            lines.append(_clip(bytes(partial), cap, keep))
            size += len(lines[-1])
            partial, skipping = bytearray(), False
            if len(lines) >= cut.lines or size >= CHUNK_BYTES:
                yield lines
                lines, size = [], 0
        if not skipping:
            partial += rest  # a bytearray grows in place: a long line costs linear time
            if cap is not None and len(partial) > cap:
                partial, skipping = bytearray(_clip(partial, cap, keep)), keep == "head"
        if lines and not reader.ready():
            yield lines
            lines, size = [], 0
    if partial:
        lines.append(bytes(partial))
    if lines:
        yield lines


def _clip(raw: bytes, cap: int | None, keep: str) -> bytes:
    """At most `cap` bytes of `raw` from the head or the tail, never splitting a UTF-8 character."""
    if cap is None or len(raw) <= cap:
        return raw
    if keep == "head":
        end = cap
        while end > cap - 3 and raw[end] & 0xC0 == 0x80:  # raw[end] continues a character: cut before it
            end -= 1
        return raw[:end]
    start = len(raw) - cap
    while start < len(raw) - cap + 3 and raw[start] & 0xC0 == 0x80:
        start += 1
    return raw[start:]


class _Text(str):
    """A line of input that remembers where it came from (source, line number)."""

    def __new__(cls, source: str, number: int, text: str):
        value = super().__new__(cls, text)
        value.source, value.number = source, number
        return value


def _decode(raw: bytes) -> tuple[str, bool]:
    raw = raw.rstrip(b"\r")  # CRLF line ends
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


def _row_writer(output_format: str, echo_text: bool):
    def tsv(source, number, text, p):
        label = "" if p.label is None else p.label
        probability = "" if p.probability is None else f"{p.probability:.4f}"
        columns = [label, probability] + ([TSV_BREAKS.sub(" ", text)] if echo_text else [])
        return "\t".join(columns) + "\n"

    def csv_row(source, number, text, p):
        buffer = io.StringIO()
        probability = "" if p.probability is None else f"{p.probability:.4f}"
        # csv quotes a field holding "\n" (our line end) but not a lone "\r", which readers also end a row on.
        quoting = csv.QUOTE_ALL if "\r" in text else csv.QUOTE_MINIMAL
        row = [p.label or "", probability] + ([text] if echo_text else [])
        csv.writer(buffer, lineterminator="\n", quoting=quoting).writerow(row)
        return buffer.getvalue()

    def jsonl(source, number, text, p):
        record = {
            "source": source,
            "line": number,
            "label": p.label,
            "probability": p.probability,
            "probabilities": p.probabilities,
            "tokens": p.tokens,
        }
        if echo_text:
            record["text"] = text
        return json.dumps(record, ensure_ascii=False) + "\n"

    return {"tsv": tsv, "csv": csv_row, "jsonl": jsonl}[output_format]
