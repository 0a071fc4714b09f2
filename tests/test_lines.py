"""The line reader: lines split across reads, CRLF, invalid UTF-8 as a flag, clipping at a character."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reviewrnn.errors import ReviewRNNError
from reviewrnn.lines import Cut, Line, clip, decode, file_problem, line_chunks, read_chunks

WHOLE = Cut(cap=None, keep="head", lines=100)


class Pieces:
    """A reader that hands out the given byte pieces, then b""; `waiting[i]`: is more input there after piece i."""

    def __init__(self, pieces: list[bytes], waiting: list[bool] | None = None):
        self.pieces, self.waiting, self.given = list(pieces), waiting or [True] * len(pieces), 0

    def read(self) -> bytes:
        if not self.pieces:
            return b""
        self.given += 1
        return self.pieces.pop(0)

    def ready(self) -> bool:
        return self.waiting[self.given - 1]


def test_a_line_split_across_reads_comes_out_whole():
    chunks = list(line_chunks(Pieces([b"gre", b"at film\nbor", b"ing\n", b"last, no newline"]), WHOLE))
    assert [line for chunk in chunks for line in chunk] == [b"great film", b"boring", b"last, no newline"]


def test_a_chunk_goes_out_when_no_more_input_is_waiting():
    reader = Pieces([b"one\ntwo\n", b"three\n"], waiting=[False, False])
    assert list(line_chunks(reader, WHOLE)) == [[b"one", b"two"], [b"three"]]


def test_a_chunk_holds_at_most_cut_lines():
    chunks = list(line_chunks(Pieces([b"a\nb\nc\nd\ne\n"]), Cut(None, "head", lines=2)))
    assert chunks == [[b"a", b"b"], [b"c", b"d"], [b"e"]]


def test_empty_lines_count_and_a_final_newline_ends_the_last_line():
    assert list(line_chunks(Pieces([b"\n\nx\n"]), WHOLE)) == [[b"", b"", b"x"]]
    assert list(line_chunks(Pieces([]), WHOLE)) == []


def test_crlf_ends_lose_their_cr_but_a_cr_inside_a_line_stays():
    lines = [line for chunk in read_chunks([], [], io.BytesIO(b"one\r\ntwo\rthree\r\n"), WHOLE) for line in chunk]
    assert lines == ["one", "two\rthree"]


def test_invalid_utf8_is_replaced_and_flagged_on_its_line_only():
    chunks = list(read_chunks([], [], io.BytesIO(b"fine\nbad \xff byte\n\xc3\xa9t\xc3\xa9\n"), WHOLE))
    lines = [line for chunk in chunks for line in chunk]
    assert lines == ["fine", "bad \ufffd byte", "été"]
    assert [line.invalid for line in lines] == [False, True, False]
    assert [(line.source, line.number) for line in lines] == [("-", 1), ("-", 2), ("-", 3)]


def test_decode():
    assert decode(b"caf\xc3\xa9\r") == ("café", False)
    assert decode(b"caf\xe9") == ("caf\ufffd", True)


def test_arguments_then_files_in_order_with_sources_and_numbers(tmp_path):
    path = tmp_path / "reviews.txt"
    path.write_bytes(b"first\nsecond\n")
    stdin = io.BytesIO(b"from stdin\n")
    # argv holds undecodable bytes as surrogates (b"\xe9" -> "\udce9"): invalid; valid UTF-8 bytes decode.
    texts = ["plain", "caf\udce9", "\udcc3\udca9t\udcc3\udca9", "-"]
    lines = [line for chunk in read_chunks(texts, [path], stdin, WHOLE) for line in chunk]
    assert lines == ["plain", "caf\ufffd", "été", "from stdin", "first", "second"]
    assert [line.invalid for line in lines] == [False, True, False, False, False, False]
    where = [(line.source, line.number) for line in lines]
    assert where == [("arg", 1), ("arg", 1), ("arg", 1), ("-", 1), (str(path), 1), (str(path), 2)]


def test_line_numbers_continue_across_chunks(tmp_path):
    path = tmp_path / "many.txt"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(7)))
    chunks = list(read_chunks([], [path], None, Cut(None, "head", lines=3)))
    assert [len(chunk) for chunk in chunks] == [3, 3, 1]
    assert [line.number for chunk in chunks for line in chunk] == list(range(1, 8))
    assert all(isinstance(line, Line) for chunk in chunks for line in chunk)


def test_a_file_gone_since_the_check_is_one_error(tmp_path):
    with pytest.raises(ReviewRNNError, match="cannot read"):
        list(read_chunks([], [tmp_path / "gone.txt"], None, WHOLE))


def test_file_problem(tmp_path):
    present = tmp_path / "present.txt"
    present.write_text("x\n")
    assert file_problem(present) is None
    assert file_problem(tmp_path / "absent.txt") == "no such file"
    assert file_problem(tmp_path) == "is a directory"


def test_a_long_line_keeps_its_head_or_tail_across_reads():
    line = "é" * 50  # 100 bytes, two to a character
    pieces = [line.encode()[i : i + 7] for i in range(0, 100, 7)] + [b"\nshort\n"]
    head = list(line_chunks(Pieces(pieces), Cut(cap=11, keep="head", lines=10)))
    tail = list(line_chunks(Pieces(pieces), Cut(cap=11, keep="tail", lines=10)))
    assert head == [[("é" * 5).encode(), b"short"]]
    assert tail == [[("é" * 5).encode(), b"short"]]


def test_a_long_line_padded_with_whitespace_keeps_its_words():
    """Its kept head or tail had been all whitespace, so the review read as blank."""
    blanks = [b" \t" * 20] * 4  # 160 bytes in reads of 40, over the cap of 11
    tail = list(line_chunks(Pieces([b"good film", *blanks, b"\nshort\n"]), Cut(cap=11, keep="tail", lines=10)))
    head = list(line_chunks(Pieces([*blanks, b"good film", *blanks, b"\n"]), Cut(cap=11, keep="head", lines=10)))
    assert tail == [[b"good film", b"short"]] and head == [[b"good film"]]
    for pieces in ([b"x" * 9 + b" " * 40, b"yes\n"], [b"x" * 9 + b" " * 40 + b"yes\n"]):
        assert list(line_chunks(Pieces(pieces), Cut(cap=11, keep="tail", lines=10))) == [[b"yes"]]
    last = list(line_chunks(Pieces([b"good film\n", b" " * 40]), Cut(cap=11, keep="tail", lines=10)))
    assert last == [[b"good film", b""]]  # a last line of whitespace alone is still a row


def whole_line_reference(data: bytes, cap: int, keep: str) -> list[bytes]:
    """What line_chunks must give, from the whole input at once: each line whole up to the cap; over it, the
    head or tail of the line without whitespace at its ends, itself without whitespace at its ends."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return [line if len(line) <= cap else clip(line.strip(), cap, keep).strip() for line in lines]


@given(
    parts=st.lists(
        st.sampled_from([b"a", b"word", " é ".encode(), "☃".encode(), b" ", b" " * 30, b"\t", b"\r", b"\n", b"x" * 25]),
        max_size=40,
    ),
    mark=st.booleans(),
    cap=st.integers(4, 40),
    keep=st.sampled_from(["head", "tail"]),
    cuts=st.lists(st.integers(1, 50), min_size=1, max_size=8),
)
def test_lines_are_the_same_however_the_reads_split_them(parts, mark, cap, keep, cuts):
    """A file read in 64 KB blocks and a pipe fed a few bytes at a time must give the same rows (predict's
    --file F, - < F and cat F | give the same bytes): checked against the whole input read at once."""
    data = (b"\xef\xbb\xbf" if mark else b"") + b"".join(parts)
    pieces, at, turn = [], 0, 0
    while at < len(data):  # reads of the drawn sizes, in turn
        pieces.append(data[at : at + cuts[turn % len(cuts)]])
        at, turn = at + len(pieces[-1]), turn + 1
    rows = [line for chunk in line_chunks(Pieces(pieces), Cut(cap=cap, keep=keep, lines=7)) for line in chunk]
    assert rows == whole_line_reference(data, cap, keep)


@given(
    text=st.text(alphabet=st.sampled_from(["a", "é", "☃", "\U0001f600", " "]), max_size=40),
    cap=st.integers(4, 64),
    keep=st.sampled_from(["head", "tail"]),
)
def test_clip_never_splits_a_character(text, cap, keep):
    raw = text.encode()
    kept = clip(raw, cap, keep)
    kept.decode("utf-8")  # raises on a split character
    if len(raw) <= cap:
        assert kept == raw
    else:
        assert cap - 4 < len(kept) <= cap
        assert raw.startswith(kept) if keep == "head" else raw.endswith(kept)
