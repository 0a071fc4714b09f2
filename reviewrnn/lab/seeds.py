"""Cells trained from several seeds: accuracy by length with its spread, the length gap and the ranking.

Every seed is scored on the same TEST reviews, so two kinds of spread meet here:
- between seeds: how much a cell's figure moves with its initialisation and batch order (sample SD
  over the k seeds; its 95% half-width is t(0.975, k-1) x SD / sqrt(k));
- within a seed: review-level binomial noise, p(1-p)/n per accuracy. The reviews are the same for
  every seed, so this part does not shrink with k; its half-width is 1.96 x sqrt(mean variance).
An interval for a seed-mean figure adds the two half-widths in quadrature:
    half = sqrt((t * SD / sqrt(k))^2 + (1.96 * sqrt(mean within-seed variance))^2)
With 2 or 3 seeds the t factor (12.7 or 4.3) makes the between-seed part wide on purpose.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from reviewrnn.metrics import wilson_interval

Z_95 = 1.959963984540054
# t(0.975, df) for df = 1..30 (any statistics table); past 30 the normal's 1.96 is within 2%. A table, not
# scipy, because seeds here number 2 to 5 and scipy would be a dependency for these thirty numbers.
T_975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip


def t_975(df: int) -> float:
    """The two-sided 95% t quantile for df degrees of freedom."""
    return T_975[df - 1] if df <= len(T_975) else Z_95


def spread(values: list[float]) -> dict:
    """Mean, SD (n-1), min and max of one figure over seeds."""
    array = np.asarray(values, dtype=float)
    sd = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return {"mean": float(array.mean()), "sd": sd, "min": float(array.min()), "max": float(array.max())}


def combined_interval(
    values: list[float], variances: list[float], possible: tuple[float, float] = (-1.0, 1.0)
) -> tuple[float, float, float]:
    """(mean, low, high): the seed mean with between- and within-seed half-widths added in quadrature,
    cut to the `possible` values (0-1 for an accuracy, ±1 for a gap): with 2 seeds, t = 12.7 stretched a
    gap's interval past ±100 points, which no pair of accuracies can give."""
    k, mean = len(values), float(np.mean(values))
    between = t_975(k - 1) * float(np.std(values, ddof=1)) / math.sqrt(k) if k > 1 else 0.0
    within = Z_95 * math.sqrt(float(np.mean(variances)))
    half = math.hypot(between, within)
    return mean, max(mean - half, possible[0]), min(mean + half, possible[1])


def binomial_variance(accuracy: float, count: int) -> float:
    return accuracy * (1 - accuracy) / count if count else 0.0


def bucket_summary(runs: list[dict], index: int) -> dict:
    """One length bucket over a cell's seeds: the spread, and the Wilson interval of the seed-mean accuracy."""
    rows = [run["rows"][index] for run in runs]
    count = rows[0]["count"]
    figures = spread([row["accuracy"] for row in rows])
    low, high = wilson_interval(round(figures["mean"] * count), count)  # review-level, at the bucket's n
    return {key: rows[0][key] for key in ("low", "high", "count")} | figures | {"ci_low": low, "ci_high": high}


def seed_gaps(runs: list[dict]) -> tuple[list[float], list[float], dict, dict] | None:
    """Per seed: shortest minus longest non-empty bucket, and its binomial variance; and the two buckets."""
    filled = [index for index, row in enumerate(runs[0]["rows"]) if row["count"]]
    if len(filled) < 2:
        return None
    short, long = filled[0], filled[-1]
    gaps, variances = [], []
    for run in runs:
        a, b = run["rows"][short], run["rows"][long]
        gaps.append(a["accuracy"] - b["accuracy"])
        variances.append(binomial_variance(a["accuracy"], a["count"]) + binomial_variance(b["accuracy"], b["count"]))
    return gaps, variances, runs[0]["rows"][short], runs[0]["rows"][long]


def gap_summary(runs: list[dict]) -> dict | None:
    """The shortest-minus-longest gap over seeds with its combined interval (None with under 2 buckets)."""
    found = seed_gaps(runs)
    if found is None:
        return None
    gaps, variances, short, long = found
    mean, low, high = combined_interval(gaps, variances)
    return {
        "short": {key: short[key] for key in ("low", "high", "count")},
        "long": {key: long[key] for key in ("low", "high", "count")},
        "per_seed": gaps,
        "variances": variances,
        "difference": mean,
        "ci_low": low,
        "ci_high": high,
        "clear": low > 0 or high < 0,
    }


def cell_summary(cell: str, runs: list[dict]) -> dict:
    """A cell over its seed runs (compare.ModelLengths dicts, read whole): buckets, accuracy and gap."""
    accuracies = [run["accuracy"] for run in runs]
    acc_mean, acc_low, acc_high = combined_interval(
        accuracies, [binomial_variance(run["accuracy"], run["count"]) for run in runs], possible=(0.0, 1.0)
    )
    return {
        "cell": cell,
        "runs": [run["name"] for run in runs],
        "accuracy": spread(accuracies) | {"ci_low": acc_low, "ci_high": acc_high, "per_seed": accuracies},
        "buckets": [bucket_summary(runs, i) for i, row in enumerate(runs[0]["rows"]) if row["count"]],
        "gap": gap_summary(runs),
    }


def pair(a: dict, b: dict, measure: str, runs: dict[str, list[dict]]) -> dict:
    """Cell a minus cell b on one measure ('accuracy' or 'gap'), with its interval and how many seed pairs agree."""
    if measure == "gap":
        values_a, values_b = a["gap"]["per_seed"], b["gap"]["per_seed"]
        within = float(np.mean(a["gap"]["variances"]) + np.mean(b["gap"]["variances"]))
    else:
        values_a, values_b = a["accuracy"]["per_seed"], b["accuracy"]["per_seed"]
        within = sum(
            float(np.mean([binomial_variance(r["accuracy"], r["count"]) for r in runs[c["cell"]]])) for c in (a, b)
        )
    k = min(len(values_a), len(values_b))
    sd = (
        math.sqrt(np.var(values_a, ddof=1) / len(values_a) + np.var(values_b, ddof=1) / len(values_b)) if k > 1 else 0.0
    )
    between = t_975(k - 1) * sd if k > 1 else 0.0
    difference = float(np.mean(values_a) - np.mean(values_b))
    half = math.hypot(between, Z_95 * math.sqrt(within))
    wins = sum(x > y for x in values_a for y in values_b)
    possible = 1.0 if measure == "accuracy" else 2.0  # a gap is ±1 itself, so two gaps differ by up to 2
    return {
        "a": a["cell"], "b": b["cell"], "measure": measure, "difference": difference,
        "ci_low": max(difference - half, -possible), "ci_high": min(difference + half, possible),
        "clear": abs(difference) > half,
        "wins": int(wins), "pairs": len(values_a) * len(values_b),
    }  # fmt: skip


def summarise_cells(runs: dict[str, list[dict]]) -> dict:
    """Per cell over its seeds, and every pair of cells on accuracy and on the length gap."""
    cells = {cell: cell_summary(cell, chosen) for cell, chosen in runs.items()}
    pairs = [
        pair(cells[a], cells[b], measure, runs)
        for measure in ("accuracy", "gap")
        for a, b in combinations(cells, 2)
        if measure == "accuracy" or (cells[a]["gap"] and cells[b]["gap"])
    ]
    ranking = sorted(cells, key=lambda cell: -cells[cell]["accuracy"]["mean"])
    return {
        "cells": list(cells.values()),
        "pairs": pairs,
        "ranking": ranking,
        "seeds": max(map(len, runs.values()), default=0),
    }
