"""data.py: truncation, encoding, length-grouped batches and padding."""

from __future__ import annotations

import numpy as np
import pytest

from reviewrnn.config import PAD_ID, TokenizerConfig
from reviewrnn.data import (
    POOL_BATCHES,
    encode_set,
    iterate_batches,
    length_grouped_batches,
    pad_batch,
    truncate,
)
from reviewrnn.tokenizer import train_tokenizer


def test_truncate_head_keeps_the_first_tokens():
    assert truncate(list(range(1, 11)), 3, "head").tolist() == [1, 2, 3]


def test_truncate_tail_keeps_the_last_tokens():
    assert truncate(list(range(1, 11)), 3, "tail").tolist() == [8, 9, 10]


@pytest.mark.parametrize("keep", ["head", "tail"])
def test_short_reviews_are_kept_whole(keep):
    kept = truncate([5, 6, 7], 10, keep)
    assert kept.tolist() == [5, 6, 7] and kept.dtype == np.int64


@pytest.mark.parametrize("keep", ["head", "tail"])
def test_empty_review_becomes_one_pad(keep):
    kept = truncate([], 5, keep)
    assert kept.tolist() == [PAD_ID] and kept.dtype == np.int64


def test_encode_set_records_full_lengths_before_truncation():
    texts = ["good film " * 10, "bad", ""]
    tokenizer = train_tokenizer(texts + ["good bad film"] * 3, TokenizerConfig(vocab_size=100, min_frequency=1))
    encoded = encode_set(tokenizer, texts, [1, 0, 1], max_tokens=4, keep="head")
    assert len(encoded) == 3
    assert encoded.full_lengths.tolist() == [20, 1, 0]
    assert encoded.lengths.tolist() == [4, 1, 1]
    assert encoded.ids[2].tolist() == [PAD_ID]
    assert encoded.labels.tolist() == [1, 0, 1]
    head = encode_set(tokenizer, ["good film bad"], [1], 2, "head").ids[0]
    tail = encode_set(tokenizer, ["good film bad"], [1], 2, "tail").ids[0]
    good, film, bad = (tokenizer.token_to_id(w) for w in ("good", "film", "bad"))
    assert head.tolist() == [good, film] and tail.tolist() == [film, bad]
    sub = encoded.subset(2)
    assert len(sub) == 2 and sub.labels.tolist() == [1, 0] and sub.full_lengths.tolist() == [20, 1]


def test_encode_set_across_chunks_keeps_every_review_in_order(monkeypatch):
    import reviewrnn.data

    monkeypatch.setattr(reviewrnn.data, "ENCODE_CHUNK", 3)
    texts = [("good " * i + "bad " * (7 - i)).strip() for i in range(8)]
    tokenizer = train_tokenizer(texts, TokenizerConfig(vocab_size=100, min_frequency=1))
    encoded = encode_set(tokenizer, texts, list(range(8)), max_tokens=5, keep="tail")
    one_by_one = [encode_set(tokenizer, [text], [0], 5, "tail") for text in texts]
    assert [row.tolist() for row in encoded.ids] == [single.ids[0].tolist() for single in one_by_one]
    assert encoded.full_lengths.tolist() == [7] * 8 and encoded.labels.tolist() == list(range(8))


def covers_each_once(batches, count):
    joined = np.concatenate(batches) if batches else np.array([], dtype=np.int64)
    return sorted(joined.tolist()) == list(range(count))


def test_sorted_batches_without_rng():
    lengths = np.array([5, 1, 9, 3, 3, 7, 2])
    batches = length_grouped_batches(lengths, 3)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert covers_each_once(batches, len(lengths))
    assert lengths[np.concatenate(batches)].tolist() == sorted(lengths.tolist())


@pytest.mark.parametrize("count,batch_size", [(1, 4), (37, 4), (1000, 7), (700, 1)])
def test_shuffled_batches_cover_every_index_once_and_are_sorted_within(count, batch_size):
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 300, size=count)
    batches = length_grouped_batches(lengths, batch_size, np.random.default_rng(1))
    assert covers_each_once(batches, count)
    assert all(len(b) <= batch_size for b in batches)
    for batch in batches:
        assert np.all(np.diff(lengths[batch]) >= 0)


def test_batches_of_one_pool_partition_the_sorted_order():
    lengths = np.random.default_rng(2).integers(1, 500, size=40 * POOL_BATCHES // 10)
    batches = length_grouped_batches(lengths, 10, np.random.default_rng(3))  # all in one pool
    spans = sorted((lengths[b].min(), lengths[b].max()) for b in batches)
    for (_, high), (low, _) in zip(spans, spans[1:]):
        assert high <= low  # pools are sorted, so batches hold disjoint length ranges


def test_shuffling_depends_on_the_seed_only():
    lengths = np.random.default_rng(4).integers(1, 100, size=500)

    def order(seed):
        return np.concatenate(length_grouped_batches(lengths, 8, np.random.default_rng(seed))).tolist()

    assert order(5) == order(5)
    assert order(5) != order(6)
    generator = np.random.default_rng(7)
    first = np.concatenate(length_grouped_batches(lengths, 8, generator)).tolist()
    second = np.concatenate(length_grouped_batches(lengths, 8, generator)).tolist()
    assert first != second  # each epoch draws a new order from the same generator


def test_pad_batch_shapes_and_values():
    ids, lengths = pad_batch([np.array([4, 5, 6]), np.array([7]), np.array([8, 9])])
    assert ids.shape == (3, 3) and ids.dtype == np.int64
    assert lengths.tolist() == [3, 1, 2] and lengths.dtype == np.int64
    assert ids.tolist() == [[4, 5, 6], [7, PAD_ID, PAD_ID], [8, 9, PAD_ID]]


def test_iterate_batches_keeps_labels_with_their_reviews():
    texts = [" ".join(["w"] * n) for n in range(1, 30)]
    tokenizer = train_tokenizer(texts, TokenizerConfig(vocab_size=100, min_frequency=1))
    labels = [n % 3 for n in range(1, 30)]
    encoded = encode_set(tokenizer, texts, labels, max_tokens=100, keep="head")
    seen = []
    for indices, ids, lengths, batch_labels in iterate_batches(encoded, 4, np.random.default_rng(0)):
        assert ids.shape == (len(indices), lengths.max())
        assert lengths.tolist() == [len(texts[i].split()) for i in indices]
        assert batch_labels.tolist() == [labels[i] for i in indices]
        seen.extend(indices.tolist())
    assert sorted(seen) == list(range(len(texts)))
