"""The language model's training loop: train.py's Trainer with a next-token loss and held-out perplexity.

Batching, stop requests, checkpoints and exact resume are the Trainer's own (train.py, checkpoint.py).
The reports keep their classifier field names: `valid_loss` is the held-out loss in nats per predicted
token, and the `*_accuracy` fields hold exp(-loss) = 1 / perplexity, the geometric-mean probability
given to the next token, so "higher is better" model selection and early stopping work unchanged.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from reviewrnn.data import EncodedSet, length_grouped_batches, pad_batch
from reviewrnn.lm import LanguageModel
from reviewrnn.train import Trainer
from reviewrnn.trainstate import Divergence, EpochReport

EVAL_BATCH_FACTOR = 4  # held-out batches are this many times the training batch: no gradients to keep


def chunk_texts(rows: list[np.ndarray], length: int) -> EncodedSet:
    """Each review's ids cut into pieces of at most `length` tokens (pieces of one token predict nothing
    and are dropped), as an EncodedSet whose labels are unused. Every piece starts from a zero state,
    as the classifier reads a review, so the fast recurrent kernels apply unchanged."""
    pieces = [row[start : start + length] for row in rows for start in range(0, len(row), length)]
    pieces = [piece for piece in pieces if len(piece) >= 2]
    lengths = np.fromiter((len(piece) for piece in pieces), dtype=np.int64, count=len(pieces))
    return EncodedSet(pieces, lengths, np.zeros(len(pieces), dtype=np.int64))


def token_counts(chunks: EncodedSet, vocab_size: int) -> torch.Tensor:
    """How often each id occurs in the training chunks: the adaptive softmax's frequency order."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    for piece in chunks.ids:
        counts += np.bincount(piece, minlength=vocab_size)
    return torch.from_numpy(counts)


@torch.no_grad()
def held_out_loss(model: LanguageModel, chunks: EncodedSet, batch_size: int, device) -> float:
    """Mean negative log-likelihood per predicted token (both directions) over `chunks`, in eval mode."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for indices in length_grouped_batches(chunks.lengths, batch_size):
        ids, lengths = pad_batch([chunks.ids[i] for i in indices])
        summed, predicted = model(torch.from_numpy(ids).to(device), torch.from_numpy(lengths).to(device))
        total, count = total + float(summed), count + predicted
    model.train(was_training)
    return total / max(count, 1)


class LMTrainer(Trainer):
    """A Trainer whose step minimises the next-token loss and whose epoch ends with held-out perplexity.

    Built as Trainer(model, train chunks, held-out chunks, config, device, rng); `self.valid` is the held-out text.
    """

    def _step(self, ids: np.ndarray, lengths: np.ndarray, labels: np.ndarray, global_size: int) -> Divergence | None:
        """One optimiser step on the mean loss per predicted token; not taken on a non-finite loss or gradient."""
        ids_t, lengths_t = torch.from_numpy(ids).to(self.device), torch.from_numpy(lengths).to(self.device)
        summed, predicted = self.network(ids_t, lengths_t)
        mean = summed / max(predicted, 1)
        self.optimizer.zero_grad(set_to_none=True)
        mean.backward()
        loss = float(mean.detach())
        # Clipping rescales the whole gradient when its norm exceeds clip_norm: backpropagation through
        # time otherwise lets a rare long chunk blow the weights up.
        limit = self.config.clip_norm if self.config.clip_norm > 0 else math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), limit))
        if not math.isfinite(loss) or not math.isfinite(norm):
            return Divergence(self.state.epoch, self.state.step + 1, loss, norm)
        self.optimizer.step()
        self.scheduler.step()
        clipped = self.config.clip_norm > 0 and norm > self.config.clip_norm
        self.state.progress.add_step(loss, norm, clipped, int(lengths.sum()), 0, max(predicted, 1))
        return None

    def _finish_epoch(self) -> EpochReport:
        """Held-out loss; the epoch with the lowest one is kept (its 1 / perplexity is the highest)."""
        state = self.state
        loss = held_out_loss(self.model, self.valid, self.config.batch_size * EVAL_BATCH_FACTOR, self.device)
        improved = all(loss < epoch.valid_loss for epoch in state.history)
        report = state.progress.epoch_report(state.epoch, math.exp(-loss), loss, improved)
        report = dataclasses.replace(report, train_accuracy=math.exp(-report.train_loss))
        if improved:
            self.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
        state.close_epoch(report, self.config.patience, self.config.epochs)
        return report


def perplexity(report: EpochReport) -> float:
    """The held-out perplexity an LM epoch report stands for."""
    return math.exp(report.valid_loss)
