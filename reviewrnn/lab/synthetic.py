"""The synthetic memory task: random neutral tokens with one polarity token d steps before the end.

The label is the polarity token's class, and nothing else in the sequence carries information, so
a network classifies correctly only if it kept that one token in its state for d steps. A random
neutral prefix moves the polarity token's position from the start, so only the distance to the end
is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reviewrnn.data import EncodedSet

POLARITY = (1, 2)  # token ids whose class is their label: 1 -> class 0, 2 -> class 1 (0 is [PAD])
FIRST_NEUTRAL = 3


@dataclass
class SyntheticTask:
    neutral_tokens: int = 20
    max_prefix: int = 8  # neutral tokens before the polarity token: 0..max_prefix, uniformly

    @property
    def vocab_size(self) -> int:
        return FIRST_NEUTRAL + self.neutral_tokens


def make_set(task: SyntheticTask, distances: np.ndarray, rng: np.random.Generator) -> EncodedSet:
    """One sequence per entry of `distances` (the polarity token's distance from the last token; 0 = last)."""
    labels = rng.integers(0, 2, size=len(distances))
    ids = []
    for distance, label in zip(distances, labels):
        prefix = int(rng.integers(0, task.max_prefix + 1))
        neutral = rng.integers(FIRST_NEUTRAL, task.vocab_size, size=prefix + int(distance))
        ids.append(np.concatenate([neutral[:prefix], [POLARITY[label]], neutral[prefix:]]).astype(np.int64))
    lengths = np.fromiter((len(row) for row in ids), dtype=np.int64, count=len(ids))
    return EncodedSet(ids, lengths, labels.astype(np.int64))
