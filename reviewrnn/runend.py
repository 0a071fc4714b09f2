"""How a training run ends when it does not finish, for `train` and `pretrain` alike: an interrupted run
saves its checkpoint and says how to resume (unless that checkpoint would replace a finished model);
a diverged one says which epoch it kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reviewrnn import messages
from reviewrnn.artifacts import WEIGHTS_FILE
from reviewrnn.errors import TrainingDiverged, TrainingInterrupted


def raise_if_unfinished(
    result, trainer, directory: Path, stop, save: Callable, command: str, on_diverged: Callable | None = None
) -> None:
    """Nothing for a finished run. `stop` is the run's StopOnSignals (its exit_code says which signal);
    `on_diverged` runs when a diverged run has a best epoch to keep."""
    if result.interrupted:
        if result.best_state is None and (Path(directory) / WEIGHTS_FILE).is_file():
            # A --force run stopped in its first epoch: a checkpoint alone would be swapped in for the model
            # it was to replace, and that model is worth more than a part of one epoch.
            message = messages.interrupted_before_replacing(trainer.state.epoch, trainer.state.step, directory)
            raise TrainingInterrupted(message, stop.exit_code)
        save(trainer)
        message = messages.interrupted(trainer.state.epoch, trainer.state.step, directory, command)
        raise TrainingInterrupted(message, stop.exit_code)
    if result.diverged:
        kept = ""
        if result.best_state is not None:
            kept = messages.best_epoch_kept(result.best_epoch, directory)
            if on_diverged is not None:
                on_diverged()
        raise TrainingDiverged(result.diverged + kept)
