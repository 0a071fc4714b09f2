"""What a training run knows about itself, as plain data: reports, running sums, best epoch, why it ended.

No torch here: checkpoints keep this state as JSON, and the CLI and the lab read the reports.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from reviewrnn.errors import FlagError, ReviewRNNError

if TYPE_CHECKING:
    from reviewrnn.config import RunConfig


@dataclass
class StepReport:
    epoch: int
    step: int
    steps: int
    loss: float
    running_accuracy: float
    tokens_per_s: float
    grad_norm: float


@dataclass
class EpochReport:
    epoch: int
    train_loss: float
    train_accuracy: float
    valid_accuracy: float
    valid_loss: float
    grad_norm_mean: float
    grad_norm_max: float
    clipped_share: float
    seconds: float
    tokens_per_s: float
    improved: bool
    step_losses: list[float] = field(default_factory=list, repr=False)
    step_grad_norms: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Divergence:
    """Where the loss or the gradient norm stopped being finite; the step was not taken."""

    epoch: int
    step: int  # 1-based, within the epoch
    loss: float
    grad_norm: float


class EpochEnd(enum.Enum):
    """How a call to continue the epoch in progress ended."""

    FINISHED = "finished"  # every batch done: validate next
    STOPPED = "stopped"  # stopped on request at a step boundary
    DIVERGED = "diverged"  # a non-finite loss or gradient


@dataclass
class TrainResult:
    history: list[EpochReport]
    best_state: dict | None  # name -> torch.Tensor on the CPU, or None before any epoch finished
    best_epoch: int
    best_valid_accuracy: float
    stopped_early: bool
    divergence: Divergence | None = None
    interrupted: bool = False  # stopped on request at a step boundary; resumable from a checkpoint

    @property
    def diverged(self) -> str | None:
        """Why training stopped on a non-finite loss or gradient, as the one line the user sees."""
        from reviewrnn.messages import diverged

        return None if self.divergence is None else diverged(self.divergence)


@dataclass
class EpochProgress:
    """Running sums of the epoch in progress: kept in checkpoints so a resumed epoch reports the same."""

    losses: list[float] = field(default_factory=list)
    norms: list[float] = field(default_factory=list)
    tokens: int = 0
    hits: int = 0
    seen: int = 0
    clipped: int = 0
    seconds: float = 0.0

    def add_step(self, loss: float, norm: float, clipped: bool, tokens: int, hits: int, seen: int) -> None:
        self.losses.append(loss)
        self.norms.append(norm)
        self.clipped += clipped
        self.tokens += tokens
        self.hits += hits
        self.seen += seen

    def step_report(self, epoch: int, step: int, steps: int) -> StepReport:
        tokens_per_s = self.tokens / max(self.seconds, 1e-9)
        return StepReport(epoch, step, steps, self.losses[-1], self.hits / self.seen, tokens_per_s, self.norms[-1])

    def epoch_report(self, epoch: int, valid_accuracy: float, valid_loss: float, improved: bool) -> EpochReport:
        return EpochReport(
            epoch=epoch,
            train_loss=float(np.mean(self.losses)),
            train_accuracy=self.hits / max(self.seen, 1),
            valid_accuracy=valid_accuracy,
            valid_loss=valid_loss,
            grad_norm_mean=float(np.mean(self.norms)),
            grad_norm_max=float(np.max(self.norms)),
            clipped_share=self.clipped / max(len(self.norms), 1),
            seconds=self.seconds,
            tokens_per_s=self.tokens / max(self.seconds, 1e-9),
            improved=improved,
            step_losses=self.losses,
            step_grad_norms=self.norms,
        )


@dataclass
class TrainState:
    """Where training stands, as JSON-friendly values (tensors travel separately)."""

    epoch: int = 1  # the epoch in progress, or the next one to run
    step: int = 0  # steps already taken in that epoch
    epoch_rng: dict | None = None  # numpy generator state at the start of `epoch`: replays its batch order
    progress: EpochProgress = field(default_factory=EpochProgress)
    history: list[EpochReport] = field(default_factory=list)
    best_epoch: int = 0
    best_accuracy: float = -1.0
    waited: int = 0
    done: bool = False

    def close_epoch(self, report: EpochReport, patience: int, last_epoch: int) -> None:
        """Model selection and early stopping: keep the best epoch, stop after `patience` without a better one."""
        if report.improved:
            self.best_epoch, self.best_accuracy, self.waited = self.epoch, report.valid_accuracy, 0
        else:
            self.waited += 1
        self.history.append(report)
        self.done = self.waited >= patience or self.epoch == last_epoch
        self.epoch, self.step, self.progress, self.epoch_rng = self.epoch + 1, 0, EpochProgress(), None

    @classmethod
    def from_dict(cls, state: dict) -> TrainState:
        """Inverse of dataclasses.asdict()."""
        state = dict(state)
        history = [EpochReport(**epoch) for epoch in state.pop("history")]
        progress = EpochProgress(**state.pop("progress"))
        return cls(**state, history=history, progress=progress)


def extend_run(directory: Path, config: RunConfig, state: dict, epochs: int) -> None:
    """Set a checkpoint's run to go on to `epochs` (Keras' fit(initial_epoch=...)), where that gives the run it
    would have been: a constant learning rate (a linear schedule decays over the epochs it was started with),
    and not stopped early by --patience (another epoch would not have been trained). For a classifier's run
    or a language model's (config.pretrain)."""
    command, measure = ("pretrain", "held-out perplexity") if config.pretrain else ("train", "validation accuracy")
    planned = config.train.epochs
    if epochs == planned and not state.get("done"):
        return  # the same command again after an interrupted extension: a plain resume
    if state.get("done") and state.get("waited", 0) >= config.train.patience:  # first: no --epochs helps then
        raise ReviewRNNError(
            f"{directory}: {measure} had not improved for {state['waited']} epoch(s) (--patience "
            f"{config.train.patience}), so a run of {epochs} epochs would have stopped there too"
        )
    if epochs <= planned:
        raise FlagError(f"--epochs {epochs}: {directory} is set to train {planned} epochs; give more to extend it")
    if config.train.schedule != "constant":
        raise ReviewRNNError(
            f"{directory}: its learning rate decays over the {planned} epoch(s) it was started with "
            f"(--schedule {config.train.schedule}); a longer run needs a new one: `reviewrnn {command} --epochs "
            f"{epochs}` with the settings in {directory}/config.json"
        )
    config.train.epochs, state["done"] = epochs, False
