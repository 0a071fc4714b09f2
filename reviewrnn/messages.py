"""The one-line texts that tell a user what happened to a run and what to type next, built from plain data.

The training loop reports facts (a Divergence, a step count); the words and the advice live here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the words depend on the facts' type only: trainstate imports this module for its messages
    from reviewrnn.trainstate import Divergence


def diverged(divergence: Divergence) -> str:
    return (
        f"training diverged at epoch {divergence.epoch}, step {divergence.step} (loss {divergence.loss:.4g}, "
        f"gradient norm {divergence.grad_norm:.4g}); try a lower --lr or turn clipping on with --clip-norm 1"
    )


def best_epoch_kept(best_epoch: int, directory: Path) -> str:
    return f"; the best epoch ({best_epoch}) is saved in {directory}"


def interrupted_before_replacing(epoch: int, step: int, directory: Path) -> str:
    return (
        f"stopped at epoch {epoch}, step {step}, before its first epoch finished; {directory} still holds "
        "the model it was to replace, and nothing of this run was saved; run the command again to start over"
    )


def interrupted(epoch: int, step: int, directory: Path, command: str = "train") -> str:
    return (
        f"stopped at epoch {epoch}, step {step}; checkpoint saved in {directory}"
        f"; resume with: reviewrnn {command} --resume {directory}"
    )


def unused_thresholds(unused: dict, command: str = "predict") -> str:
    """An ensemble's members' saved thresholds, {directory: threshold}, which its mean does not use. Only
    predict has --threshold: evaluate's note had advised a flag it does not take."""
    saved = ", ".join(f"{directory}: {value:.4g}" for directory, value in unused.items())
    advice = "give --threshold to set one for it" if command == "predict" else "predict --threshold sets one for it"
    return (
        f"saved thresholds not used ({saved}): an ensemble takes the most probable label of the members' "
        f"mean probabilities; {advice}"
    )


def already_finished(
    directory: Path, schedule: str, epochs: int, command: str = "train", stopped_early: bool = False
) -> str:
    """A finished run resumed without --epochs: how to go on, which only a constant learning rate and a run not
    stopped by --patience allow (a trial followed the advice to add --epochs and was refused)."""
    if stopped_early:
        return (
            f"{directory}: this run already finished, stopped early by --patience, so more epochs would have "
            f"stopped there too; for another run start a new one with `reviewrnn {command}` and the settings in "
            f"{directory}/config.json"
        )
    if schedule == "constant":
        return (
            f"{directory}: this run already finished; {command} it further with `reviewrnn {command} --resume "
            f"{directory} --epochs N`, or start a new one with `reviewrnn {command}`"
        )
    return (
        f"{directory}: this run already finished, and its learning rate decayed over its {epochs} epoch(s) "
        f"(--schedule {schedule}), so it cannot go on; for more epochs start a new one with `reviewrnn {command} "
        f"--epochs N` and the settings in {directory}/config.json"
    )


def stopped_early(best_epoch: int, patience: int, epochs: int, measure: str) -> str:
    """Why the epoch table ended before --epochs: the run had waited --patience epochs for a better one."""
    return (
        f"stopped after epoch {best_epoch + patience} of {epochs}: {patience} epoch{'s' if patience != 1 else ''} in "
        f"a row did not beat epoch {best_epoch}'s {measure} (--patience {patience})"
    )
