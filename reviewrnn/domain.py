"""Know when to doubt: how unlike the training corpus a review reads, and when to warn about a whole input.

The signal, chosen by measurement (README, "Know when to doubt"): the share of a review's tokens seen
fewer than RARE_BELOW times in TRAIN. The model's own confidence hardly moves on unrelated text, and
the unknown-token rate is ~0 on any English. TRAIN's token counts and VALID's score statistics are
saved in MODEL/domain.json, so predict needs nothing else. numpy only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reviewrnn.errors import ReviewRNNError

DOMAIN_FILE = "domain.json"
RARE_BELOW = 20  # a token seen fewer times than this in TRAIN counts as rare
Z = 4.0  # standard errors above VALID's mean before an input's mean counts as unlike TRAIN
MIN_SHIFT = 1.0  # ... and at least this many VALID standard deviations, however long the input
MIN_REVIEWS = 10  # no warning on less evidence: one review's score is noisy (README, "Know when to doubt")
MIN_SPREAD = 0.02  # the least standard deviation assumed: a VALID with no rare token must not make a hair trigger


@dataclass
class DomainProfile:
    """TRAIN's token counts and the per-review scores' mean and spread on VALID."""

    token_counts: np.ndarray  # (V,) int64: how often each token id occurs in TRAIN, as the model read it
    valid_mean: float
    valid_std: float
    valid_count: int
    rare_below: int = RARE_BELOW

    def scores(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        """(N,) share of each review's tokens that are rare in TRAIN; an empty review scores 0."""
        rare = self.token_counts < self.rare_below  # (V,)
        return np.array([float(rare[ids].mean()) if len(ids) else 0.0 for ids in sequences])

    def limit(self, count: int) -> float:
        """The mean score above which `count` reviews read unlike TRAIN.

        A z-test on the mean, counting VALID's own sampling error, with a floor of MIN_SHIFT
        standard deviations so that a long input must differ by a visible amount, not a significant one.
        """
        spread = max(self.valid_std, MIN_SPREAD)
        error = spread * math.sqrt(1 / max(count, 1) + 1 / max(self.valid_count, 1))
        return self.valid_mean + max(Z * error, MIN_SHIFT * spread)

    def to_dict(self) -> dict:
        return {
            "signal": f"share of tokens seen fewer than {self.rare_below} times in TRAIN",
            "rare_below": self.rare_below,
            "valid_mean": self.valid_mean,
            "valid_std": self.valid_std,
            "valid_count": self.valid_count,
            "token_counts": self.token_counts.tolist(),
        }


def build_profile(train_ids: Sequence[np.ndarray], valid_ids: Sequence[np.ndarray], vocab_size: int) -> DomainProfile:
    counts = np.zeros(vocab_size, dtype=np.int64)  # (V,)
    for ids in train_ids:
        np.add.at(counts, np.asarray(ids, dtype=np.int64), 1)
    profile = DomainProfile(counts, 0.0, 0.0, 0)
    valid = profile.scores(list(valid_ids))
    profile.valid_mean = float(valid.mean()) if len(valid) else 0.0
    profile.valid_std = float(valid.std()) if len(valid) else 0.0
    profile.valid_count = len(valid)
    return profile


def load_profile(directory: Path, vocab_size: int) -> DomainProfile | None:
    """MODEL/domain.json, or None for a model that has none (trained before it existed: no warning)."""
    path = Path(directory) / DOMAIN_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        counts = np.asarray(raw["token_counts"], dtype=np.int64)
        numbers = [float(raw[key]) for key in ("valid_mean", "valid_std")]
        valid_count, rare_below = int(raw["valid_count"]), int(raw["rare_below"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise ReviewRNNError(
            f"{path}: damaged; delete it (no out-of-domain warning) or rebuild it with `reviewrnn evaluate "
            f"{directory} --calibrate`"
        ) from None
    if counts.shape != (vocab_size,) or (counts < 0).any() or not all(map(math.isfinite, numbers)):
        raise ReviewRNNError(f"{path}: does not match the model ({vocab_size} tokens); rebuild it with --calibrate")
    return DomainProfile(counts, numbers[0], numbers[1], valid_count, rare_below)


class DomainWatch:
    """The running mean score of an input; says once, by returning a message, when it reads unlike TRAIN.

    It judges only after MIN_REVIEWS reviews: one review is too little evidence to warn on.
    """

    def __init__(self, profile: DomainProfile | None, corpus: str = "its training corpus", labelled: bool = False):
        self.profile, self.corpus = profile, corpus
        self.labelled = labelled  # evaluate's reviews carry labels: the scores it prints are the check
        self.total, self.count, self.warned = 0.0, 0, False

    def add(self, scores: Sequence[float | None]) -> str | None:
        known = [s for s in scores if s is not None]
        self.total, self.count = self.total + sum(known), self.count + len(known)
        if self.profile is None or self.warned or self.count < MIN_REVIEWS:
            return None
        mean, limit = self.total / self.count, self.profile.limit(self.count)
        if mean <= limit:
            return None
        self.warned = True
        return (
            f"these {self.count} reviews read unlike {self.corpus}: {mean:.1%} of their tokens are rare in "
            f"TRAIN, against {self.profile.valid_mean:.1%} on VALID (warning above {limit:.1%}); "
            "its predictions may be unreliable here"
            + ("" if self.labelled else ": check with `reviewrnn evaluate MODEL --corpus YOURS.csv`")
        )
