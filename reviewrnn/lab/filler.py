"""Neutral filler drawn from the corpus, appended after a review to push its evidence back in time.

The filler is real sentences from TRAIN reviews (never TEST, where the probe's reviews come from)
in which no token leans towards a class: for every token, the smoothed ratio between its frequency
in one class's reviews and in all reviews stays within NEUTRAL_RATIO. This rule looks only at the
corpus, not at any model, so every model in a comparison reads the same filler; how each model
itself reads the filler alone is measured beside the probe (probe.py) instead of assumed.
"""

from __future__ import annotations

import math
import re

import numpy as np
from tokenizers import Tokenizer

from reviewrnn.tokenizer import HTML_TAG, encode

NEUTRAL_RATIO = 1.25  # a token may be at most 25% more (or less) frequent in one class than overall
SMOOTHING = 1.0  # add-one: a token seen a few times, all in one class, is not taken for neutral
SENTENCE_WORDS = (4, 40)  # sentences shorter or longer than this are not used
MAX_SENTENCES = 200_000  # enough for any probe; bounds the tokenizing time on large corpora
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def token_leaning(ids: list[list[int]], labels: np.ndarray, vocab_size: int, classes: int) -> np.ndarray:
    """(V,) max over classes of |ln(P(token | class) / P(token))|, add-one smoothed; 0 = no lean at all."""
    counts = np.zeros((classes, vocab_size))
    for label in range(classes):
        rows = [row for row, y in zip(ids, labels) if y == label]
        if rows:
            counts[label] = np.bincount(np.concatenate(rows), minlength=vocab_size)[:vocab_size]
    in_class = (counts + SMOOTHING) / (counts.sum(1, keepdims=True) + SMOOTHING * vocab_size)  # (K, V)
    overall = (counts.sum(0) + SMOOTHING) / (counts.sum() + SMOOTHING * vocab_size)  # (V,)
    return np.abs(np.log(in_class / overall)).max(0)


def split_sentences(texts: list[str], limit: int = MAX_SENTENCES) -> list[str]:
    """Sentences of SENTENCE_WORDS words from the texts, HTML tags removed, in corpus order."""
    low, high = SENTENCE_WORDS
    found = []
    for text in texts:
        for sentence in SENTENCE_END.split(re.sub(HTML_TAG, " ", text)):
            if low <= len(sentence.split()) <= high:
                found.append(sentence.strip())
                if len(found) >= limit:
                    return found
    return found


def neutral_sentences(
    tokenizer: Tokenizer, texts: list[str], labels: list[int], classes: int, ratio: float = NEUTRAL_RATIO
) -> list[np.ndarray]:
    """Token ids of every sentence of `texts` whose tokens all lean less than `ratio` towards any class."""
    leaning = token_leaning(encode(tokenizer, texts), np.asarray(labels), tokenizer.get_vocab_size(), classes)
    limit = math.log(ratio)
    sentences = encode(tokenizer, split_sentences(texts))
    return [np.asarray(ids, dtype=np.int64) for ids in sentences if ids and leaning[ids].max() <= limit]


def filler_sequences(pool: list[np.ndarray], count: int, length: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`count` sequences of exactly `length` ids, each random pool sentences end to end (the last one cut)."""
    fillers = []
    for _ in range(count):
        parts, total = [], 0
        while total < length:
            part = pool[int(rng.integers(len(pool)))]
            parts.append(part)
            total += len(part)
        fillers.append(np.concatenate(parts)[:length] if parts else np.zeros(0, dtype=np.int64))
    return fillers
