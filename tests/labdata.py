"""Corpora for the lab's tests: reviews made of sentences, so the filler probe finds neutral ones."""

from __future__ import annotations

import random

from conftest import NEGATIVE_WORDS, NEUTRAL_WORDS, POSITIVE_WORDS


def sentence_reviews(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Reviews of 2-4 neutral sentences with one sentence that gives the class away, at a random place."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        label = ("negative", "positive")[index % 2]
        words = POSITIVE_WORDS if label == "positive" else NEGATIVE_WORDS
        sentences = [" ".join(rng.choice(NEUTRAL_WORDS) for _ in range(rng.randint(4, 8))) for _ in range(2)]
        sentences.insert(rng.randrange(3), f"it was {rng.choice(words)} {rng.choice(NEUTRAL_WORDS)}")
        rows.append((" . ".join(sentences) + " .", label))
    return rows
