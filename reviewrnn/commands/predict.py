"""`reviewrnn predict`: one row out per review in, streaming, safe in shell pipelines.

Parse, call, render: lines come from `reviewrnn.lines`, rows from `reviewrnn.formats`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import typer

from reviewrnn.commands.common import ThreadsOption, conflict, err, friendly_errors, reader_gone, silence_stdout
from reviewrnn.errors import ReviewRNNError
from reviewrnn.formats import json_line, row_writer
from reviewrnn.lines import Cut, Line, file_problem, refuse_not_text

TextsArgument = Annotated[
    list[str] | None, typer.Argument(help="Reviews to classify; '-' (or nothing) reads stdin, one per line.")
]
FilesOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--file", "-f", help="Read reviews from a file: one per line, or a CSV/TSV/JSON(L)/Parquet table (repeatable)."
    ),
]
TextColumnOption = Annotated[
    str | None,
    typer.Option(
        help="The text column of --file tables (default: text or review); given, stdin and other files are "
        "read as JSON Lines with this field."
    ),
]
ModelsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--model",
        "-m",
        help="Model directory (default: $REVIEWRNN_MODEL or the newest under models/). "
        "Repeat it to average several models' probabilities (an ensemble).",
    ),
]
FormatOption = Annotated[
    Literal["tsv", "jsonl", "csv"],
    typer.Option("--format", help="tsv: label<TAB>probability; csv; jsonl: one JSON object per line."),
]
TextOption = Annotated[bool, typer.Option("--text", help="Add the input text as the last column.")]


def _finite(value: float | None) -> float | None:
    if value is not None and value != value:  # nan passes the range check: no comparison with it is true
        raise typer.BadParameter("nan is not a probability; give a value in [0, 1]")
    return value


ThresholdOption = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        max=1.0,
        callback=_finite,
        help="For this call: say the second label when its probability is at least this "
        "(default: the model's saved threshold, else the most probable label).",
    ),
]
FamiliarityOption = Annotated[
    bool,
    typer.Option(
        "--familiarity",
        help="With --format jsonl: how familiar each review reads to the language model the model was "
        "initialised from (% of TRAIN reviews it found harder; low: unlike TRAIN). Needs train --init.",
    ),
]
TraceOption = Annotated[
    bool,
    typer.Option(
        "--trace", help="Show the prediction after every token; with --format jsonl: tokens and per-step probabilities."
    ),
]


@friendly_errors
def predict(
    texts: TextsArgument = None,
    files: FilesOption = None,
    models: ModelsOption = None,
    output_format: FormatOption = "tsv",
    echo_text: TextOption = False,
    trace: TraceOption = False,
    threshold: ThresholdOption = None,
    familiarity: FamiliarityOption = False,
    text_column: TextColumnOption = None,
    threads: ThreadsOption = None,
) -> None:
    """Classify reviews: label<TAB>probability, one row per input line, in order.

    \b
    Examples:
      reviewrnn predict "The plot was thin but the acting saved it."
      cat reviews.txt | reviewrnn predict - > labels.tsv
      reviewrnn predict --file a.txt --file b.txt --format jsonl | jq .
      reviewrnn predict --trace "The dog barked all night, but the end was fine."
      zcat reviews.gz | reviewrnn predict --format jsonl | head -3
      reviewrnn predict -m models/wide-0 -m models/wide-1 - < reviews.txt
      reviewrnn predict --threshold 0.8 --format jsonl - < reviews.txt
      reviewrnn predict --format jsonl --familiarity - < reviews.txt
      reviewrnn predict --file shop.csv --text-column body > labels.tsv

    With --format jsonl a row also has "threshold" and "ood"; --familiarity
    needs a model trained with --init. Input unlike the model's training
    corpus gets one warning on stderr. An empty or blank line gives a row
    with an empty label and probability (null in JSON). Rows come out as
    lines come in; memory stays flat however long the input, and its lines,
    unless --text keeps them whole. TEXT arguments (and '-', stdin) are read
    first, in their order, then each --file.
    """
    from reviewrnn.predict import CHUNK_LINES, load_predictor
    from reviewrnn.predictinput import input_chunks, read_tables

    texts, files = texts or [], files or []
    stdin = _check_input(texts, files)
    _check_trace(trace, output_format, models or [])
    _check_familiarity(familiarity, output_format, trace, models or [])
    if threads is not None:  # the tokenizer's Rayon pool reads this when it starts, at the first batch
        os.environ["RAYON_NUM_THREADS"] = str(threads)
    predictor = load_predictor(models or [_default_model()], threshold, familiarity, threads)
    _note_unused_thresholds(getattr(predictor, "unused_thresholds", {}))
    if sys.stdout is None:
        raise ReviewRNNError("standard output is closed; send it to a file or a pipe (> labels.tsv)")
    # Without --text or --trace nothing past the first (or last) max_chars of a line is needed: keep
    # only that much, so a line of any length takes bounded memory. 4 bytes a character, plus 3 for a cut one.
    # A JSON Lines record is parsed whole (--text-column), so its line is never cut.
    cap = None if echo_text or trace or text_column else 4 * predictor.max_chars + 3
    cut = Cut(cap, predictor.keep, CHUNK_LINES)
    tables = read_tables(files, text_column, predictor.text_column)  # whole, before output: a bad one prints none
    chunks = _warn_invalid_once(input_chunks(texts, files, stdin, cut, text_column, tables))
    if trace:
        _write_traces(predictor, (line for chunk in chunks for line in chunk), as_json=output_format == "jsonl")
        return
    with _progress(show=err.is_terminal and (stdin is not None or bool(files))) as advance:
        _write_rows(predictor, chunks, row_writer(output_format, echo_text, familiarity), advance)


def _check_trace(trace: bool, output_format: str, models: list[Path]) -> None:
    if trace and output_format == "csv":
        raise conflict("--trace renders in the terminal or, with --format jsonl, as JSON; drop --format csv")
    if trace and len(models) > 1:
        raise conflict("--trace follows one model; give a single --model")


def _check_familiarity(familiarity: bool, output_format: str, trace: bool, models: list[Path]) -> None:
    if not familiarity:
        return
    if trace:
        raise conflict("--familiarity does not go with --trace; drop one")
    if output_format != "jsonl":
        raise conflict("--familiarity adds a field to JSON rows; add --format jsonl")
    if len(models) > 1:
        raise conflict("--familiarity measures against one model's LM; give a single --model")


def _note_unused_thresholds(unused: dict[Path, float]) -> None:
    if unused:
        from reviewrnn.messages import unused_thresholds

        err.print(f"note: {unused_thresholds(unused)}")


def _default_model() -> Path:
    """$REVIEWRNN_MODEL or the newest model; on a terminal, say which one answers (never in a log or a pipe)."""
    from reviewrnn.artifacts import MODEL_ENV, default_model_dir

    model = default_model_dir()
    if err.is_terminal:
        source = "$REVIEWRNN_MODEL" if os.environ.get(MODEL_ENV) else "the newest under models/"
        err.print(f"model: {model} ({source}; choose with --model)", style="dim")
    return model


def _warn_invalid_once(chunks: Iterator[list[Line]]) -> Iterator[list[Line]]:
    """The chunks as they are; the first line that held invalid UTF-8 gets one warning on stderr per run."""
    warned = False
    for chunk in chunks:
        if not warned and (bad := next((line for line in chunk if line.invalid), None)):
            err.print(f"warning: {bad.source}:{bad.number}: invalid UTF-8 replaced with U+FFFD (reported once)")
            warned = True
        yield chunk


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
        if str(path) == "-":
            fix = "drop --file -: the TEXT '-' reads it" if "-" in texts else "give it as a TEXT argument"
            raise typer.BadParameter(f"'-' is stdin; {fix}: reviewrnn predict [options] -", param_hint="--file")
        if problem := file_problem(path):
            raise typer.BadParameter(f"{path}: {problem}", param_hint="'--file'")
        if path.is_file():  # a pipe's first bytes are checked as they are read (lines.Reader)
            with open(path, "rb") as handle:
                refuse_not_text(handle.read(64), str(path), "| reviewrnn predict [options] -")
    for text in texts:  # fastText's order (model, then input) would otherwise classify the path as a review
        if _names_a_model(text):
            raise typer.BadParameter(f"{text} is a model directory; give it with --model {text}", param_hint="'TEXTS'")
    if not ("-" in texts or not (texts or files)):
        return None
    if sys.stdin is None:
        raise ReviewRNNError("standard input is closed; give TEXT or --file PATH, or pipe reviews in")
    stdin = typer.get_binary_stream("stdin")
    if stdin.isatty():
        raise typer.BadParameter("no input: give TEXTS, --file PATH, or pipe reviews on stdin", param_hint="'TEXTS'")
    return stdin


def _names_a_model(text: str) -> bool:
    try:
        return (Path(text) / "config.json").is_file()
    except (OSError, ValueError):  # a review too long for a file name, or with a NUL, names nothing
        return False


def _write_rows(predictor, chunks: Iterator[list], writer, advance=lambda count: None) -> None:
    """Rows in input order, flushed after every chunk, so a slow producer sees each row as soon as possible.

    After each chunk, input that so far reads unlike the model's TRAIN gets one warning on stderr."""
    from reviewrnn.domain import DomainWatch

    watch = DomainWatch(predictor.decision.domain, f"the training corpus of {predictor.directory}")
    with _stdout_errors():
        for chunk in chunks:
            predictions = predictor.predict(chunk)
            for line, prediction in zip(chunk, predictions):
                sys.stdout.write(writer(line.source, line.number, str(line), prediction))
            sys.stdout.flush()
            if warning := watch.add([p.ood for p in predictions]):
                err.print(f"warning: {warning} (reported once)")
            advance(len(chunk))


@contextlib.contextmanager
def _stdout_errors() -> Iterator[None]:
    try:
        yield
    except BrokenPipeError:
        raise reader_gone() from None
    except OSError as error:  # disk full, say: one line, and no second failure when Python flushes at exit
        silence_stdout()
        raise ReviewRNNError(f"cannot write the output: {error.strerror or error}") from None


def _write_traces(predictor, records, as_json: bool) -> None:
    """One trace per input line: a coloured rendering on the terminal, or one JSON object per line."""
    from reviewrnn.commands.common import out
    from reviewrnn.render import trace_legend, trace_view
    from reviewrnn.trace import trace_text

    with _stdout_errors():
        for number, line in enumerate(records):
            traced = trace_text(predictor, str(line))
            if as_json:
                sys.stdout.write(json_line({"source": line.source, "line": line.number} | traced.to_record()))
                sys.stdout.flush()
                continue
            if number == 0:
                err.print(trace_legend(traced.label_names[traced.traced]))
            out.print(trace_view(traced))
