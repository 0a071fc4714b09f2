"""The decision threshold of a binary model: the curve of metrics over thresholds, and the one an objective picks.

spaCy's `find-threshold` is the anchor: scan thresholds on held-out data, keep the best for one
score. Here the data is always VALID, the positive class is label_names[1], and a review is called
positive when its probability is at least the threshold. numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reviewrnn.errors import ReviewRNNError

OBJECTIVES = ("f1", "balanced-accuracy")  # and precision=X / recall=X, a target for one of them
TABLE_STEP = 0.05  # the printed curve: thresholds 0.05, 0.10, ..., 0.95 and the chosen one
FEW_CALLED = 30  # fewer VALID reviews than this called one class by the chosen threshold may get a warning


def parse_objective(text: str) -> tuple[str, float | None]:
    """'f1' -> ('f1', None); 'precision=0.95' -> ('precision', 0.95); anything else is one clear error."""
    name, _, target = text.partition("=")
    if name in OBJECTIVES and not target:
        return name, None
    if name in ("precision", "recall") and target:
        try:
            value = float(target)
        except ValueError:
            value = -1.0
        if 0.0 < value <= 1.0:
            return name, value
    raise ReviewRNNError(
        f"--find-threshold {text!r}: give f1, balanced-accuracy, precision=X or recall=X with X in (0, 1], "
        "e.g. precision=0.95"
    )


def scores_at(positive: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    """Precision, recall and F1 of the positive class, and balanced accuracy, when p >= threshold is positive."""
    predicted = positive >= threshold
    actual = labels == 1
    true_positive = int((predicted & actual).sum())
    called, present = int(predicted.sum()), int(actual.sum())
    precision = true_positive / called if called else 0.0  # nothing called positive: no precision to speak of
    recall = true_positive / present if present else 0.0
    negatives = len(labels) - present
    specificity = int((~predicted & ~actual).sum()) / negatives if negatives else 0.0
    return {
        "threshold": float(threshold),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "balanced_accuracy": (recall + specificity) / 2,
        "positive_share": called / len(labels) if len(labels) else 0.0,
    }


def candidates(positive: np.ndarray) -> np.ndarray:
    """Every threshold that changes a decision: midway between neighbouring distinct probabilities, plus the ends."""
    distinct = np.unique(positive)
    middles = (distinct[:-1] + distinct[1:]) / 2
    above = min(float(np.nextafter(distinct[-1], 2.0)), 1.0) if len(distinct) else 1.0  # no review positive
    return np.concatenate([[0.0], middles, [above]])


def find_threshold(
    positive: np.ndarray, labels: np.ndarray, objective: str, label_names: Sequence[str] = ("negative", "positive")
) -> dict:
    """The threshold the objective picks, with its scores, over every threshold that changes a decision.

    Thresholds that call every VALID review one class are left out.
    f1 / balanced-accuracy: the highest score (the lower threshold on a tie). precision=X: the lowest
    threshold whose precision reaches X (the most recall that keeps it); recall=X: the highest
    threshold whose recall reaches X (the most precision that keeps it).
    """
    name, target = parse_objective(objective)
    if len(labels) == 0:
        raise ReviewRNNError("VALID is empty: no reviews to choose a threshold on")
    if len(np.unique(labels)) < 2:
        side = label_names[int(np.asarray(labels)[0])]
        raise ReviewRNNError(
            f"VALID's {len(labels)} reviews are all {side!r}: a threshold needs both classes to choose; label more "
            "reviews, or retrain with a larger --valid-fraction"
        )
    # Only thresholds that call some VALID reviews each class: the ends ("everything positive" or
    # "nothing positive") win F1 or a recall target on an imbalanced corpus while deciding nothing.
    rows = [scores_at(positive, labels, t) for t in candidates(positive)[1:-1]]
    if not rows:
        raise ReviewRNNError("every VALID review has the same probability: no threshold separates them")
    if target is None:
        key = name.replace("-", "_")
        return max(rows, key=lambda row: row[key])  # max keeps the first, i.e. the lowest, of equal scores
    reaching = [row for row in rows if row[name] >= target]
    if not reaching:
        best = max(rows, key=lambda row: row[name])
        raise ReviewRNNError(
            f"no threshold reaches {name} {target} on VALID (the most is {best[name]:.3f}); ask for a lower target"
        )
    return reaching[0] if name == "precision" else reaching[-1]


def thin_side(chosen: dict, labels: np.ndarray, label_names: Sequence[str] = ("negative", "positive")) -> str | None:
    """A warning when the chosen threshold calls fewer than FEW_CALLED VALID reviews one class, and under a
    quarter of the reviews that class has there: a precision measured on a handful of reviews is luck,
    though the rule picked it faithfully. A small VALID split alone is not warned about."""
    labels = np.asarray(labels)
    count = len(labels)
    called = round(chosen["positive_share"] * count)
    present = int((labels == 1).sum())
    sides = ((called, label_names[1], present), (count - called, label_names[0], count - present))
    for side, which, has in sides:
        if side < FEW_CALLED and side < has / 4:
            return (
                f"the chosen threshold calls {side} of VALID's {count} reviews {which!r} ({has} are): its scores are "
                "measured on too few to trust; label more reviews or ask for a less extreme target"
            )
    return None


def curve(positive: np.ndarray, labels: np.ndarray, chosen: float | None = None, step: float = TABLE_STEP) -> list:
    """Scores at thresholds step, 2*step, ..., below 1, and at `chosen`, in increasing order."""
    grid = set(np.round(np.arange(step, 1.0 - 1e-9, step), 6).tolist()) | ({chosen} if chosen is not None else set())
    return [scores_at(positive, labels, t) | {"chosen": t == chosen} for t in sorted(grid)]


def thresholded_labels(probabilities: np.ndarray, threshold: float | None) -> np.ndarray:
    """(N,) label indices: argmax, or for a binary model with a threshold, 1 where P(label 1) >= threshold."""
    if threshold is None:
        return probabilities.argmax(axis=1)
    return (probabilities[:, 1] >= threshold).astype(np.int64)


def check_binary(label_names: list[str], directory) -> None:
    if len(label_names) != 2:
        raise ReviewRNNError(
            f"{directory}: a decision threshold needs two classes, this model has {len(label_names)} "
            f"({', '.join(label_names)}); multi-class models predict the most probable class"
        )
