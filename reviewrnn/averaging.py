"""Polyak averaging of the weights for `train --ema`: its own job, beside the training loop that updates it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


class WeightAverage:
    """An exponential moving average of the parameters (Polyak averaging), validated and saved
    instead of the last weights when `--ema` is on.

    Adam's late steps bounce around a minimum; the average sits nearer its centre. The decay starts
    small, (1 + n) / (10 + n) after n updates, so the average soon forgets the random start.
    """

    def __init__(self, parameters, decay: float) -> None:
        self.parameters = list(parameters)
        self.decay = decay
        self.values = [parameter.detach().clone() for parameter in self.parameters]

    def update(self, updates_before: int) -> None:
        decay = min(self.decay, (1 + updates_before) / (10 + updates_before))
        with torch.no_grad():
            for value, parameter in zip(self.values, self.parameters):
                value.lerp_(parameter, 1.0 - decay)

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """The averaged weights in the model for the duration (validation, the best copy), then the live ones."""
        live = [parameter.detach().clone() for parameter in self.parameters]
        with torch.no_grad():
            for parameter, value in zip(self.parameters, self.values):
                parameter.copy_(value)
        try:
            yield
        finally:
            with torch.no_grad():
                for parameter, value in zip(self.parameters, live):
                    parameter.copy_(value)
