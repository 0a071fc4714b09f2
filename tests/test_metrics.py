"""metrics.py: Wilson intervals, accuracy by length, per-class scores, confusion and log loss."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reviewrnn.metrics import LOG_LOSS_FLOOR, accuracy_by_length, classification_report, wilson_interval


@pytest.mark.parametrize(
    "correct,total,low,high",
    [
        (8, 10, 0.4902, 0.9433),  # textbook example (Newcombe 1998 style tables)
        (0, 10, 0.0, 0.2775),  # upper bound z^2 / (n + z^2)
        (10, 10, 0.7225, 1.0),  # lower bound n / (n + z^2)
        (50, 100, 0.4038, 0.5962),
        (1, 1, 0.2065, 1.0),
    ],
)
def test_wilson_interval_known_values(correct, total, low, high):
    got_low, got_high = wilson_interval(correct, total)
    assert got_low == pytest.approx(low, abs=1e-4)
    assert got_high == pytest.approx(high, abs=1e-4)


def test_wilson_interval_is_symmetric_and_narrows():
    low, high = wilson_interval(30, 100)
    mirror_low, mirror_high = wilson_interval(70, 100)
    assert low == pytest.approx(1 - mirror_high) and high == pytest.approx(1 - mirror_low)
    assert wilson_interval(300, 1000)[1] - wilson_interval(300, 1000)[0] < high - low
    assert wilson_interval(0, 0) == (0.0, 0.0)
    wide = wilson_interval(8, 10, z=2.5758)  # 99%
    assert wide[0] < 0.4902 and wide[1] > 0.9433


def test_accuracy_by_length_buckets():
    lengths = np.array([0, 10, 63, 64, 127, 128, 5000])
    correct = np.array([True, True, False, True, True, False, True])
    rows = accuracy_by_length(correct, lengths, edges=(0, 64, 128, 256))
    assert [(r["low"], r["high"]) for r in rows] == [(0, 64), (64, 128), (128, 256), (256, None)]
    assert [r["count"] for r in rows] == [3, 2, 1, 1]
    assert rows[0]["accuracy"] == pytest.approx(2 / 3)
    assert rows[1]["accuracy"] == 1.0 and rows[2]["accuracy"] == 0.0 and rows[3]["accuracy"] == 1.0
    assert (rows[0]["ci_low"], rows[0]["ci_high"]) == pytest.approx(wilson_interval(2, 3))
    assert sum(r["count"] for r in rows) == len(lengths)


def test_empty_bucket():
    rows = accuracy_by_length(np.array([True]), np.array([3]), edges=(0, 64, 128))
    assert rows[1] == {"low": 64, "high": 128, "count": 0, "accuracy": None, "ci_low": 0.0, "ci_high": 0.0}


def test_classification_report_on_a_hand_example():
    labels = np.array([0, 0, 1, 1, 2])
    probabilities = np.array(
        [
            [0.7, 0.2, 0.1],  # true 0, predicted 0
            [0.3, 0.6, 0.1],  # true 0, predicted 1
            [0.1, 0.8, 0.1],  # true 1, predicted 1
            [0.2, 0.5, 0.3],  # true 1, predicted 1
            [0.5, 0.5, 0.0],  # true 2, predicted 0 (argmax takes the first of a tie); p(true) = 0
        ]
    )
    report = classification_report(probabilities, labels, ["bad", "ok", "good"], np.array([5, 70, 9, 300, 1]))
    assert report["count"] == 5
    assert report["accuracy"] == pytest.approx(3 / 5)
    assert report["confusion"] == {"labels": ["bad", "ok", "good"], "matrix": [[1, 1, 0], [0, 2, 0], [1, 0, 0]]}
    per_class = report["per_class"]
    assert per_class["bad"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert per_class["ok"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert per_class["good"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    expected_loss = -(math.log(0.7) + math.log(0.3) + math.log(0.8) + math.log(0.5) + math.log(LOG_LOSS_FLOOR)) / 5
    assert report["log_loss"] == pytest.approx(expected_loss)
    assert [row["count"] for row in report["by_length"]] == [3, 1, 0, 1, 0, 0]
    # Every class weighs alike: F1 of bad, ok, good = 0.5, 0.8, 0; recalls 0.5, 1, 0.
    assert report["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert report["balanced_accuracy"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)


def one_hot(predicted: list[int], classes: int) -> np.ndarray:
    return np.eye(classes)[predicted] * 0.8 + 0.2 / classes


def test_majority_guessing_scores_high_accuracy_but_low_macro_f1_and_balanced_accuracy():
    labels = np.array([1] * 9 + [0])  # nine positives, one negative: always "positive" is 90% accurate
    report = classification_report(one_hot([1] * 10, 2), labels, ["negative", "positive"], np.ones(10))
    assert report["accuracy"] == pytest.approx(0.9)
    assert report["macro_f1"] == pytest.approx((0.0 + 2 * 9 / (9 + 10)) / 2)  # F1 = 2TP / (actual + predicted)
    assert report["balanced_accuracy"] == pytest.approx((0.0 + 1.0) / 2)


def test_imbalance_metrics_skip_classes_as_scikit_learn_does():
    # Class 2 is predicted once but never true: its F1 (0) counts in macro-F1, its recall has no support.
    report = classification_report(one_hot([0, 2, 1, 1], 3), np.array([0, 0, 1, 1]), ["a", "b", "c"], np.ones(4))
    assert report["macro_f1"] == pytest.approx((2 * 1 / 3 + 1.0 + 0.0) / 3)
    assert report["balanced_accuracy"] == pytest.approx((0.5 + 1.0) / 2)
    # Class 2 never true nor predicted: left out of both.
    report = classification_report(one_hot([0, 1], 3), np.array([0, 1]), ["a", "b", "c"], np.ones(2))
    assert report["macro_f1"] == 1.0 and report["balanced_accuracy"] == 1.0


def test_perfect_and_binary_report():
    labels = np.array([1, 0, 1, 1])
    probabilities = np.array([[0.1, 0.9], [0.8, 0.2], [0.4, 0.6], [0.0, 1.0]])
    report = classification_report(probabilities, labels, ["negative", "positive"], np.array([1, 2, 3, 4]))
    assert report["accuracy"] == 1.0
    assert report["per_class"]["positive"]["f1"] == 1.0 and report["per_class"]["negative"]["support"] == 1
    assert report["log_loss"] == pytest.approx(-(math.log(0.9) + math.log(0.8) + math.log(0.6) + 0) / 4)


def test_empty_report():
    report = classification_report(np.zeros((0, 2)), np.zeros(0, dtype=np.int64), ["a", "b"], np.zeros(0))
    assert report["count"] == 0 and report["accuracy"] == 0.0 and report["log_loss"] == 0.0
