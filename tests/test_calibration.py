"""calibration.py: temperature scaling without logits, the fitted T, ECE and its bins against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from reviewrnn.calibration import apply_temperature, bound_note, fit_temperature, log_loss, reliability


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_temperature_on_probabilities_equals_temperature_on_logits():
    logits = np.random.default_rng(0).normal(size=(50, 3)) * 4
    for temperature in (0.3, 1.0, 2.5):
        scaled = apply_temperature(softmax(logits), temperature)
        assert np.allclose(scaled, softmax(logits / temperature), atol=1e-9)
    assert apply_temperature(softmax(logits), None) is not None


@pytest.mark.parametrize("true_temperature", [0.7, 2.5])
def test_fit_recovers_a_known_temperature(true_temperature):
    """Labels drawn from softmax(z / T): fitting T on softmax(z) must find T again."""
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(20_000, 3)) * 3  # (N, K)
    truth = softmax(logits / true_temperature)
    labels = (rng.random(len(truth))[:, None] > truth.cumsum(axis=1)).sum(axis=1)
    fitted = fit_temperature(softmax(logits), labels)
    assert fitted == pytest.approx(true_temperature, rel=0.05)
    assert log_loss(apply_temperature(softmax(logits), fitted), labels) < log_loss(softmax(logits), labels)


def test_fit_stays_inside_its_bounds_and_empty_input_is_one():
    always_right = np.array([[0.6, 0.4]] * 10)  # right every time: the loss falls as T shrinks
    assert fit_temperature(always_right, np.zeros(10, dtype=int)) == pytest.approx(0.5, rel=1e-3)
    assert fit_temperature(np.zeros((0, 2)), np.zeros(0, dtype=int)) == 1.0


def test_a_temperature_at_a_bound_is_said_to_be():
    always_right = np.array([[0.6, 0.4]] * 10)
    assert "lower bound" in bound_note(fit_temperature(always_right, np.zeros(10, dtype=int)))
    always_wrong = np.array([[0.99, 0.01]] * 10)  # sure and wrong: the loss falls as T grows
    assert "upper bound" in bound_note(fit_temperature(always_wrong, np.ones(10, dtype=int)))
    assert bound_note(1.3) == "" and bound_note(None) == ""


def test_ece_against_a_hand_computation():
    probabilities = np.array([[0.9, 0.1], [0.95, 0.05], [0.2, 0.8], [0.3, 0.7], [0.45, 0.55]])
    labels = np.array([0, 1, 1, 1, 0])
    # bin 0.9-1.0: confidences .9 (right), .95 (wrong): |0.5 - 0.925| = 0.425, two of five reviews
    # bin 0.8-0.9: .8 right: |1 - .8| = .2; bin 0.7-0.8: .7 right: .3; bin 0.5-0.6: .55 wrong: .55
    expected = (2 * 0.425 + 0.2 + 0.3 + 0.55) / 5
    result = reliability(probabilities, labels)
    assert result["ece"] == pytest.approx(expected)
    counts = [row["count"] for row in result["bins"]]
    assert counts == [0, 0, 0, 0, 0, 1, 0, 1, 1, 2]
    last = result["bins"][9]
    assert (last["accuracy"], last["confidence"]) == (0.5, pytest.approx(0.925))
    assert result["bins"][0]["accuracy"] is None


def test_a_top_probability_of_one_is_in_the_last_bin():
    result = reliability(np.array([[1.0, 0.0]]), np.array([0]))
    assert result["bins"][9]["count"] == 1 and result["ece"] == 0.0
