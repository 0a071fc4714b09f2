"""Input lines for streaming prediction: what has arrived, split on b"\\n", long lines clipped at a character.

No Typer and no printing, so the lab and tests can read lines too: invalid UTF-8 is a flag on the line.
"""

from __future__ import annotations

import os
import select
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reviewrnn.errors import ReviewRNNError

READ_BYTES = 1 << 16  # one read of input
UTF8_BOM = b"\xef\xbb\xbf"
CHUNK_BYTES = 1 << 21  # input predicted and written together, at most (and Cut.lines lines)


# The first bytes of inputs that are not UTF-8 text: what each is, and a tool that makes text of it.
NOT_TEXT = (
    (b"\x1f\x8b", "gzip-compressed", "zcat FILE"),
    (b"\xfd7zXZ\x00", "xz-compressed", "xzcat FILE"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", "zstdcat FILE"),
    (b"BZh", "bzip2-compressed", "bzcat FILE"),
    (b"PK\x03\x04", "a zip archive", "unzip -p FILE"),
    (b"\xff\xfe", "UTF-16 text (Excel's 'Unicode text')", "iconv -f utf-16 -t utf-8 FILE"),
    (b"\xfe\xff", "UTF-16 text", "iconv -f utf-16 -t utf-8 FILE"),
)


SPREADSHEETS = (".xlsx", ".xls", ".xlsm", ".ods")
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")


def refuse_not_text(head: bytes, name: str, into: str) -> None:
    """A compressed file or UTF-16 text would come out as rows of garbage (one per newline byte): name it.
    `into` ends the advice for lines of text: where they should go, e.g. '| reviewrnn predict -'. A table
    inside (reviews.csv.gz) is made a file again instead, since a table is not read as lines."""
    matches = [
        (kind, tool)
        for magic, kind, tool in NOT_TEXT
        if head.startswith(magic) and (magic != b"BZh" or (head[3:4].isdigit() and head[4:10] == b"1AY&SY"))
    ]
    if not matches and (order := _utf16_without_mark(head)):
        matches = [("UTF-16 text (no byte-order mark)", f"iconv -f utf-16{order} -t utf-8 FILE")]
    for kind, tool in matches:
        path = Path(name)
        if path.suffix.lower() in SPREADSHEETS:
            raise ReviewRNNError(f"{name}: a spreadsheet, not text; save it as CSV UTF-8 (or .tsv) and give that")
        if name == "-":
            raise ReviewRNNError(f"-: {kind}, not UTF-8 text; make text of it first, e.g. {tool} {into}")
        from reviewrnn.corpusfile import READERS  # here: only a refusal needs it

        tool = tool.replace("FILE", shlex.quote(name))
        inner = Path(path.stem) if path.suffix.lower() in COMPRESSED else path
        if inner.suffix.lower() in READERS:
            text = _unused_name(path.with_name(inner.name if inner is not path else f"utf8-{path.name}"))
            raise ReviewRNNError(
                f"{name}: {kind}, not UTF-8 text; make a file of it, e.g. {tool} > {shlex.quote(str(text))}"
            )
        raise ReviewRNNError(f"{name}: {kind}, not UTF-8 text; make text of it first, e.g. {tool} {into}")


def _unused_name(path: Path) -> Path:
    """`path`, or path-2, path-3... beside it: advice to write a file must not overwrite one (shop.csv beside
    shop.csv.gz)."""
    candidate, number = path, 2
    while candidate.exists():
        candidate, number = path.with_name(f"{path.stem}-{number}{path.suffix}"), number + 1
    return candidate


def _utf16_without_mark(head: bytes) -> str | None:
    """'le' or 'be' for text in UTF-16 without a byte-order mark: ASCII there puts a NUL beside every
    character (after it in little-endian, before it in big-endian); UTF-8 reviews hold almost none."""
    sample = head[:64]
    if len(sample) < 8:
        return None
    odd, even = sample[1::2], sample[0::2]
    for order, nuls, chars in (("le", odd, even), ("be", even, odd)):
        if nuls.count(0) >= 0.75 * len(nuls) and chars.count(0) <= 0.25 * len(chars):
            return order
    return None


@dataclass
class Cut:
    """How input lines are gathered: `cap` bytes kept of a long line, from its head or tail; `lines` per chunk."""

    cap: int | None
    keep: str
    lines: int


class Line(str):
    """A line of input that remembers where it came from, and whether it held invalid UTF-8 (now U+FFFD)."""

    source: str
    number: int
    invalid: bool

    def __new__(cls, source: str, number: int, text: str, invalid: bool = False):
        value = super().__new__(cls, text)
        value.source, value.number, value.invalid = source, number, invalid
        return value


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be read, or None; a FIFO or /dev/fd/N (`--file <(zcat reviews.gz)`) is fine."""
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "is a directory"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return None


def read_chunks(texts: list[str], files: list[Path], stdin, cut: Cut) -> Iterator[list[Line]]:
    """Input lines in order, in chunks: one per TEXT argument ('-' is stdin), then what each read of a file
    or stdin gives. Without texts or files, stdin. `stdin` is a binary stream."""
    sources: list[tuple[str, object]] = [("-", stdin) if text == "-" else ("arg", text) for text in texts]
    sources += [(str(path), path) for path in files]
    for name, source in sources or [("-", stdin)]:
        if name == "arg":
            # argv arrives with undecodable bytes as surrogates: give them back as bytes to decode like stdin.
            yield [Line(name, 1, *decode(argument_bytes(source)))]
            continue
        handle = _open(source) if isinstance(source, Path) else source
        try:
            number = 0
            for raw_lines in line_chunks(Reader(handle, name), cut):
                yield [Line(name, number + index, *decode(raw)) for index, raw in enumerate(raw_lines, 1)]
                number += len(raw_lines)
        finally:
            if isinstance(source, Path):
                handle.close()


def _open(path: Path):
    try:
        return open(path, "rb", buffering=0)
    except OSError as error:  # it changed since the check at the start
        raise ReviewRNNError(f"{path}: cannot read ({error.strerror})") from None


def argument_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no byte could have made (in-process callers)
        return text.encode("utf-8", "surrogatepass")


def decode(raw: bytes) -> tuple[str, bool]:
    """The text of a line without its CR (CRLF line ends), and whether invalid UTF-8 became U+FFFD."""
    raw = raw.rstrip(b"\r")
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


class Reader:
    """Reads whatever input is there now (up to READ_BYTES), and says whether more is waiting."""

    def __init__(self, handle, name: str | None = None):
        self.checked = name is None  # with a name, the first bytes are checked to be text (refuse_not_text)
        self.name = name
        try:
            self.descriptor = handle.fileno()
        except (AttributeError, OSError, ValueError):  # an in-memory stream (CliRunner)
            self.descriptor = None
        self.handle = handle

    def read(self) -> bytes:
        if self.descriptor is None:
            block = getattr(self.handle, "read1", self.handle.read)(READ_BYTES)
        else:
            block = os.read(self.descriptor, READ_BYTES)
        if not self.checked and block:
            self.checked = True
            refuse_not_text(block, self.name, "| reviewrnn predict [options] -")
        return block

    def ready(self) -> bool:
        if self.descriptor is None:
            return True
        return bool(select.select([self.descriptor], [], [], 0)[0])


def line_chunks(reader: Reader, cut: Cut) -> Iterator[list[bytes]]:
    """Lines split on b"\\n" only, in chunks of what has arrived: up to `cut.lines` lines or CHUNK_BYTES,
    or fewer when no more input is waiting, so rows go out while a slow producer is still writing.

    With `cut.cap`, a line over `cap` bytes keeps only its first (keep="head") or last ("tail") `cap` bytes
    after the whitespace at its ends, cut at a character: a review padded with whitespace keeps its words.
    A line comes out the same however its bytes were split into reads (the same bytes from a file or a pipe).
    """
    lines: list[bytes] = []
    size, line = 0, _LineSoFar(cut.cap, cut.keep)
    for block in _without_mark(reader):
        *complete, rest = block.split(b"\n")
        for piece in complete:
            line.add(piece)
            lines.append(line.finished())
            size += len(lines[-1])
            line = _LineSoFar(cut.cap, cut.keep)
            if len(lines) >= cut.lines or size >= CHUNK_BYTES:
                yield lines
                lines, size = [], 0
        line.add(rest)
        if lines and not reader.ready():
            yield lines
            lines, size = [], 0
    if line.length:  # a last line without its newline
        lines.append(line.finished())
    if lines:
        yield lines


def _without_mark(reader: Reader) -> Iterator[bytes]:
    """The reader's blocks, without a UTF-8 byte-order mark at the start (Windows editors write one; it is
    not part of the first review), even when the mark arrives split over reads."""
    block = reader.read()
    while block and len(block) < len(UTF8_BOM) and UTF8_BOM.startswith(block) and (more := reader.read()):
        block += more
    if block := block.removeprefix(UTF8_BOM):
        yield block
    while block := reader.read():
        yield block


class _LineSoFar:
    """The bytes kept of the line being read, in memory bounded by the cap however long the line is.

    For "tail", `kept` ends at the last byte that is not whitespace and `spaces` holds the whitespace after
    it (at most `cap` bytes of either), so a read that ends inside a run of whitespace changes nothing."""

    def __init__(self, cap: int | None, keep: str) -> None:
        self.cap, self.keep = cap, keep
        self.kept, self.spaces, self.length = bytearray(), b"", 0
        self.full = False  # "head": the kept head is complete; the rest of the line is only counted

    def add(self, data: bytes) -> None:
        self.length += len(data)
        if self.full:
            return
        if self.keep == "head":
            self.kept += data  # a bytearray grows in place: a long line costs linear time
            if self.cap is not None and self.length > self.cap:
                self.kept = bytearray(self.kept.lstrip())
                if len(self.kept) > self.cap:
                    self.kept, self.full = bytearray(clip(self.kept, self.cap, "head")), True
            return
        content = data.rstrip()
        if content:
            self.kept += self.spaces + content
            self.spaces = data[len(content) :]
        else:
            self.spaces += data
        if self.cap is not None:
            self.spaces = self.spaces[-self.cap :]
            if len(self.kept) > self.cap:
                self.kept = bytearray(clip(self.kept, self.cap, "tail"))

    def finished(self) -> bytes:
        """The line as it is kept: whole up to the cap; over it, its head or tail without whitespace at its ends."""
        raw = bytes(self.kept) + self.spaces
        if self.cap is None or self.length <= self.cap:
            return raw
        return clip(raw.strip(), self.cap, self.keep).strip()


def clip(raw: bytes, cap: int | None, keep: str) -> bytes:
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
