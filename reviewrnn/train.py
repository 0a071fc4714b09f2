"""The training loop: Adam, gradient clipping, validation each epoch, best epoch kept, early stop.

The loop is general and silent; whoever calls it draws progress from the `on_step`/`on_epoch`
callbacks (the minGPT habit). It never writes files.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from reviewrnn.config import TrainConfig
from reviewrnn.data import EncodedSet, iterate_batches

LR_FLOOR = 0.05


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
class TrainResult:
    history: list[EpochReport]
    best_state: dict[str, torch.Tensor] | None
    best_epoch: int
    best_valid_accuracy: float
    stopped_early: bool
    diverged: str | None = None  # why training stopped on a non-finite loss or gradient


def predict_probabilities(model: nn.Module, encoded: EncodedSet, batch_size: int, device: torch.device) -> np.ndarray:
    """Class probabilities (N, K) in the set's own order, computed in length-sorted batches."""
    model.eval()
    output = np.zeros((len(encoded), model.config.num_classes), dtype=np.float64)
    with torch.inference_mode():
        for indices, ids, lengths, _ in iterate_batches(encoded, batch_size):
            logits = model(torch.from_numpy(ids).to(device), torch.from_numpy(lengths).to(device))
            output[indices] = torch.softmax(logits.float(), dim=1).cpu().numpy()
    return output


def _validate(model, valid: EncodedSet, config: TrainConfig, device) -> tuple[float, float]:
    probabilities = predict_probabilities(model, valid, config.batch_size * 4, device)
    chosen = probabilities[np.arange(len(valid)), valid.labels]
    accuracy = float((probabilities.argmax(1) == valid.labels).mean())
    return accuracy, float(-np.log(np.clip(chosen, 1e-12, 1.0)).mean())


def train_model(
    model: nn.Module,
    train: EncodedSet,
    valid: EncodedSet,
    config: TrainConfig,
    device: torch.device,
    rng: np.random.Generator,
    on_step: Callable[[StepReport], None] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> TrainResult:
    """Train with early stopping on validation accuracy; return the history and the best weights."""
    model.to(device)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, math.ceil(len(train) / config.batch_size))
    loss_fn = nn.CrossEntropyLoss()
    history: list[EpochReport] = []
    best_state, best_epoch, best_accuracy, waited = None, 0, -1.0, 0
    for epoch in range(1, config.epochs + 1):
        report = _run_epoch(model, train, config, device, rng, optimizer, scheduler, loss_fn, epoch, on_step)
        if isinstance(report, str):
            return TrainResult(history, best_state, best_epoch, best_accuracy, False, diverged=report)
        report.valid_accuracy, report.valid_loss = _validate(model, valid, config, device)
        report.improved = report.valid_accuracy > best_accuracy
        if report.improved:
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            best_epoch, best_accuracy, waited = epoch, report.valid_accuracy, 0
        else:
            waited += 1
        history.append(report)
        if on_epoch:
            on_epoch(report)
        if waited >= config.patience:
            return TrainResult(history, best_state, best_epoch, best_accuracy, stopped_early=True)
    return TrainResult(history, best_state, best_epoch, best_accuracy, stopped_early=False)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam; the fused implementation (one kernel for all parameters) is ~10% faster per step here."""
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)


def make_scheduler(optimizer, config: TrainConfig, steps_per_epoch: int):
    """'linear' decays the learning rate to LR_FLOOR of its start over all epochs; 'constant' keeps it."""
    total = max(1, config.epochs * steps_per_epoch)
    if config.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(LR_FLOOR, 1.0 - step / total))


def _run_epoch(
    model, train: EncodedSet, config: TrainConfig, device, rng, optimizer, scheduler, loss_fn, epoch: int, on_step
) -> EpochReport | str:
    """One pass over TRAIN; returns the epoch's report, or a message if the loss or gradient blew up."""
    model.train()
    started = time.perf_counter()
    steps = math.ceil(len(train) / config.batch_size)
    losses, norms, tokens, hits, seen, clipped = [], [], 0, 0, 0, 0
    for step, (_, ids, lengths, labels) in enumerate(iterate_batches(train, config.batch_size, rng), start=1):
        ids_t, lengths_t, labels_t = (torch.from_numpy(a).to(device) for a in (ids, lengths, labels))
        logits = model(ids_t, lengths_t)  # (B, K)
        loss = loss_fn(logits, labels_t)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # Clipping rescales the whole gradient when its norm exceeds clip_norm: it prevents the
        # exploding gradients that backpropagation through time produces in recurrent networks.
        limit = config.clip_norm if config.clip_norm > 0 else math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), limit))
        if not math.isfinite(loss.item()) or not math.isfinite(norm):
            return (
                f"training diverged at epoch {epoch}, step {step} (loss {loss.item():.4g}, gradient norm "
                f"{norm:.4g}); try a lower --lr or turn clipping on with --clip-norm 1"
            )
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        norms.append(norm)
        clipped += config.clip_norm > 0 and norm > config.clip_norm
        tokens += int(lengths.sum())
        hits += int((logits.argmax(1) == labels_t).sum())
        seen += len(labels)
        if on_step:
            elapsed = time.perf_counter() - started
            on_step(StepReport(epoch, step, steps, loss.item(), hits / seen, tokens / max(elapsed, 1e-9), norm))
    seconds = time.perf_counter() - started
    return EpochReport(
        epoch=epoch,
        train_loss=float(np.mean(losses)),
        train_accuracy=hits / max(seen, 1),
        valid_accuracy=float("nan"),
        valid_loss=float("nan"),
        grad_norm_mean=float(np.mean(norms)),
        grad_norm_max=float(np.max(norms)),
        clipped_share=clipped / max(len(norms), 1),
        seconds=seconds,
        tokens_per_s=tokens / max(seconds, 1e-9),
        improved=False,
        step_losses=losses,
        step_grad_norms=norms,
    )
