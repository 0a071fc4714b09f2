"""The training loop: Adam, gradient clipping, optional class weights, validation each epoch, best
epoch kept, early stop.

The loop is general and silent: progress goes out through Callbacks (the minGPT habit), and its
whole state can be captured after any step (checkpoint.py) and restored, so an interrupted run
resumed from a checkpoint ends with the same weights as an uninterrupted one. It never writes
files; runs.py decides where checkpoints go.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from reviewrnn import checkpoint
from reviewrnn.averaging import WeightAverage
from reviewrnn.callbacks import Callbacks, ignore
from reviewrnn.config import TrainConfig
from reviewrnn.data import EncodedSet, length_grouped_batches, pad_batch
from reviewrnn.errors import ReviewRNNError
from reviewrnn.model import predict_probabilities
from reviewrnn.runtime import Distributed
from reviewrnn.threadtune import ThreadTuner
from reviewrnn.trainstate import Divergence, EpochEnd, EpochReport, StepReport, TrainResult, TrainState

LR_FLOOR = 0.05
VALID_CHUNK = 16_384  # VALID reviews scored at once on CPU


def _validate(model, valid: EncodedSet, config: TrainConfig, device) -> tuple[float, float]:
    probabilities = _valid_probabilities(model, valid, config.batch_size * 4, device)
    chosen = probabilities[np.arange(len(valid)), valid.labels]
    accuracy = float((probabilities.argmax(1) == valid.labels).mean())
    return accuracy, float(-np.log(np.clip(chosen, 1e-12, 1.0)).mean())


def _valid_probabilities(model, valid: EncodedSet, batch_size: int, device) -> np.ndarray:
    """(N, K) on CPU through predict's numpy pass (fastforward.py), on the threads training runs on: VALID
    took 10 s of each `make run` epoch's end through torch's forward on the AVX2 Zen 3. The two agree to
    float32 rounding (tests: 1e-5); elsewhere, and for an empty review, the torch model. VALID goes in
    chunks of VALID_CHUNK reviews, so an --on-disk VALID is never all in memory (a row's bits do not
    depend on its chunk)."""
    if device.type != "cpu" or not len(valid) or valid.lengths.min() == 0:
        return predict_probabilities(model, valid, batch_size, device)
    from reviewrnn.fastforward import FastClassifier

    model.eval()  # as predict_probabilities leaves it: the loop sets train() again at each epoch's start
    weights = {name: tensor.detach().numpy() for name, tensor in model.state_dict().items()}
    engine = FastClassifier(model.config, weights, threads=torch.get_num_threads())
    try:
        chunks = [engine.score(valid.ids[start : start + VALID_CHUNK]) for start in range(0, len(valid), VALID_CHUNK)]
    finally:
        engine.close()
    return np.concatenate(chunks).astype(np.float64)


def class_weights(labels: np.ndarray, num_classes: int, mode: str) -> np.ndarray | None:
    """Per-class loss weights (K,) for --class-weights: 'balanced' is n / (K * count_c) on TRAIN
    (scikit-learn's rule), so every class adds as much to the loss as a balanced corpus would."""
    if mode == "none":
        return None
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=num_classes)
    if (counts == 0).any():
        raise ReviewRNNError(f"--class-weights {mode}: class {int(np.argmin(counts))} has no TRAIN reviews; use none")
    return len(labels) / (num_classes * counts)


def summed_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Sum over the batch of each review's cross-entropy times its class's weight (1 without weights).

    The caller divides by the number of reviews, not by the sum of weights: the mean stays an
    average over reviews, so DDP's shards add up to the same loss.
    """
    return nn.functional.cross_entropy(logits, labels, weight=weights, reduction="sum")


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
    callbacks = Callbacks(step=on_step or ignore, epoch=on_epoch or ignore)
    return Trainer(model, train, valid, config, device, rng).run(callbacks)


class Trainer:
    """One training run whose state can be checkpointed after any step and restored exactly."""

    def __init__(
        self,
        model: nn.Module,
        train: EncodedSet,
        valid: EncodedSet,
        config: TrainConfig,
        device: torch.device,
        rng: np.random.Generator,
        distributed: Distributed | None = None,
    ):
        self.model, self.train, self.valid, self.config = model.to(device), train, valid, config
        self.device, self.rng = device, rng
        self.distributed = distributed or Distributed()
        # Under torchrun the same loop runs in every process; DDP sums gradients during backward.
        self.network = self.distributed.wrap(self.model, device)
        self.steps_per_epoch = math.ceil(len(train) / config.batch_size)
        self.optimizer = make_optimizer(model, config)
        self.scheduler = make_scheduler(self.optimizer, config, self.steps_per_epoch)
        self.state = TrainState()
        self.best_state: dict[str, torch.Tensor] | None = None
        self.average = WeightAverage(model.parameters(), config.ema) if config.ema > 0 else None
        self.divergence: Divergence | None = None
        self.tuner = thread_tuner(config, device, self.distributed)
        self.class_weights = None  # (K,) loss weight per class under --class-weights balanced
        if config.class_weights != "none":
            weights = class_weights(train.labels, model.config.num_classes, config.class_weights)
            self.class_weights = torch.tensor(weights, dtype=torch.float32, device=device)

    def run(
        self,
        callbacks: Callbacks | None = None,
        on_checkpoint: Callable[[Trainer], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> TrainResult:
        """Train until the last epoch, early stopping, divergence, or `should_stop()` after a step."""
        state, callbacks = self.state, callbacks or Callbacks()
        while not state.done and state.epoch <= self.config.epochs:
            end = self._run_epoch(callbacks, should_stop)
            if end is not EpochEnd.FINISHED:
                return self._result(interrupted=end is EpochEnd.STOPPED)
            callbacks.epoch(self._finish_epoch())
            if on_checkpoint:
                on_checkpoint(self)
        return self._result()

    def checkpoint(self) -> tuple[dict, dict]:
        """(JSON-friendly state, named arrays): everything needed to continue exactly from here."""
        return checkpoint.capture(self)

    def restore(self, state: dict, arrays: dict) -> None:
        """Inverse of checkpoint(); the model and data must be built exactly as for the original run."""
        checkpoint.restore(self, state, arrays)

    def _result(self, interrupted: bool = False) -> TrainResult:
        state = self.state
        early = state.done and state.epoch <= self.config.epochs
        return TrainResult(
            state.history, self.best_state, state.best_epoch, state.best_accuracy, early, self.divergence, interrupted
        )

    def _epoch_batches(self) -> list[np.ndarray]:
        """This epoch's batches, in the same order when an epoch is resumed half-way."""
        state = self.state
        if state.epoch_rng is None:  # a new epoch: remember how its batch order starts
            state.epoch_rng = copy.deepcopy(self.rng.bit_generator.state)
        else:  # resuming inside an epoch: replay its batch order from the generator state at its start
            self.rng.bit_generator.state = copy.deepcopy(state.epoch_rng)
        return length_grouped_batches(self.train.lengths, self.config.batch_size, self.rng)

    def _run_epoch(self, callbacks: Callbacks, should_stop: Callable[[], bool]) -> EpochEnd:
        """Continue the epoch in progress until its end, a stop request or divergence."""
        state, batches = self.state, self._epoch_batches()
        self.model.train()
        for indices in batches[state.step :]:
            if self.distributed.any(should_stop()):
                return EpochEnd.STOPPED
            started = time.perf_counter()
            shard = self.distributed.shard(indices)
            if shard is None:  # too small to give every rank a review: skipped by all ranks alike
                state.step += 1
                continue
            ids, lengths = pad_batch([self.train.ids[i] for i in shard])
            self.divergence = self._step(ids, lengths, self.train.labels[shard], len(indices))
            if self.divergence is not None:
                return EpochEnd.DIVERGED
            seconds = time.perf_counter() - started
            state.progress.seconds += seconds
            state.step += 1
            if self.tuner is not None and (message := self.tuner.observe(seconds, int(lengths.sum()))):
                callbacks.stage(message)
            callbacks.step(state.progress.step_report(state.epoch, state.step, len(batches)))
        return EpochEnd.FINISHED

    def _step(self, ids: np.ndarray, lengths: np.ndarray, labels: np.ndarray, global_size: int) -> Divergence | None:
        """One optimiser step on this rank's shard of a global batch; the step is not taken on divergence."""
        config, world = self.config, self.distributed.world_size
        ids_t, lengths_t, labels_t = (torch.from_numpy(a).to(self.device) for a in (ids, lengths, labels))
        logits = self.network(ids_t, lengths_t)  # (b, K): this rank's shard of the global batch
        summed = summed_loss(logits, labels_t, self.class_weights)
        self.optimizer.zero_grad(set_to_none=True)
        # The mean over the global batch: DDP divides the gradients it sums over ranks by the world size.
        (summed * (world / global_size)).backward()
        loss_sum, hits = self.distributed.all_reduce_sum([summed.item(), float((logits.argmax(1) == labels_t).sum())])
        loss = torch.tensor(loss_sum / global_size).item()  # rounded to float32, as the history always was
        # Gradients are already combined over ranks here, so every rank clips the same global gradient.
        # Clipping rescales the whole gradient when its norm exceeds clip_norm: it prevents the
        # exploding gradients that backpropagation through time produces in recurrent networks.
        limit = config.clip_norm if config.clip_norm > 0 else math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), limit))
        if not math.isfinite(loss) or not math.isfinite(norm):
            return Divergence(self.state.epoch, self.state.step + 1, loss, norm)
        self.optimizer.step()
        self.scheduler.step()
        if self.average is not None:
            self.average.update((self.state.epoch - 1) * self.steps_per_epoch + self.state.step)
        clipped = config.clip_norm > 0 and norm > config.clip_norm
        self.state.progress.add_step(loss, norm, clipped, int(lengths.sum()), int(hits), global_size)
        return None

    def _finish_epoch(self) -> EpochReport:
        """Validate (with the averaged weights under --ema), keep the best epoch, decide whether to stop."""
        state = self.state
        with self.average.applied() if self.average else contextlib.nullcontext():
            valid_accuracy, valid_loss = _validate(self.model, self.valid, self.config, self.device)
            candidate = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        improved = valid_accuracy > state.best_accuracy
        report = state.progress.epoch_report(state.epoch, valid_accuracy, valid_loss, improved)
        if improved:
            self.best_state = candidate
        state.close_epoch(report, self.config.patience, self.config.epochs)
        return report


def thread_tuner(config: TrainConfig, device: torch.device, distributed: Distributed) -> ThreadTuner | None:
    """Time all cores against one thread during training (threadtune.py), only where the thread
    count was left to us: CPU, one process, no --threads, more than one core."""
    if config.threads is not None or device.type != "cpu" or distributed.world_size > 1:
        return None
    most = torch.get_num_threads()
    return ThreadTuner(most, torch.set_num_threads) if most > 1 else None


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam; the fused implementation (one kernel for all parameters) is ~10% faster per step here."""
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)


def make_scheduler(optimizer, config: TrainConfig, steps_per_epoch: int):
    """'linear' decays the learning rate to LR_FLOOR of its start over all epochs; 'constant' keeps it."""
    total = max(1, config.epochs * steps_per_epoch)
    if config.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(LR_FLOOR, 1.0 - step / total))
