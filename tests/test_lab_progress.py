"""The study's progress line: which run, how many, and a time left that learns from the runs trained so far."""

from __future__ import annotations

from reviewrnn.lab.plan import StudyPlan, estimated_seconds, run_specs
from reviewrnn.lab.progress import Progress, duration


def test_time_left_is_rescaled_by_trained_runs_and_ignores_reused_ones():
    plan = StudyPlan(seeds=(0,), clip_seeds=())
    whole = {"longest": 3000, "train_tokens": 6_000_000}
    progress = Progress(plan, run_specs(plan), whole, print)
    specs = progress.specs
    estimate = {spec.name: estimated_seconds(plan, spec, 6_000_000, 3000) for spec in specs}
    assert estimate["lstm"] > estimate["gru"] > estimate["rnn"]  # the measured rates' order
    assert progress.left() == sum(estimate.values())
    assert progress.note(specs[0]).startswith(f" · run 1/{len(specs)} · ~")
    progress.clock -= 2 * estimate["rnn"]  # as if it trained for that long, at half the estimated speed
    progress.finish(specs[0], {"seconds": 2 * estimate["rnn"]})
    rest = sum(seconds for name, seconds in estimate.items() if name != "rnn")
    assert progress.left() == rest * 2
    progress.note(specs[1])  # a reused run: back at once, so it teaches nothing
    progress.finish(specs[1], {"seconds": 1000 * estimate["gru"]})
    assert progress.left() == (rest - estimate["gru"]) * 2


def test_duration():
    assert (duration(42), duration(600)) == ("~42 s", "~10 min")
