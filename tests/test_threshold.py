"""threshold.py: the threshold each objective picks, against a hand computation on fixed probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from reviewrnn.errors import ReviewRNNError
from reviewrnn.threshold import (
    candidates,
    check_binary,
    curve,
    find_threshold,
    parse_objective,
    thin_side,
    thresholded_labels,
)

# P(positive) and the truth. Thresholds that change a decision: 0, .225, .375, .6, .85, just above .9.
#   t      called  precision recall  F1     balanced accuracy
#   0      5       3/5       1       .750   .500
#   .225   4       3/4       1       .857   .750
#   .375   3       2/3       2/3     .667   .583
#   .6     2       1         2/3     .800   .833
#   .85    1       1         1/3     .500   .667
#   >.9    0       0         0       0      .500
POSITIVE = np.array([0.1, 0.35, 0.4, 0.8, 0.9])
LABELS = np.array([0, 1, 0, 1, 1])


def test_candidates_are_midpoints_and_ends():
    assert candidates(POSITIVE)[:-1] == pytest.approx([0.0, 0.225, 0.375, 0.6, 0.85])
    assert 0.9 < candidates(POSITIVE)[-1] <= 1.0


@pytest.mark.parametrize(
    ("objective", "threshold", "score"),
    [
        ("f1", 0.225, ("f1", 6 / 7)),
        ("balanced-accuracy", 0.6, ("balanced_accuracy", 5 / 6)),
        ("precision=0.95", 0.6, ("recall", 2 / 3)),  # the lowest threshold keeping precision: the most recall
        ("precision=0.7", 0.225, ("precision", 0.75)),
        ("recall=0.95", 0.225, ("precision", 0.75)),  # the highest threshold keeping recall: the most precision
        ("recall=0.5", 0.6, ("precision", 1.0)),
    ],
)
def test_each_objective_against_the_hand_computation(objective, threshold, score):
    chosen = find_threshold(POSITIVE, LABELS, objective)
    assert chosen["threshold"] == pytest.approx(threshold)
    assert chosen[score[0]] == pytest.approx(score[1])


def test_an_unreachable_target_says_the_best_there_is():
    with pytest.raises(ReviewRNNError, match=r"no threshold reaches recall 1.0 on VALID \(the most is 0.000\)"):
        find_threshold(np.array([0.9, 0.8, 0.7]), np.array([0, 0, 1]), "recall=1.0")
    with pytest.raises(ReviewRNNError, match=r"reaches precision 0.9 on VALID \(the most is 0.500\)"):
        find_threshold(np.array([0.9, 0.8, 0.7]), np.array([0, 1, 1]), "precision=0.9")


def test_a_threshold_that_calls_every_review_one_class_is_never_chosen():
    """83% positive and a weak model: "everything positive" has the best F1 and full recall, and decides nothing."""
    positive = np.array([0.55, 0.6, 0.62, 0.65, 0.7, 0.72, 0.75, 0.8, 0.85, 0.9, 0.58, 0.61])
    labels = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    for objective in ("f1", "recall=0.9", "balanced-accuracy"):
        chosen = find_threshold(positive, labels, objective)
        assert 0 < chosen["positive_share"] < 1, objective
    with pytest.raises(ReviewRNNError, match="no threshold separates them"):
        find_threshold(np.array([0.7, 0.7]), np.array([0, 1]), "f1")


def test_a_one_sided_valid_split_is_refused_by_its_class_name():
    with pytest.raises(ReviewRNNError, match="VALID's 3 reviews are all 'good': a threshold needs both classes"):
        find_threshold(np.array([0.9, 0.8, 0.2]), np.array([1, 1, 1]), "f1", ["bad", "good"])


@pytest.mark.parametrize("bad", ["f2", "precision", "precision=", "precision=1.5", "recall=x", "accuracy=0.9", ""])
def test_bad_objectives_are_one_clear_error(bad):
    with pytest.raises(ReviewRNNError, match="give f1, balanced-accuracy, precision=X or recall=X"):
        parse_objective(bad)


def test_curve_holds_the_grid_and_marks_the_chosen_row():
    rows = curve(POSITIVE, LABELS, 0.225)
    assert len(rows) == 20 and [row["threshold"] for row in rows] == sorted(row["threshold"] for row in rows)
    assert [row["threshold"] for row in rows if row["chosen"]] == [0.225]
    at_half = next(row for row in rows if row["threshold"] == 0.5)
    assert (at_half["precision"], at_half["recall"]) == (1.0, pytest.approx(2 / 3))


def test_thresholded_labels_and_the_binary_check():
    probabilities = np.stack([1 - POSITIVE, POSITIVE], axis=1)
    assert thresholded_labels(probabilities, None).tolist() == [0, 0, 0, 1, 1]
    assert thresholded_labels(probabilities, 0.3).tolist() == [0, 1, 1, 1, 1]
    check_binary(["negative", "positive"], "m")
    with pytest.raises(ReviewRNNError, match="m: a decision threshold needs two classes, this model has 3"):
        check_binary(["a", "b", "c"], "m")


def test_thin_side_warns_when_a_handful_of_a_class_is_called_it():
    labels = np.array([1] * 220 + [0] * 63)  # the new user's VALID: 78% positive
    assert thin_side({"positive_share": 3 / 283}, labels).startswith(
        "the chosen threshold calls 3 of VALID's 283 reviews 'positive' (220 are)"
    )
    assert "calls 2 of VALID's 283 reviews 'negative' (63 are)" in thin_side({"positive_share": 281 / 283}, labels)
    assert "reviews 'good' (220 are)" in thin_side({"positive_share": 3 / 283}, labels, ("bad", "good"))
    assert thin_side({"positive_share": 0.5}, labels) is None
    small = np.array([1] * 32 + [0] * 32)  # a small VALID split, split sensibly: no warning
    assert thin_side({"positive_share": 39 / 64}, small) is None
