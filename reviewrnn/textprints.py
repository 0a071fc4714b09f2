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

from reviewrnn.nearcopy import copy_key

PRINTS_FILE = "lm_texts.npy"
SLICE = 8192  # texts keyed at a time: an --on-disk part is read a slice at a time, never whole


def text_prints(texts: Sequence[str]) -> np.ndarray:
    """One 64-bit hash per text of its near-copy key, (N,) uint64; a text with no word gets none."""
    prints = []
    for start in range(0, len(texts), SLICE):
        for text in texts[start : start + SLICE]:
            key = copy_key(text)
            if key:
                prints.append(int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little"))
    return np.array(prints, dtype=np.uint64)


def prints_file(texts: Sequence[str]) -> bytes:
    """PRINTS_FILE's bytes: the texts' prints, once each, sorted."""
    buffer = io.BytesIO()
    np.save(buffer, np.unique(text_prints(texts)))
    return buffer.getvalue()


def count_read(directory: Path, texts: Sequence[str]) -> tuple[int | None, str | None]:
    """(how many of `texts` the language model in `directory` learned from, None), or (None, why) where it
    keeps no readable prints (an LM saved before it kept them, or its directory moved)."""
    path = Path(directory) / PRINTS_FILE
    try:
        known = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None, f"no {PRINTS_FILE} in {directory}"
    except (OSError, ValueError, EOFError) as error:
        return None, f"{path} unreadable ({error.__class__.__name__})"
    return int(np.isin(text_prints(texts), known).sum()), None
