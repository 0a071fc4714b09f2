"""Fingerprints of the reviews a model trained on (seen.py)."""

from __future__ import annotations

import numpy as np

from reviewrnn.data import EncodedSet, RaggedIds
from reviewrnn.seen import count_seen, fingerprints, save_seen


def encoded(rows: list[list[int]], full: list[int] | None = None) -> EncodedSet:
    ids = [np.asarray(row or [0], dtype=np.int64) for row in rows]  # an empty review is one [PAD]
    lengths = np.asarray(full if full is not None else [len(row) for row in rows], dtype=np.int64)
    return EncodedSet(ids, lengths, np.zeros(len(rows), dtype=np.int64))


def test_the_same_tokens_and_length_give_the_same_fingerprint_in_any_container():
    plain = encoded([[5, 6, 7], [7, 6, 5], [5, 6, 7], [5, 6, 7]], full=[3, 3, 3, 9])
    values = np.asarray([5, 6, 7, 7, 6, 5, 5, 6, 7, 5, 6, 7], dtype=np.int32)
    ragged = EncodedSet(RaggedIds([(values, np.asarray([0, 3, 6, 9, 12]))]), plain.full_lengths, plain.labels)
    first = fingerprints(plain)
    assert np.array_equal(first, fingerprints(ragged))  # --on-disk reads the same fingerprints
    assert first[0] == first[2] and len({first[0], first[1], first[3]}) == 3  # order and full length count


def test_seen_reviews_are_counted_and_empty_ones_never(tmp_path):
    save_seen(tmp_path, encoded([[1, 2], []]), encoded([[3, 4, 5]]))
    assert count_seen(tmp_path, encoded([[3, 4, 5], [1, 2], [], [9]])) == (2, None)
    assert count_seen(tmp_path / "elsewhere", encoded([[1, 2]]))[0] is None
