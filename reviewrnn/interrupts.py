"""Turn SIGINT/SIGTERM into a polite request to stop at the next step boundary.

The first signal only sets a flag, so the training loop can finish its step and save a resumable
checkpoint; a second signal stops at once (KeyboardInterrupt), for a user who really means it.
A signal that arrives while the run still reads or encodes stops it at the next stage: nothing is saved.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from reviewrnn.errors import TrainingInterrupted

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopNow(KeyboardInterrupt):
    """The second SIGINT/SIGTERM: stop at once, exiting as that signal asks (130 or 143)."""

    def __init__(self, number: int) -> None:
        super().__init__()
        self.exit_code = EXIT_CODES.get(number, 130)


class StopOnSignals:
    """Context manager: `stopper()` is True once SIGINT or SIGTERM has arrived."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def __call__(self) -> bool:
        return self.received is not None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.received, 130)

    def _handle(self, number, frame) -> None:
        if self.received is not None:
            raise StopNow(number)
        self.received = number

    def before_training(self, stage: Callable[[str], None]) -> Callable[[str], None]:
        """`stage`, refusing to announce the next one once a signal has arrived: a run stopped while it
        reads, tokenizes or encodes has nothing worth a checkpoint, and its model directory stays as it was."""

        def announce(message: str) -> None:
            if self.received is not None:
                raise TrainingInterrupted("stopped before training began; nothing was written", self.exit_code)
            stage(message)

        return announce

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():  # handlers can only live there
            for number in EXIT_CODES:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
