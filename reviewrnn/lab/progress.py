"""The study's progress line: which run is going, how many are left, and a rough time left for training.

The estimate starts from measured throughput (plan.TRAIN_RATES) and is rescaled by how long the
runs trained so far actually took, so a slower or busier machine corrects it after the first run.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from reviewrnn.lab.plan import RunSpec, StudyPlan, estimated_seconds


class Progress:
    """Per run: a note for the stage line (' · run 3/17 · ~12 min of training left'); learns from finished runs."""

    def __init__(self, plan: StudyPlan, specs: list[RunSpec], whole: dict, stage: Callable[[str], None]) -> None:
        tokens = whole.get("train_tokens", 0)
        self.specs = specs
        self.estimates = {spec.name: estimated_seconds(plan, spec, tokens, whole["longest"]) for spec in specs}
        self.done: list[str] = []
        self.spent, self.expected = 0.0, 0.0  # seconds of runs actually trained, and what was estimated for them
        self.clock = time.perf_counter()
        self.stage = stage

    def left(self) -> float:
        """Seconds of training left, the estimate scaled by how the trained runs compared with theirs."""
        remaining = sum(seconds for name, seconds in self.estimates.items() if name not in self.done)
        return remaining * (self.spent / self.expected if self.expected else 1.0)

    def note(self, spec: RunSpec) -> str:
        self.clock = time.perf_counter()
        return f" · run {len(self.done) + 1}/{len(self.specs)} · {duration(self.left())} of training left"

    def finish(self, spec: RunSpec, record: dict) -> None:
        """A run is done; one trained now (not reused) teaches the estimate its machine's speed."""
        elapsed = time.perf_counter() - self.clock
        if elapsed > 0.5 * record.get("seconds", 0) and record.get("seconds"):
            self.spent += record["seconds"]
            self.expected += self.estimates[spec.name]
        self.done.append(spec.name)


def duration(seconds: float) -> str:
    """'~40 s' under a minute and a half, '~12 min' above."""
    return f"~{seconds:.0f} s" if seconds < 90 else f"~{seconds / 60:.0f} min"
