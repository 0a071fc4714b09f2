"""threadtune.py: the thread count chosen from step times (injected here), and an explicit one kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reviewrnn import threadtune
from reviewrnn.callbacks import Callbacks
from reviewrnn.config import ModelConfig, TrainConfig
from reviewrnn.data import EncodedSet
from reviewrnn.model import RecurrentClassifier
from reviewrnn.runtime import Distributed
from reviewrnn.threadtune import ThreadTuner, faster, slowed
from reviewrnn.train import Trainer, thread_tuner


def test_faster_picks_the_least_median_time_per_token():
    assert faster({2: [1.0, 9.0, 1.1], 1: [1.5, 1.4, 1.6]}) == 2  # one disturbed step does not decide
    assert faster({2: [3.0, 2.9, 3.1], 1: [1.5, 1.4, 1.6]}) == 1
    assert faster({2: [1.0], 1: [1.0]}) == 2  # a tie keeps all cores


def test_slowed_needs_every_recent_step_past_the_jump():
    assert slowed([2.0, 2.0, 2.0], reference=1.0)
    assert not slowed([2.0, 1.0, 2.0], reference=1.0)  # one quick step in between: not a jump
    assert not slowed([2.0, 2.0], reference=1.0)  # too few steps yet
    assert not slowed([1.4, 1.4, 1.4], reference=1.0)


def drive(tuner: ThreadTuner, per_token: dict[int, float], steps: int, current: list[int]) -> list[str]:
    """Feed `steps` steps whose time per token depends on the thread count in force (100 tokens each)."""
    messages = []
    for _ in range(steps):
        message = tuner.observe(per_token[current[0]] * 100, 100)
        if message:
            messages.append(message)
    return messages


def make_tuner(most: int = 2) -> tuple[ThreadTuner, list[int], list[int]]:
    current, applied = [most], []

    def apply(threads: int) -> None:
        current[0] = threads
        applied.append(threads)

    return ThreadTuner(most, apply), current, applied


def test_an_idle_machine_keeps_all_cores():
    tuner, current, applied = make_tuner()
    trial_end = threadtune.WARMUP_STEPS + 2 * threadtune.TRIAL_STEPS
    messages = drive(tuner, {2: 1.0, 1: 1.8}, trial_end, current)
    assert current == [2] and set(applied) == {1, 2}
    assert len(messages) == 1 and messages[0].startswith("threads: 2")


def test_a_busy_machine_moves_to_one_thread_and_back_when_the_work_ends():
    tuner, current, _ = make_tuner()
    trial_end = threadtune.WARMUP_STEPS + 2 * threadtune.TRIAL_STEPS
    messages = drive(tuner, {2: 3.0, 1: 1.6}, trial_end, current)
    assert current == [1] and messages[0].startswith("threads: 1")
    # The other work ends: one thread gets no slower, so only the planned re-check finds two faster.
    messages = drive(tuner, {2: 1.0, 1: 1.5}, threadtune.RECHECK_STEPS + 2 * threadtune.TRIAL_STEPS, current)
    assert current == [2] and messages == [messages[0]] and messages[0].startswith("threads: 2")


def test_a_jump_in_step_times_starts_a_new_trial_at_once():
    tuner, current, _ = make_tuner()
    drive(tuner, {2: 1.0, 1: 1.8}, threadtune.WARMUP_STEPS + 2 * threadtune.TRIAL_STEPS, current)
    assert current == [2]
    # Other work starts: two threads slow down 3x; after PATIENCE slow steps the trial runs again.
    messages = drive(tuner, {2: 3.0, 1: 1.8}, threadtune.PATIENCE + 2 * threadtune.TRIAL_STEPS, current)
    assert current == [1] and len(messages) == 1


def test_a_recheck_that_keeps_the_count_waits_longer_next_time():
    tuner, current, _ = make_tuner()
    drive(tuner, {2: 1.0, 1: 1.8}, threadtune.WARMUP_STEPS + 2 * threadtune.TRIAL_STEPS, current)
    messages = drive(tuner, {2: 1.0, 1: 1.8}, threadtune.RECHECK_STEPS + 2 * threadtune.TRIAL_STEPS, current)
    assert messages == [] and tuner.wait == 2 * threadtune.RECHECK_STEPS


def test_a_recheck_that_keeps_one_thread_does_not_wait_longer():
    tuner, current, _ = make_tuner()
    busy = {2: 3.0, 1: 1.6}
    drive(tuner, busy, threadtune.WARMUP_STEPS + 2 * threadtune.TRIAL_STEPS, current)
    for _ in range(3):  # the other work goes on: each re-check keeps one thread, and the wait stays
        messages = drive(tuner, busy, threadtune.RECHECK_STEPS + 2 * threadtune.TRIAL_STEPS, current)
        assert current == [1] and messages == [] and tuner.wait == threadtune.RECHECK_STEPS
    # It ends: the very next planned re-check (not one 8x later) goes back to all cores.
    messages = drive(tuner, {2: 1.0, 1: 1.5}, threadtune.RECHECK_STEPS + 2 * threadtune.TRIAL_STEPS, current)
    assert current == [2] and len(messages) == 1 and messages[0].startswith("threads: 2")


def test_one_core_has_nothing_to_choose():
    tuner, current, applied = make_tuner(most=1)
    assert drive(tuner, {1: 1.0}, 50, current) == [] and applied == []


@pytest.mark.parametrize(
    ("threads", "device", "world_size", "tuned"),
    [
        (None, "cpu", 1, True),
        (2, "cpu", 1, False),
        (1, "cpu", 1, False),
        (None, "cuda", 1, False),
        (None, "cpu", 2, False),
    ],
)
def test_only_a_thread_count_left_to_us_is_tuned(threads, device, world_size, tuned):
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        tuner = thread_tuner(TrainConfig(threads=threads), torch.device(device), Distributed(0, world_size))
        assert (tuner is not None) is tuned
    finally:
        torch.set_num_threads(previous)


def tiny_trainer(threads: int | None, steps: int) -> Trainer:
    """A GRU trainer over `steps` batches of 2 random reviews."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 9, size=2 * steps)
    data = EncodedSet([rng.integers(2, 40, size=n) for n in lengths], lengths, rng.integers(0, 2, size=2 * steps))
    model = RecurrentClassifier(ModelConfig(cell="gru", vocab_size=40, embed=8, hidden=6))
    config = TrainConfig(threads=threads, epochs=1, batch_size=2)
    return Trainer(model, data, data.subset(4), config, torch.device("cpu"), rng)


@pytest.mark.parametrize("threads", [None, 2])
def test_the_loop_tunes_only_when_no_count_was_given(monkeypatch, threads):
    """Two cores seen, every step timed: with --threads 2 the loop never changes the count; without
    it the trial sets both counts and one line goes to the stage callback."""
    calls, stages = [], []
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(torch, "set_num_threads", calls.append)  # recorded, not applied
    trainer = tiny_trainer(threads, threadtune.WARMUP_STEPS + 2 * threadtune.TRIAL_STEPS)
    trainer.run(Callbacks(stage=stages.append))
    if threads is None:
        assert set(calls) == {1, 2} and len(stages) == 1 and stages[0].startswith("threads: ")
    else:
        assert trainer.tuner is None and calls == [] and stages == []
