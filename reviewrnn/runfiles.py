"""What a classifier's training run writes as it goes: the model directory swapped in after every epoch
(best weights, history, checkpoint), and the epoch that diverged, for `reviewrnn clipping`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reviewrnn.artifacts import EVAL_FILE, FAMILIARITY_FILES, HISTORY_FILE, save_run
from reviewrnn.atomic import atomic_write_json
from reviewrnn.config import RunConfig
from reviewrnn.domain import DOMAIN_FILE
from reviewrnn.seen import SEEN_FILE


def saver(config: RunConfig, tokenizer_json: str, directory: Path, distributed, checkpoint) -> Callable:
    """The checkpoint callback: the best weights, history and trainer state, swapped in after every epoch.

    A resumed run keeps what after_training fitted last time until it fits them again (a run stopped while
    extending leaves a model as usable as before), and its TEST report while the weights are those it scored.
    """
    carried = (DOMAIN_FILE, SEEN_FILE, *FAMILIARITY_FILES) if checkpoint is not None else ()
    resumed_best = checkpoint[0].get("best_epoch") if checkpoint is not None else None

    def save(current) -> None:
        if not distributed.is_main:
            return
        best = None if current.best_state is None else {k: v.numpy() for k, v in current.best_state.items()}
        history = [epoch.to_dict() for epoch in current.state.history]
        same_weights = bool(resumed_best) and current.state.best_epoch == resumed_best
        kept = carried + ((EVAL_FILE,) if same_weights else ())
        save_run(directory, config, tokenizer_json, history, best, current.checkpoint(), kept)

    return save


def record_diverged_epoch(directory: Path, trainer, message: str) -> None:
    """Append the epoch that diverged to history.json: its steps up to the bad one, and why it stopped,
    so `reviewrnn clipping` can show what led to the explosion."""
    progress = trainer.state.progress
    history = [epoch.to_dict() for epoch in trainer.state.history]
    history.append(
        {
            "epoch": trainer.state.epoch,
            "diverged": message,
            "step_losses": progress.losses,
            "step_grad_norms": progress.norms,
        }
    )
    atomic_write_json(Path(directory) / HISTORY_FILE, history)
