"""Metrics as plain dicts: accuracy, macro-F1, balanced accuracy, per-class P/R/F1, confusion, log loss,
accuracy by length.

Accuracy by length is the tool's first piece of evidence about memory: if long reviews are
classified worse, the bucket table shows it, with a 95% Wilson interval per bucket.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from reviewrnn.config import DEFAULT_LENGTH_EDGES

Z_95 = 1.959964
LOG_LOSS_FLOOR = 1e-12


def wilson_interval(correct: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """95% interval for a proportion that stays inside [0, 1] even for tiny buckets."""
    if total == 0:
        return (0.0, 0.0)
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def difference_interval(correct_a: int, total_a: int, correct_b: int, total_b: int) -> tuple[float, float]:
    """95% interval for p_a - p_b of two independent proportions (Newcombe's method from Wilson intervals).

    It keeps the Wilson interval's good behaviour for small buckets, where the usual normal
    approximation gives intervals that are too narrow or leave [-1, 1].
    """
    p_a, p_b = correct_a / total_a, correct_b / total_b
    low_a, high_a = wilson_interval(correct_a, total_a)
    low_b, high_b = wilson_interval(correct_b, total_b)
    difference = p_a - p_b
    below = math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    above = math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return (max(-1.0, difference - below), min(1.0, difference + above))


def accuracy_by_length(
    correct: np.ndarray, lengths: np.ndarray, edges: Sequence[int] = DEFAULT_LENGTH_EDGES
) -> list[dict]:
    """One row per bucket [edge_i, edge_i+1) of token counts, the last bucket open-ended."""
    bounds = list(edges) + [math.inf]
    rows = []
    for low, high in zip(bounds[:-1], bounds[1:]):
        inside = (lengths >= low) & (lengths < high)
        total = int(inside.sum())
        hits = int(correct[inside].sum())
        ci_low, ci_high = wilson_interval(hits, total)
        rows.append(
            {
                "low": int(low),
                "high": None if high == math.inf else int(high),
                "count": total,
                "accuracy": hits / total if total else None,
                "ci_low": ci_low,
                "ci_high": ci_high,
            }
        )
    return rows


def classification_report(
    probabilities: np.ndarray,
    labels: np.ndarray,
    label_names: list[str],
    lengths: np.ndarray,
    edges: Sequence[int] = DEFAULT_LENGTH_EDGES,
    predicted: np.ndarray | None = None,
) -> dict:
    """Everything `reviewrnn evaluate` shows, from class probabilities (N, K) and true labels (N,).

    `predicted` (N,): the labels a decision threshold chose (threshold.py); by default the most probable.
    """
    predicted = probabilities.argmax(axis=1) if predicted is None else predicted
    correct = predicted == labels
    classes = len(label_names)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    chosen = probabilities[np.arange(len(labels)), labels]
    return {
        "count": int(len(labels)),
        "accuracy": float(correct.mean()) if len(labels) else 0.0,
        "log_loss": float(-np.log(np.clip(chosen, LOG_LOSS_FLOOR, 1.0)).mean()) if len(labels) else 0.0,
        **imbalance_metrics(confusion),
        "per_class": _per_class(confusion, label_names),
        "confusion": {"labels": list(label_names), "matrix": confusion.tolist()},
        "by_length": accuracy_by_length(correct, lengths, edges),
    }


def imbalance_metrics(confusion: np.ndarray) -> dict[str, float]:
    """Macro-F1 and balanced accuracy from a confusion matrix (rows: true, columns: predicted).

    On imbalanced reviews accuracy rewards always saying the majority class; these two weigh every
    class alike. As scikit-learn's defaults: macro-F1 averages the classes that occur as truth or
    prediction, balanced accuracy (the mean recall) the classes that occur as truth.
    """
    hits = np.diag(confusion).astype(np.float64)
    actual, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    seen = (actual + predicted) > 0
    f1 = np.divide(2 * hits, actual + predicted, out=np.zeros_like(hits), where=seen)  # 2TP / (2TP + FP + FN)
    present = actual > 0
    return {
        "macro_f1": float(f1[seen].mean()) if seen.any() else 0.0,
        "balanced_accuracy": float((hits[present] / actual[present]).mean()) if present.any() else 0.0,
    }


def _per_class(confusion: np.ndarray, label_names: list[str]) -> dict[str, dict]:
    scores = {}
    for index, name in enumerate(label_names):
        true_positive = int(confusion[index, index])
        predicted = int(confusion[:, index].sum())
        actual = int(confusion[index, :].sum())
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[name] = {"precision": precision, "recall": recall, "f1": f1, "support": actual}
    return scores
