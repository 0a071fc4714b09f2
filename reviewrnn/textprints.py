"""Fingerprints of the texts a language model learned from, kept in its directory as PRINTS_FILE.

A classifier started from that LM (train --init) must be scored on reviews the LM never read: its TEST
split, or a labelled sample of your own. `train --init` and `evaluate` count the scored reviews among
them, near copies included (nearcopy.py), whatever file or --corpus the LM read them from: a sha256 of
the file would miss an export of the same reviews.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reviewrnn.nearcopy import copy_keys
from reviewrnn.seen import load_print_file

PRINTS_FILE = "lm_texts.npy"
SLICE = 8192  # texts keyed at a time: an --on-disk part is read a slice at a time, never whole


def _print(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


def text_prints(texts: Sequence[str]) -> list[list[int]]:
    """Each text's prints: a 64-bit hash of each of its near-copy keys (none for a text with no word)."""
    prints = []
    for start in range(0, len(texts), SLICE):
        prints.extend([_print(key) for key in copy_keys(text)] for text in texts[start : start + SLICE])
    return prints


def prints_file(texts: Sequence[str], inherited: np.ndarray | None = None) -> bytes:
    """PRINTS_FILE's bytes: the prints of every text, and `inherited` ones (the LM this one continues), once
    each, sorted."""
    own = np.fromiter((value for values in text_prints(texts) for value in values), dtype=np.uint64)
    buffer = io.BytesIO()
    np.save(buffer, np.unique(own if inherited is None else np.concatenate([own, inherited])))
    return buffer.getvalue()


def load_prints(directory: Path) -> tuple[np.ndarray | None, str | None]:
    """(the prints a language model keeps, None), or (None, why) where it keeps no readable ones (an LM saved
    before it kept them, one moved away, a damaged file)."""
    path = Path(directory) / PRINTS_FILE
    known, why = load_print_file(path, str(path), f"no {PRINTS_FILE} in {directory}")
    if known is None:
        return None, why
    if known.ndim != 1 or known.dtype != np.uint64:
        return None, f"{path} unreadable (not a list of 64-bit prints)"
    return known, None


def count_read(directory: Path, texts: Sequence[str]) -> tuple[int | None, str | None]:
    """(how many of `texts` the language model in `directory` learned from, a near copy counting, None), or
    (None, why) where it keeps no readable prints. Counted a slice at a time: memory stays flat."""
    known, why = load_prints(directory)
    if known is None:
        return None, why
    count = 0
    for start in range(0, len(texts), SLICE):
        prints = text_prints(texts[start : start + SLICE])
        flat = np.fromiter((value for values in prints for value in values), dtype=np.uint64)
        found = iter(np.isin(flat, known).tolist())
        count += sum(any([next(found) for _ in values]) for values in prints)  # a list: every key consumed
    return count, None
