"""`reviewrnn predict`: one row out per review in, streaming, safe in shell pipelines."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import typer

from reviewrnn.commands.common import err, friendly_errors


@friendly_errors
def predict(
    texts: Annotated[
        list[str] | None, typer.Argument(help="Reviews to classify; '-' (or nothing) reads stdin, one per line.")
    ] = None,
    files: Annotated[
        list[Path] | None, typer.Option("--file", "-f", help="Read reviews from a file, one per line (repeatable).")
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help="Model directory (default: $REVIEWRNN_MODEL or the newest under models/)."),
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
    An empty or blank line gives a row with an empty label and probability (null in JSON).
    """
    from reviewrnn.artifacts import default_model_dir
    from reviewrnn.predict import Predictor

    texts, files = texts or [], files or []
    missing = [path for path in files if not path.is_file()]
    if missing:
        raise typer.BadParameter(f"{missing[0]}: no such file", param_hint="'--file'")
    stdin = typer.get_binary_stream("stdin")
    if (not texts and not files or "-" in texts) and stdin.isatty():
        raise typer.BadParameter("no input: give TEXT, --file PATH, or pipe reviews on stdin", param_hint="TEXTS")
    if trace and output_format == "csv":
        raise typer.BadParameter(
            "--trace renders in the terminal or, with --format jsonl, as JSON", param_hint="'--format'"
        )
    predictor = Predictor(model or default_model_dir())
    records = _records(texts, files, stdin)
    if trace:
        _write_traces(predictor, records, as_json=output_format == "jsonl")
        return
    writer = _row_writer(output_format, echo_text)
    sink, chunk = sys.stdout, _chunk_size(stdin, texts)
    try:
        for rows, (line, prediction) in enumerate(predictor.stream(records, chunk_lines=chunk), start=1):
            sink.write(writer(line.source, line.number, str(line), prediction))
            if rows % chunk == 0:
                sink.flush()  # rows reach the reader chunk by chunk, in input order
        sink.flush()
    except BrokenPipeError:
        # The reader (`head -1`, say) has gone: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None


def _write_traces(predictor, records, as_json: bool) -> None:
    """One trace per input line: a coloured rendering on the terminal, or one JSON object per line."""
    from reviewrnn.commands.common import out
    from reviewrnn.lab.render import trace_legend, trace_view
    from reviewrnn.lab.trace import trace_text

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


def _chunk_size(stdin, texts: list[str]) -> int:
    return 1 if ("-" in texts or not texts) and stdin.isatty() else 256


def _records(texts: list[str], files: list[Path], stdin) -> Iterator:
    sources: list[tuple[str, object]] = [("-", stdin) if text == "-" else ("arg", text) for text in texts]
    sources += [(str(path), path) for path in files]
    if not sources:
        sources = [("-", stdin)]
    warned = False
    for name, source in sources:
        if name == "arg":
            yield _Text(name, 1, source)
            continue
        handle = open(source, "rb") if isinstance(source, Path) else source
        try:
            for number, raw in enumerate(handle, start=1):
                line, bad = _decode(raw)
                if bad and not warned:
                    err.print(f"warning: {name}:{number}: invalid UTF-8 replaced with U+FFFD (reported once)")
                    warned = True
                yield _Text(name, number, line)
        finally:
            if isinstance(source, Path):
                handle.close()


class _Text(str):
    """A line of input that remembers where it came from (source, line number)."""

    def __new__(cls, source: str, number: int, text: str):
        value = super().__new__(cls, text)
        value.source, value.number = source, number
        return value


def _decode(raw: bytes) -> tuple[str, bool]:
    raw = raw.rstrip(b"\n").rstrip(b"\r")
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


def _row_writer(output_format: str, echo_text: bool):
    def tsv(source, number, text, p):
        label = "" if p.label is None else p.label
        probability = "" if p.probability is None else f"{p.probability:.4f}"
        columns = [label, probability] + ([" ".join(text.split("\t"))] if echo_text else [])
        return "\t".join(columns) + "\n"

    def csv_row(source, number, text, p):
        buffer = io.StringIO()
        probability = "" if p.probability is None else f"{p.probability:.4f}"
        csv.writer(buffer, lineterminator="\n").writerow([p.label or "", probability] + ([text] if echo_text else []))
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
