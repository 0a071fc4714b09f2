"""How a run reports progress: one object with a no-op default for each event, passed as one argument.

The library calls these and draws nothing; the CLI's display, the lab's recorder or a test fills them in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the reports live with the loop, which imports torch
    from reviewrnn.trainstate import EpochReport, StepReport


def ignore(_) -> None:
    """The default for every event: nothing happens."""


@dataclass
class Callbacks:
    """stage: a one-line status ("reading corpus"); step: after every optimiser step; epoch: after validation."""

    stage: Callable[[str], None] = ignore
    step: Callable[[StepReport], None] = ignore
    epoch: Callable[[EpochReport], None] = ignore
