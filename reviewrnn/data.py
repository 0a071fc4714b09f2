"""Texts -> token ids -> length-grouped, right-padded batches (numpy only, so predict needs no torch).

Grouping reviews of similar length wastes little padding; shuffling happens within large pools and
then over batch order, so every epoch still sees a different order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer

from reviewrnn.config import PAD_ID
from reviewrnn.tokenizer import encode

ENCODE_CHUNK = 2000  # reviews tokenized at once: enough for the Rust tokenizer's threads
POOL_BATCHES = 50  # batches per shuffling pool: larger pools pad less, smaller ones mix more


class RaggedIds:
    """Rows of token ids stored flat with offsets, such as Arrow list chunks of a memory-mapped file.

    Behaves like the list of arrays the in-memory path uses: `ids[i]` is one review's ids (a view,
    so reading a batch touches only that batch's pages).
    """

    def __init__(self, chunks: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.chunks = chunks  # (values, offsets) pairs; row r of a chunk is values[offsets[r]:offsets[r + 1]]
        counts = [len(offsets) - 1 for _, offsets in chunks]
        self.starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])

    @classmethod
    def from_arrow(cls, chunks) -> RaggedIds:
        """Zero-copy views of pyarrow ListArray chunks (offsets index into the unsliced values)."""
        return cls([(chunk.values.to_numpy(zero_copy_only=True), chunk.offsets.to_numpy()) for chunk in chunks])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        if not -len(self) <= row < len(self):
            raise IndexError(f"row {row} out of range for {len(self)} rows")
        row = int(row) % len(self)
        chunk = int(np.searchsorted(self.starts, row, side="right")) - 1
        values, offsets = self.chunks[chunk]
        local = row - int(self.starts[chunk])
        return values[offsets[local] : offsets[local + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))

    @property
    def lengths(self) -> np.ndarray:
        if not self.chunks:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([np.diff(offsets).astype(np.int64) for _, offsets in self.chunks])


@dataclass
class EncodedSet:
    """Token ids (truncated), each review's full token count, and labels."""

    ids: list[np.ndarray] | RaggedIds
    full_lengths: np.ndarray  # before truncation: used for accuracy by length
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        if isinstance(self.ids, RaggedIds):
            return self.ids.lengths
        return np.fromiter((len(row) for row in self.ids), dtype=np.int64, count=len(self.ids))

    def subset(self, count: int) -> EncodedSet:
        return EncodedSet(self.ids[:count], self.full_lengths[:count], self.labels[:count])


def truncate(ids: list[int], max_tokens: int, keep: str) -> np.ndarray:
    """Keep the first (head) or last (tail) `max_tokens` ids; an empty review becomes one [PAD]."""
    kept = ids[:max_tokens] if keep == "head" else ids[-max_tokens:]
    return np.asarray(kept or [PAD_ID], dtype=np.int64)


def encode_set(tokenizer: Tokenizer, texts: list[str], labels: list[int], max_tokens: int, keep: str) -> EncodedSet:
    """Encode a chunk at a time: tokenizers' Encoding objects and whole-review id lists are large,
    so only ENCODE_CHUNK of them exist at once; what is kept is each review's truncated id array."""
    ids, full = [], np.zeros(len(texts), dtype=np.int64)
    for start in range(0, len(texts), ENCODE_CHUNK):
        rows = encode(tokenizer, texts[start : start + ENCODE_CHUNK])
        full[start : start + len(rows)] = [len(row) for row in rows]
        ids.extend(truncate(row, max_tokens, keep) for row in rows)
    return EncodedSet(ids, full, np.asarray(labels, dtype=np.int64))


def length_grouped_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None = None
) -> list[np.ndarray]:
    """Index batches of similar length. With `rng`: shuffled pools and batch order; without: sorted."""
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    order = rng.permutation(len(lengths))
    pool_size = batch_size * POOL_BATCHES
    batches = []
    for start in range(0, len(order), pool_size):
        pool = order[start : start + pool_size]
        pool = pool[np.argsort(lengths[pool], kind="stable")]
        batches.extend(pool[i : i + batch_size] for i in range(0, len(pool), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def pad_batch(sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad with [PAD]: ids (B, T) int64 and lengths (B,) int64."""
    lengths = np.fromiter((len(row) for row in sequences), dtype=np.int64, count=len(sequences))
    ids = np.full((len(sequences), int(lengths.max())), PAD_ID, dtype=np.int64)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = sequence
    return ids, lengths


def iterate_batches(
    encoded: EncodedSet, batch_size: int, rng: np.random.Generator | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (indices, ids (B, T), lengths (B,), labels (B,)) over the whole set."""
    for indices in length_grouped_batches(encoded.lengths, batch_size, rng):
        ids, lengths = pad_batch([encoded.ids[i] for i in indices])
        yield indices, ids, lengths, encoded.labels[indices]
