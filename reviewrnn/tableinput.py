"""predict's input from tables: the text column of a CSV/TSV/JSONL/Parquet --file, or of JSON Lines on stdin.

A table file is read whole before any row is written, so a bad file fails with nothing printed, and
it is read straight from the file (never through the `datasets` cache, which would keep a copy of
every file predicted). Its rows match its records one for one: a quoted newline stays in its review,
and a JSON Lines file numbers its rows by file line. JSON Lines on stdin stay streamed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from reviewrnn.corpus import TEXT_COLUMNS, ColumnError, pick_column
from reviewrnn.corpusfile import READERS, CorpusFile, refuse_not_text_file, row_line
from reviewrnn.errors import ReviewRNNError, RowError, brief, not_text
from reviewrnn.lines import Line


def is_table(path: Path) -> bool:
    """A --file whose extension names a table format is read as a table, not line by line."""
    return Path(path).suffix.lower() in READERS


def read_table(path: Path, column: str | None) -> list[Line]:
    """The texts of the column (--text-column, else text or review), one Line per record."""
    path = Path(path)
    reader = READERS[path.suffix.lower()]
    try:
        if reader != "parquet":
            refuse_not_text_file(path)
        if reader == "json":
            return _json_records(path, column)
        columns = _columns(path, reader)
    except OSError as error:
        raise ReviewRNNError(f"{path}: cannot read ({error.strerror or error})") from None
    name = _pick(list(columns), column, path)
    try:
        return [Line(str(path), row, _text(value, path, row, name)) for row, value in enumerate(columns[name], 1)]
    except RowError as error:  # named by the file's line, as the other readers name it
        raise error.at_line(row_line(CorpusFile(str(path), path, reader, ""), error.row)) from None


def json_line_chunks(chunks: Iterator[list[Line]], column: str, skip: str = "arg") -> Iterator[list[Line]]:
    """Lines of JSON Lines input as the texts of their `column`; a blank line stays an empty review. Lines
    from the source `skip` (TEXT arguments) are reviews as they are."""
    for chunk in chunks:
        yield [line if line.source == skip else _field(line, column) for line in chunk]


def _columns(path: Path, reader: str) -> dict[str, list]:
    if reader == "parquet":
        import pyarrow.parquet

        try:
            table = pyarrow.parquet.read_table(path)
        except Exception as error:  # pyarrow's errors have many types
            raise ReviewRNNError(f"{path}: cannot read as Parquet: {brief(error, 200)}") from None
        return {name: table.column(name).to_pylist() for name in table.column_names}
    from reviewrnn.corpus import read_file

    return read_file(CorpusFile(str(path), path, reader, ""))  # pandas: every field as text, BOM and quotes


def _json_records(path: Path, column: str | None) -> list[Line]:
    """A JSON array of records, or JSON Lines (blank lines skipped); rows numbered by record or file line."""
    with open(path, "rb") as handle:
        head = handle.read(64).removeprefix(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"["):
        try:
            records = list(enumerate(json.loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf")), 1))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ReviewRNNError(f"{path}: not valid JSON ({error.__class__.__name__}); fix the file") from None
    else:
        records = []
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                raw = raw.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw
                if raw.strip():
                    try:
                        records.append((number, json.loads(raw)))
                    except (json.JSONDecodeError, UnicodeDecodeError) as error:
                        raise ReviewRNNError(
                            f"{path}:{number}: not valid JSON ({error.__class__.__name__}); fix or remove that line"
                        ) from None
    name = None
    lines = []
    for number, record in records:
        if not isinstance(record, dict):
            raise ReviewRNNError(f"{path}:{number}: not a JSON object; each record must be one (with named fields)")
        if name is None:
            name = _pick(list(record), column, path)
        if name not in record:
            raise ReviewRNNError(f"{path}:{number}: no field {name!r} (found: {', '.join(record)}); fix --text-column")
        try:
            lines.append(Line(str(path), number, _text(record[name], path, number, name)))
        except RowError as error:  # JSON Lines: `number` is already the file's line
            raise (error if head.startswith(b"[") else error.at_line(number)) from None
    return lines


def _pick(columns: list[str], column: str | None, path: Path) -> str:
    try:
        return pick_column(columns, column, TEXT_COLUMNS, "text", path)
    except ColumnError as error:
        raise error.naming("--text-column") from None


def _field(line: Line, column: str) -> Line:
    if not line.strip():
        return line
    where = f"{line.source}:{line.number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        raise ReviewRNNError(
            f"{where}: not valid JSON; with --text-column, stdin and text files are read as JSON Lines "
            "(one object a line)"
        ) from None
    if not isinstance(record, dict) or column not in record:
        keys = ", ".join(record) if isinstance(record, dict) else type(record).__name__
        raise ReviewRNNError(f"{where}: no field {column!r} (found: {keys}); fix --text-column")
    try:
        return Line(line.source, line.number, _text(record[column], line.source, line.number, column), line.invalid)
    except RowError as error:
        raise error.at_line(line.number) from None


def _text(value, source, row: int, column: str) -> str:
    if value is None:
        return ""  # an empty review: a row with an empty label, as a blank line gives
    if not isinstance(value, str):
        raise not_text(source, row, column, value)
    return value
