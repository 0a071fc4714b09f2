"""The file behind a corpus spec, found and checked before any reader opens it: one place for both backends.

'imdb' is fetched once (fetch.py); a local CSV/TSV/JSON(L)/Parquet file must exist, have a known type
and hold reviews. Both the in-memory reader (corpus.py) and the Arrow one (ondisk.py) start here, so
a bad file gets the same one-line error whichever path reads it.
"""

from __future__ import annotations

import csv
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from reviewrnn import fetch
from reviewrnn.errors import ReviewRNNError, brief
from reviewrnn.lines import COMPRESSED, refuse_not_text

READERS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
HUB_PREFIX = "hub:"
RAGGED_ROW = re.compile(r"Expected \d+ fields in line \d+, saw \d+")  # pandas' C parser


@dataclass(frozen=True)
class CorpusFile:
    """A checked corpus file: `name` is what config.json records ('imdb' or the absolute path)."""

    name: str
    path: Path
    reader: str  # csv, tsv, json or parquet
    sha256: str

    @property
    def separator(self) -> str:
        """The field separator of a csv or tsv file."""
        return "\t" if self.reader == "tsv" else ","


def resolve(spec: str, on_disk: bool = False) -> CorpusFile:
    """'imdb' or a local file as a checked CorpusFile; Hub ids are read elsewhere (corpus.py), never on disk."""
    if spec == "imdb":
        found = CorpusFile("imdb", fetch.imdb_path(), "csv", fetch.IMDB_SHA256)
    elif spec.startswith(HUB_PREFIX):
        raise ReviewRNNError(f"{spec}: --on-disk reads local files; save the dataset as Parquet or JSONL first")
    else:
        path = Path(spec)
        if not path.is_file():
            raise ReviewRNNError(f"{spec}: {_not_a_file(spec, path, on_disk)}")
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            raise ReviewRNNError(f"{path}: {_unknown_type(path)}")
        found = CorpusFile(str(path.resolve()), path, reader, fetch.sha256_file(path))
    check_file(found, on_disk)
    return found


def _not_a_file(spec: str, path: Path, on_disk: bool) -> str:
    if spec == "-" or (path.exists() and not path.is_dir()):  # stdin, a pipe, <(...), a device
        return (
            "a corpus is read from a file, not a pipe: it is hashed and read more than once; "
            "save it first (e.g. ... > reviews.csv)"
        )
    if path.is_dir():
        return "a directory; give the CSV/TSV/JSONL/Parquet file inside it"
    kinds = "'imdb' or a CSV/TSV/JSONL/Parquet path" if on_disk else "'imdb', a CSV/TSV/JSONL/Parquet path, or hub:ID"
    return f"no such corpus file (use {kinds})"


def _unknown_type(path: Path) -> str:
    known = ", ".join(READERS)
    if path.suffix.lower() in COMPRESSED:
        return f"a compressed file; decompress it first (e.g. gunzip -k, unzip) to one of {known}"
    if not path.suffix:
        return f"no file extension, so its format is unknown; name it with one of {known}"
    return f"unknown file type {path.suffix!r}; use one of {known}"


def check_file(found: CorpusFile, on_disk: bool = False) -> None:
    """Catch what the readers would report badly or not at all: an empty file, a broken JSON record
    (with its line), a header without reviews. A JSON array is read whole, so --on-disk refuses it."""
    path = found.path
    if path.stat().st_size == 0:
        raise ReviewRNNError(f"{path}: the file is empty; a corpus needs a header and at least one review")
    if found.reader != "parquet":
        refuse_not_text_file(path)
    if found.reader == "json":
        if path.suffix.lower() != ".json" or first_byte(path) != b"[":
            _check_json_lines(path)
        elif on_disk:
            raise ReviewRNNError(
                f"{path}: a JSON array is read whole; for --on-disk save it as JSON Lines (.jsonl), CSV or Parquet"
            )
        else:
            _check_json_array(path)
    if found.reader in ("csv", "tsv") and not has_data_rows(path, found.separator):
        raise ReviewRNNError(f"{path}: a header but no reviews; a corpus needs at least one review per class")


def unreadable(found: CorpusFile, error: Exception) -> ReviewRNNError:
    """One line for a reader's failure: `datasets` wraps pandas/pyarrow errors in many types."""
    cause = error.__cause__ or error
    if isinstance(cause, UnicodeDecodeError) and (line := first_non_utf8_line(found.path)):
        converted = found.path.with_name(f"utf8-{found.path.name}")  # paths as given: the command runs from here
        return ReviewRNNError(
            f"{found.path}:{line}: not UTF-8 text; convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8 "
            f"{shlex.quote(str(found.path))} > {shlex.quote(str(converted))}"
        )
    if found.reader == "json" and (clash := json_type_clash(found.path)):
        return ReviewRNNError(clash)
    if RAGGED_ROW.search(str(cause)) and (ragged := first_ragged_row(found.path, found.separator)):
        line, fields, header = ragged
        tsv = ", or save the file as tab-separated .tsv" if found.reader == "csv" else ""
        return ReviewRNNError(
            f"{found.path}:{line}: {fields} fields where the header has {header}; put quotes around a text "
            f"that holds the separator ({found.separator!r}){tsv}"
        )
    detail = brief(cause, 200)
    return ReviewRNNError(f"{found.path}: cannot read as {found.reader.upper()}: {detail}")


def first_ragged_row(path: Path, separator: str) -> tuple[int, int, int] | None:
    """(file line where the record starts, its fields, the header's fields) of the first record whose field
    count differs from the header's, or None. pandas' own "line" skips newlines inside quotes, and it can
    take a wider first row's extra field as an index, so the count is made here, as csv reads the file."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=separator)
        header = next(reader, None)
        if header is None:
            return None
        start = reader.line_num + 1
        for row in reader:
            if row and len(row) != len(header):
                return start, len(row), len(header)
            start = reader.line_num + 1
    return None


def row_line(found: CorpusFile, row: int) -> int | None:
    """The file line where data row `row` (1-based, as the readers count rows) starts: CSV and TSV as pandas
    reads them (the header first, blank lines skipped, a quoted text across lines), JSON Lines skipping blank
    lines. None for Parquet and a JSON array, which have no lines to count, or a row past the end."""
    if found.reader in ("csv", "tsv"):
        blank = " \t\r\n".replace(found.separator, "")  # as has_data_rows: what pandas skips as a blank line
        with open(found.path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            last = [""]  # the raw line csv read last: a quoted "" is a row, a line of spaces is not

            def remember(lines):
                for line in lines:
                    last[0] = line
                    yield line

            reader = csv.reader(remember(handle), delimiter=found.separator)
            if next(reader, None) is None:
                return None
            start, seen = reader.line_num + 1, 0
            for _ in reader:
                if reader.line_num > start or last[0].strip(blank):
                    seen += 1
                    if seen == row:
                        return start
                start = reader.line_num + 1
        return None
    if found.reader == "json" and first_byte(found.path) != b"[":
        with open(found.path, "rb") as handle:
            records = (number for number, raw in enumerate(handle, start=1) if raw.strip())
            return next((number for seen, number in enumerate(records, start=1) if seen == row), None)
    return None


def json_type_clash(path: Path) -> str | None:
    """The first JSON Lines record whose field holds another kind of value than an earlier record's (text
    in one, a number in another): Arrow gives one column one type, and its error names no line."""
    kinds: dict[str, tuple[str, int]] = {}
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                record = json.loads(raw) if raw.strip() else None
            except (json.JSONDecodeError, UnicodeDecodeError):
                return None
            for field, value in record.items() if isinstance(record, dict) else ():
                if value is None:
                    continue
                kind = (
                    "text"
                    if isinstance(value, str)
                    else "a number"
                    if isinstance(value, int | float)
                    else "a list or object"
                )
                first = kinds.setdefault(field, (kind, number))
                if first[0] != kind:
                    return (
                        f"{path}:{number}: field {field!r} holds {kind}, but {first[0]} on line {first[1]}; "
                        "give each field one kind of value (quote numbers meant as text)"
                    )
    return None


def first_non_utf8_line(path: Path) -> int | None:
    """The number of the first line that is not valid UTF-8, or None."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


def quiet_datasets():
    """`datasets`, without progress bars or its own logging of read failures (we report them as one line)."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    return datasets


def has_data_rows(path: Path, separator: str) -> bool:
    """True when a delimited file has a non-blank line after its header.

    Blank as pandas reads it: nothing but spaces, tabs and the line end. In a TSV a tab separates
    fields, so a line of tabs is a row of empty fields (and its empty label is then reported).
    """
    blank = b" \t\r\n".replace(separator.encode(), b"")
    with open(path, "rb") as handle:
        lines = (line for line in handle if line.strip(blank))
        return next(lines, None) is not None and next(lines, None) is not None


def refuse_not_text_file(path: Path) -> None:
    """A table in UTF-16 (Excel's 'Unicode text'), or compressed under a plain name, would read as garbled
    columns: name it, and the command that makes a UTF-8 file of it (lines.refuse_not_text)."""
    with open(path, "rb") as handle:
        refuse_not_text(handle.read(64), str(path), "> reviews.txt")


def first_byte(path: Path) -> bytes:
    """The first byte that is not a byte-order mark or whitespace."""
    with open(path, "rb") as handle:
        while block := handle.read(1 << 16):
            if rest := block.removeprefix(b"\xef\xbb\xbf").lstrip():
                return rest[:1]
    return b""


def _check_json_array(path: Path) -> None:
    """A .json file may hold one array of objects instead of JSON Lines: check it the same way."""
    try:
        records = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        where = f":{error.lineno}" if isinstance(error, json.JSONDecodeError) else ""
        raise ReviewRNNError(f"{path}{where}: not valid JSON ({error.__class__.__name__}); fix the file") from None
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise ReviewRNNError(f"{path}: record {number} is not a JSON object with text and label fields")
    if not records:
        raise ReviewRNNError(f"{path}: no JSON records; a corpus needs at least one review per class")


def _check_json_lines(path: Path) -> None:
    """Find a broken JSON Lines record ourselves, because `datasets` does not name the line."""
    records = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            records += 1
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise ReviewRNNError(
                    f"{path}:{number}: not valid JSON ({error.__class__.__name__}); fix or remove that line"
                ) from None
            if not isinstance(record, dict):
                raise ReviewRNNError(f"{path}:{number}: each line must be one JSON object (a record with named fields)")
    if not records:
        raise ReviewRNNError(f"{path}: no JSON records; a corpus needs at least one review per class")
