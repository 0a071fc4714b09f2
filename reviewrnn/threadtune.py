"""How many threads training uses when the user did not say: timed on the training steps themselves.

All cores are fastest on an idle machine, but beside one busy process on two cores, two threads ran
at 0.35 of the idle speed and one thread at 0.63: torch's threads wait for each other at every
operation, and one of them keeps losing its core. So the first steps alternate between all cores
and one thread, the faster (per token) is kept, and the trial runs again when steps slow down by
JUMP for PATIENCE steps in a row, or after RECHECK_STEPS steps (the other work may have ended).
A re-check that keeps all cores doubles the wait, up to MAX_RECHECK_STEPS, so an idle machine spends
well under 1% of its steps on trials. A re-check that keeps fewer threads does not: one thread gets
no faster when the other work ends, so only a re-check can see it, and a doubled wait once kept a
new user's `make run` on one thread for two idle epochs (about 4 minutes).
Thread counts do not change results here (weights were bit-identical with 1 and 2 threads), so
the choice costs no exactness; an explicit --threads is never changed (runs.py does not build a tuner).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

WARMUP_STEPS = 2  # the first steps pay for allocation and the kernel measurement (kernels.py)
TRIAL_STEPS = 3  # steps per candidate in one trial, taken in turn
JUMP, PATIENCE = 1.5, 3  # this much slower than the trial's figure, this many steps running: try again
RECHECK_STEPS, MAX_RECHECK_STEPS = 200, 1600


def faster(trial: dict[int, list[float]]) -> int:
    """The thread count with the least median seconds per token; a tie keeps the most threads."""
    return min(trial, key=lambda threads: (statistics.median(trial[threads]), -threads))


def slowed(recent: list[float], reference: float, jump: float = JUMP, patience: int = PATIENCE) -> bool:
    """True when the last `patience` steps each took more than `jump` times the reference per token."""
    return len(recent) >= patience and all(value > jump * reference for value in recent[-patience:])


@dataclass
class ThreadTuner:
    """Fed every step's time and token count; sets the thread count through `apply` and returns a
    one-line message whenever it decides (None otherwise)."""

    most: int
    apply: Callable[[int], object]
    candidates: tuple[int, ...] = ()
    steps: int = 0
    trial: dict[int, list[float]] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)  # the trial's remaining steps, by thread count
    chosen: int = 0
    reference: float = 0.0  # seconds per token of the chosen count in its trial
    recent: list[float] = field(default_factory=list)
    since_trial: int = 0
    wait: int = RECHECK_STEPS  # steps until the next planned re-check

    def __post_init__(self):
        self.candidates = self.candidates or tuple(sorted({self.most, 1}, reverse=True))
        self.chosen = self.most

    def observe(self, seconds: float, tokens: int) -> str | None:
        """Record one finished step and set the count for the next one."""
        self.steps += 1
        per_token = seconds / max(tokens, 1)
        if self.steps <= WARMUP_STEPS or len(self.candidates) < 2:
            if self.steps == WARMUP_STEPS and len(self.candidates) > 1:
                self._start_trial()
            return None
        if self.order:
            return self._trial_step(per_token)
        self.since_trial += 1
        self.recent = [*self.recent[-(PATIENCE - 1) :], per_token]
        if slowed(self.recent, self.reference) or self.since_trial >= self.wait:
            self._start_trial()
        return None

    def _start_trial(self) -> None:
        self.trial = {threads: [] for threads in self.candidates}
        self.order = [threads for _ in range(TRIAL_STEPS) for threads in self.candidates]
        self.apply(self.order[0])

    def _trial_step(self, per_token: float) -> str | None:
        self.trial[self.order.pop(0)].append(per_token)
        if self.order:
            self.apply(self.order[0])
            return None
        previous, self.chosen = self.chosen, faster(self.trial)
        self.reference = statistics.median(self.trial[self.chosen])
        self.recent, self.since_trial = [], 0
        self.apply(self.chosen)
        if self.chosen == previous and self.steps > WARMUP_STEPS + len(self.candidates) * TRIAL_STEPS:
            # Only all cores earn a longer wait: with fewer, the end of the other work shows only here.
            self.wait = min(2 * self.wait, MAX_RECHECK_STEPS) if self.chosen == self.most else RECHECK_STEPS
            return None  # a re-check that changed nothing is not news
        self.wait = RECHECK_STEPS
        rates = ", ".join(f"{t} thread(s) {1e6 * statistics.median(v):.1f} µs" for t, v in self.trial.items())
        return f"threads: {self.chosen} (timed per token over {TRIAL_STEPS} steps each: {rates})"
