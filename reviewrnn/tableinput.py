"""predict's input from tables: the text column of a CSV/TSV/JSONL/Parquet --file, or of JSON Lines on stdin.

A table file is read whole through the corpus readers (corpus.read_file: BOM, quoted newlines, the
same one-line errors), then given out in chunks of Lines numbered by record, so rows match records
one for one. JSON Lines on stdin stay streamed: each line is one record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from reviewrnn.corpus import TEXT_COLUMNS, ColumnError, pick_column, read_file
from reviewrnn.corpusfile import READERS, resolve
from reviewrnn.errors import ReviewRNNError
from reviewrnn.lines import Line


def is_table(path: Path) -> bool:
    """A --file whose extension names a table format is read as a table, not line by line."""
    return Path(path).suffix.lower() in READERS


def table_chunks(path: Path, column: str | None, lines: int) -> Iterator[list[Line]]:
    """The column's texts (--text-column, else text or review) in chunks of `lines`, numbered from 1 by record."""
    found = resolve(str(path))
    table = read_file(found)
    try:
        name = pick_column(table.column_names, column, TEXT_COLUMNS, "text", path)
    except ColumnError as error:
        raise error.naming("--text-column") from None
    values = table[name]
    for start in range(0, len(values), lines):
        chunk = values[start : start + lines]
        yield [Line(str(path), start + i, _text(value, path, start + i, name)) for i, value in enumerate(chunk, 1)]


def json_line_chunks(chunks: Iterator[list[Line]], column: str, skip: str = "arg") -> Iterator[list[Line]]:
    """Lines of JSON Lines input as the texts of their `column`; a blank line stays an empty review. Lines
    from the source `skip` (TEXT arguments) are reviews as they are."""
    for chunk in chunks:
        yield [line if line.source == skip else _field(line, column) for line in chunk]


def _field(line: Line, column: str) -> Line:
    if not line.strip():
        return line
    where = f"{line.source}:{line.number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        raise ReviewRNNError(
            f"{where}: not valid JSON; with --text-column, stdin is read as JSON Lines (one object a line)"
        ) from None
    if not isinstance(record, dict) or column not in record:
        keys = ", ".join(record) if isinstance(record, dict) else type(record).__name__
        raise ReviewRNNError(f"{where}: no field {column!r} (found: {keys}); fix --text-column")
    return Line(line.source, line.number, _text(record[column], line.source, line.number, column), line.invalid)


def _text(value, source, row: int, column: str) -> str:
    if value is None:
        return ""  # an empty review: a row with an empty label, as a blank line gives
    if not isinstance(value, str):
        raise ReviewRNNError(f"{source}: row {row}: column {column!r} is {type(value).__name__}, expected text")
    return value
