"""predict's input as chunks of lines, in order: TEXT arguments and stdin, then each --file, a table's
text column or a text file's lines (lines.py reads them; tableinput.py parses tables and JSON Lines)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from reviewrnn.lines import Cut, Line, read_chunks


def read_tables(files: list[Path], column: str | None, model_column: str | None = None) -> dict[Path, list[Line]]:
    """Every --file that is a table (CSV/TSV/JSONL/Parquet), read whole: a bad one fails before any output.
    Without --text-column, the model's own text column is tried first, as `evaluate --corpus` does."""
    if not files:  # TEXT arguments and stdin: nothing to import for tables at cold start
        return {}
    from reviewrnn.corpus import Preferred
    from reviewrnn.tableinput import is_table, read_table

    if column is None and model_column:
        column = Preferred(model_column)
    return {path: read_table(path, column) for path in files if is_table(path)}


def input_chunks(
    texts: list[str], files: list[Path], stdin, cut: Cut, column: str | None, tables: dict[Path, list[Line]]
) -> Iterator[list[Line]]:
    """Chunks of input in order: TEXT arguments and stdin, then each --file. A table file gives its text
    column, one row per record; with --text-column, stdin and other files are JSON Lines."""

    def parsed(chunks: Iterator[list[Line]]) -> Iterator[list[Line]]:
        if not column:
            return chunks
        from reviewrnn.tableinput import json_line_chunks

        return json_line_chunks(chunks, column)

    if texts or not files:
        yield from parsed(read_chunks(texts, [], stdin, cut))
    for path in files:
        if path in tables:
            lines = tables[path]
            yield from (lines[start : start + cut.lines] for start in range(0, len(lines), cut.lines))
        else:
            yield from parsed(read_chunks([], [path], None, cut))
