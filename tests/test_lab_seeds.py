"""Cells over seeds (lab/seeds.py) against figures worked out by hand."""

from __future__ import annotations

import pytest

from reviewrnn.lab.seeds import summarise_cells
from reviewrnn.metrics import wilson_interval


def run(name: str, short: float, long: float) -> dict:
    """A compare.ModelLengths dict with two filled buckets (100 and 50 reviews) and an empty one between."""
    rows = [
        {"low": 0, "high": 64, "count": 100, "accuracy": short},
        {"low": 64, "high": 512, "count": 0, "accuracy": 0.0},
        {"low": 512, "high": None, "count": 50, "accuracy": long},
    ]
    return {"name": name, "accuracy": (100 * short + 50 * long) / 150, "count": 150, "rows": rows}


@pytest.fixture
def summary():
    rnn = [run("rnn", 0.9, 0.7), run("rnn-seed1", 0.8, 0.6), run("rnn-seed2", 0.85, 0.8)]
    gru = [run(f"gru{i}", 0.9, 0.9) for i in range(3)]
    return summarise_cells({"rnn": rnn, "gru": gru})


def test_bucket_spread_and_wilson_of_the_seed_mean(summary):
    rnn = summary["cells"][0]
    short, long = rnn["buckets"]  # the empty bucket is left out
    assert (short["mean"], short["min"], short["max"]) == pytest.approx((0.85, 0.8, 0.9))
    assert short["sd"] == pytest.approx(0.05)
    assert (short["ci_low"], short["ci_high"]) == pytest.approx(wilson_interval(85, 100))
    assert long["mean"] == pytest.approx(0.7) and long["count"] == 50


def test_gap_interval_adds_between_and_within_seed_spread(summary):
    gap = summary["cells"][0]["gap"]
    # By hand: gaps 0.20, 0.20, 0.05 -> mean 0.15, SD sqrt(0.0075); between = t(0.975, 2) 4.3027 x SD / sqrt(3)
    # = 0.21513. Within: p(1-p)/n per bucket, per seed 0.0051, 0.0064, 0.004475 -> mean 0.005325;
    # 1.96 x sqrt(0.005325) = 0.14302. Half-width sqrt(0.21513^2 + 0.14302^2) = 0.25834.
    assert gap["per_seed"] == pytest.approx([0.2, 0.2, 0.05])
    assert gap["variances"] == pytest.approx([0.0051, 0.0064, 0.004475])
    assert gap["difference"] == pytest.approx(0.15)
    assert (gap["ci_low"], gap["ci_high"]) == pytest.approx((-0.10834, 0.40834), abs=1e-5)
    assert not gap["clear"]
    assert (gap["short"]["low"], gap["long"]["low"]) == (0, 512)


def test_ranking_pairs_on_gap_and_accuracy(summary):
    pair = next(p for p in summary["pairs"] if p["measure"] == "gap")
    # gru's gaps are all 0 (no between-seed spread); within adds gru's 0.9*0.1/100 + 0.9*0.1/50 = 0.0027:
    # half-width sqrt(0.21513^2 + (1.96 x sqrt(0.005325 + 0.0027))^2) = 0.27769
    assert (pair["a"], pair["b"]) == ("rnn", "gru")
    assert pair["difference"] == pytest.approx(0.15)
    assert (pair["ci_low"], pair["ci_high"]) == pytest.approx((-0.12769, 0.42769), abs=1e-5)
    assert (pair["wins"], pair["pairs"]) == (9, 9)  # every rnn seed's gap beats every gru seed's
    accuracy = next(p for p in summary["pairs"] if p["measure"] == "accuracy")
    assert accuracy["difference"] < 0 and accuracy["wins"] == 0
    assert summary["ranking"] == ["gru", "rnn"] and summary["seeds"] == 3


def test_one_filled_bucket_has_no_gap():
    flat = [
        {"name": "rnn", "accuracy": 0.8, "count": 10, "rows": [{"low": 0, "high": None, "count": 10, "accuracy": 0.8}]}
    ]
    summary = summarise_cells({"rnn": flat, "gru": flat})
    assert summary["cells"][0]["gap"] is None
    assert [p["measure"] for p in summary["pairs"]] == ["accuracy"]


def test_t_quantiles_match_the_textbook_values():
    from reviewrnn.lab.seeds import t_975

    assert t_975(1) == pytest.approx(12.706, abs=1e-3)
    assert t_975(2) == pytest.approx(4.303, abs=1e-3)
    assert t_975(30) == pytest.approx(2.042, abs=1e-3)
    assert t_975(200) == pytest.approx(1.96, abs=1e-3)


def test_intervals_stop_at_what_is_possible():
    """Two seeds far apart (t = 12.7) gave a gap interval hundreds of points wide and accuracy past 100%."""
    rnn = [run("rnn", 0.95, 0.1), run("rnn-seed1", 0.9, 0.9)]  # gaps +85 and 0 points; accuracies 67% and 90%
    gru = [run("gru", 0.1, 0.95), run("gru-seed1", 0.9, 0.9)]  # gaps -85 and 0
    summary = summarise_cells({"rnn": rnn, "gru": gru})
    cell = summary["cells"][0]
    assert (cell["gap"]["ci_low"], cell["gap"]["ci_high"]) == (-1.0, 1.0)  # by the formula: about -5.0 to +5.8
    assert cell["accuracy"]["ci_high"] == 1.0 and cell["accuracy"]["ci_low"] == 0.0
    assert not cell["gap"]["clear"]
    gap_pair = next(p for p in summary["pairs"] if p["measure"] == "gap")
    assert (gap_pair["ci_low"], gap_pair["ci_high"]) == (-2.0, 2.0) and not gap_pair["clear"]
    accuracy_pair = next(p for p in summary["pairs"] if p["measure"] == "accuracy")
    assert -1.0 <= accuracy_pair["ci_low"] < accuracy_pair["ci_high"] <= 1.0
