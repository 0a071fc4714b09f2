"""The filler probe's memory measure: what the review itself still does to the prediction after d filler tokens.

Accuracy after the filler mixes two things: what the model still holds of the review, and what the
filler by itself says. A filler that pulls towards one class keeps that class's reviews right and
outvotes the other's, whatever the model remembers (issue 16). So for every review we compare the
model on review + filler with the model on the same filler alone, in log-odds of the true class:

    evidence(d) = logodds P(y | review + filler[:d]) - logodds P(y | filler[:d])

The filler's own pull is in both terms and cancels (exactly, for a model whose log-odds add up),
however strong it is and whichever class it favours; with no filler (d = 0) the second term is the
uniform prior. Log-odds rather than probabilities, because a probability saturates: under a filler
that alone gives 0.99, a review that still adds its full evidence moves P by less than 0.01.

Rules, the same as for accuracy so the two columns compare: memory(d) is the share of reviews whose
evidence(d) is > 0 (ties count half): the share a filler neutral to this model would leave right.
Its span is the largest d up to which memory stays >= SPAN_ACCURACY all the way; it is at chance
from the first d whose 95% Wilson interval contains 50% (a review forgotten pushes either way by
noise). `kept` is the mean evidence(d) as a share of the mean evidence with no filler, over all
reviews and per class.

The cancelling is exact only where the filler's and the review's log-odds add up. Where they share
features that saturate (max pooling, a gate already open), a review that says what the filler says
adds little on top of it: evidence then understates memory for the class the filler favours, which
`kept_per_class` shows. Memory is then a lower bound for that class.
"""

from __future__ import annotations

import numpy as np

from reviewrnn.metrics import wilson_interval

MEMORY_CHANCE = 0.5  # a forgotten review moves the log-odds either way by noise, whatever the classes


def true_log_odds(log_probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N,) ln(P(y) / (1 - P(y))) from (N, K) log-probabilities, without forming 1 - P (it underflows)."""
    rows = np.arange(len(labels))
    others = log_probabilities.copy()
    others[rows, labels] = -np.inf
    return log_probabilities[rows, labels] - np.logaddexp.reduce(others, axis=1)


def review_evidence(with_review: np.ndarray, alone: np.ndarray | None, labels: np.ndarray) -> np.ndarray:
    """(N,) the review's own effect in log-odds of the true class; alone=None: no filler, the uniform prior."""
    classes = with_review.shape[1]
    baseline = -np.log(classes - 1) if alone is None else true_log_odds(alone, labels)
    return true_log_odds(with_review, labels) - baseline


def memory_row(evidence: np.ndarray, base: np.ndarray, labels: np.ndarray) -> dict:
    """Memory at one distance: share of reviews still pushing towards their class (95% interval), evidence."""
    moved = (evidence > 0) + 0.5 * (evidence == 0)
    hits, count = float(moved.sum()), len(labels)
    low, high = wilson_interval(hits, count)
    return {
        "accuracy": hits / count,
        "ci_low": low,
        "ci_high": high,
        "evidence": float(evidence.mean()),
        "kept": _share(evidence, base),
        "per_class": {int(k): float(evidence[labels == k].mean()) for k in np.unique(labels)},
        "kept_per_class": {int(k): _share(evidence[labels == k], base[labels == k]) for k in np.unique(labels)},
    }


def _share(evidence: np.ndarray, base: np.ndarray) -> float | None:
    return float(evidence.mean() / base.mean()) if base.mean() > 0 else None


def memory_rows(rows: list[dict]) -> list[dict]:
    """The memory measure of each row with its distance, in the form probe.memory_span reads."""
    return [{"distance": row["distance"], **row["memory"]} for row in rows]
