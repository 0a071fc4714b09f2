"""Temperature scaling and how to see whether it is needed: expected calibration error and a reliability table.

numpy only, so predict applies a temperature without torch. The anchor is Guo et al. (2017), "On
Calibration of Modern Neural Networks": one scalar T fitted on held-out data by minimising log loss.
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 10
# Searched in log space: T below 1 sharpens, above 1 softens. A VALID the model gets all right pulls T
# towards 0 without limit; 0.5 keeps that from turning every probability into exactly 0 or 1.
TEMPERATURE_BOUNDS = (0.5, 20.0)
SEARCH_STEPS = 60  # golden-section steps: the bracket shrinks to 0.618**60 of log(40), far below 1e-6
PROBABILITY_FLOOR = 1e-12


def apply_temperature(probabilities: np.ndarray, temperature: float | None) -> np.ndarray:
    """softmax(log p / T), row by row: (N, K) -> (N, K).

    log p differs from the logits by one constant per row, which softmax ignores, so this equals
    softmax(logits / T) and needs no logits. None or 1 leaves the probabilities as they are.
    """
    if temperature is None or temperature == 1.0:
        return probabilities
    scaled = np.log(np.clip(probabilities, PROBABILITY_FLOOR, 1.0)) / temperature  # (N, K)
    scaled -= scaled.max(axis=1, keepdims=True)
    exponent = np.exp(scaled)
    return exponent / exponent.sum(axis=1, keepdims=True)


def log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    chosen = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(chosen, PROBABILITY_FLOOR, 1.0)).mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The T in TEMPERATURE_BOUNDS that minimises the log loss of (N, K) probabilities against labels (N,).

    The loss is convex in 1/T (a log-sum-exp of a linear function), so a golden-section search over
    log T finds the minimum without gradients.
    """
    if len(labels) == 0:
        return 1.0
    logs = np.log(np.clip(probabilities, PROBABILITY_FLOOR, 1.0))  # (N, K)

    def loss(log_t: float) -> float:
        scaled = logs / np.exp(log_t)
        top = scaled.max(axis=1, keepdims=True)
        normaliser = top[:, 0] + np.log(np.exp(scaled - top).sum(axis=1))
        return float((normaliser - scaled[np.arange(len(labels)), labels]).mean())

    low, high = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    for _ in range(SEARCH_STEPS):
        if loss_a <= loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return float(np.exp((low + high) / 2.0))


def bound_note(temperature: float | None) -> str:
    """Why a fitted temperature sits at a bound of its search, or "" when it does not (evaluate's ECE line)."""
    if temperature is None:
        return ""
    if np.isclose(temperature, TEMPERATURE_BOUNDS[0], rtol=1e-3):
        return "; at its lower bound: the model is less sure than it is right on VALID, more than T can correct"
    if np.isclose(temperature, TEMPERATURE_BOUNDS[1], rtol=1e-3):
        return "; at its upper bound: the model is far surer than it is right on VALID (near chance, or wrong)"
    return ""


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> dict:
    """Expected calibration error over `bins` equal-width bins of the top probability, and the bins.

    ECE = sum over bins of (reviews in bin / N) * |accuracy in bin - mean top probability in bin|.
    A top probability of exactly 1 falls in the last bin.
    """
    confidence = probabilities.max(axis=1) if len(labels) else np.zeros(0)
    correct = probabilities.argmax(axis=1) == labels if len(labels) else np.zeros(0, dtype=bool)
    index = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        inside = index == b
        count = int(inside.sum())
        accuracy = float(correct[inside].mean()) if count else None
        mean_confidence = float(confidence[inside].mean()) if count else None
        if count:
            ece += count / len(labels) * abs(accuracy - mean_confidence)
        rows.append(
            {
                "low": b / bins,
                "high": (b + 1) / bins,
                "count": count,
                "accuracy": accuracy,
                "confidence": mean_confidence,
            }
        )
    return {"ece": ece, "bins": rows}
