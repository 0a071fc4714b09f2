"""How familiar a review reads to the language model its classifier started from. numpy only.

A classifier trained with `train --init LM_DIR` keeps that LM's forward direction beside its weights
(familiarity.safetensors: embedding, forward layers, adaptive softmax, output order) and the mean
per-token loss of up to REFERENCE_REVIEWS TRAIN reviews under it (familiarity.json). A review's
familiarity is the percentage of those TRAIN reviews the LM found harder to predict: about 50 for a
review like TRAIN's, near 0 for text unlike anything it read. Unlike the rare-token share (domain.py),
it notices plain English that is not a review: every word is common, but not in that order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from reviewrnn.config import ModelConfig
from reviewrnn.errors import ReviewRNNError
from reviewrnn.inference import NumpyClassifier

WEIGHTS_FILE = "familiarity.safetensors"
PROFILE_FILE = "familiarity.json"
REFERENCE_REVIEWS = 2000  # TRAIN reviews whose losses make the reference distribution
BATCH = 64  # reviews run through the LM together, sorted by length so that they pad little
KEPT = ("embedding.", "forward_layers.", "forward_softmax.", "output_order")


class Familiarity:
    """The forward LM and TRAIN's reference losses (sorted)."""

    def __init__(self, shape: ModelConfig, weights: dict[str, np.ndarray], reference: np.ndarray):
        self.encoder = NumpyClassifier(shape, weights)
        self.order = weights["output_order"].astype(np.int64)  # token id -> frequency rank (adaptive softmax)
        self.head = np.ascontiguousarray(weights["forward_softmax.head.weight"].T)  # (H, shortlist + clusters)
        self.tails = []  # per cluster: (H, width) @ (width, size), and its first rank
        start = self.head.shape[1] - _clusters(weights)
        for k in range(_clusters(weights)):
            down, up = weights[f"forward_softmax.tail.{k}.0.weight"], weights[f"forward_softmax.tail.{k}.1.weight"]
            self.tails.append((np.ascontiguousarray(down.T), np.ascontiguousarray(up.T), start))
            start += up.shape[0]
        self.reference = np.sort(reference.astype(np.float64))

    def losses(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        """(N,) mean negative log-likelihood (nats) of each review's tokens after its first; NaN under 2 tokens."""
        result = np.full(len(sequences), np.nan)
        lengths = np.array([len(ids) for ids in sequences], dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        order = order[lengths[order] >= 2]
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            result[rows] = self._batch([np.asarray(sequences[i], dtype=np.int64) for i in rows])
        return result

    def percentiles(self, losses: np.ndarray) -> np.ndarray:
        """(N,) share of TRAIN reference reviews (in %) with a higher loss; NaN stays NaN."""
        higher = len(self.reference) - np.searchsorted(self.reference, losses, side="right")
        return np.where(np.isnan(losses), np.nan, 100.0 * higher / len(self.reference))

    def _batch(self, sequences: list[np.ndarray]) -> np.ndarray:
        lengths = np.array([len(ids) for ids in sequences], dtype=np.int64)
        ids = np.zeros((len(sequences), int(lengths.max())), dtype=np.int64)
        for row, sequence in enumerate(sequences):
            ids[row, : len(sequence)] = sequence
        states, _ = self.encoder.hidden_states(ids, lengths)  # (B, T, H): state t has read tokens 0..t
        keep = np.arange(ids.shape[1] - 1)[None, :] < (lengths - 1)[:, None]  # (B, T-1): a next token exists
        logp = self._log_probabilities(states[:, :-1][keep], self.order[ids[:, 1:][keep]])
        totals = np.zeros(len(sequences))
        np.add.at(totals, np.nonzero(keep)[0], -logp)
        return totals / (lengths - 1)

    def _log_probabilities(self, states: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """log p(target rank) under the adaptive softmax (torch's AdaptiveLogSoftmaxWithLoss): (N, H), (N,) -> (N,)."""
        head = _log_softmax(states @ self.head)  # (N, shortlist + clusters)
        shortlist = self.head.shape[1] - len(self.tails)
        result = np.empty(len(targets), dtype=np.float64)
        inside = targets < shortlist
        result[inside] = head[inside, targets[inside]]
        for k, (down, up, first) in enumerate(self.tails):
            rows = np.flatnonzero((targets >= first) & (targets < first + up.shape[1]))
            if len(rows):
                tail = _log_softmax((states[rows] @ down) @ up)
                result[rows] = head[rows, shortlist + k] + tail[np.arange(len(rows)), targets[rows] - first]
        return result


def _clusters(weights: dict[str, np.ndarray]) -> int:
    return sum(1 for name in weights if name.startswith("forward_softmax.tail.") and name.endswith(".0.weight"))


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def forward_shape(lm: ModelConfig) -> ModelConfig:
    """The LM's forward direction as a one-way encoder (what NumpyClassifier.hidden_states runs)."""
    return ModelConfig(
        cell=lm.cell, vocab_size=lm.vocab_size, embed=lm.embed, hidden=lm.hidden, layers=lm.layers, bidirectional=False
    )


def save_familiarity(directory: Path, init, train_ids: Sequence[np.ndarray]) -> None:
    """Keep the LM's forward direction in `directory` with the losses of TRAIN's first REFERENCE_REVIEWS reviews.

    `init` is the run's InitInfo: the LM's weights are read as its sha256 recorded them."""
    import os

    from safetensors.numpy import save_file

    from reviewrnn.artifacts import atomic_write_json, load_config
    from reviewrnn.transfer import lm_weights

    weights = {name: value for name, value in lm_weights(init).items() if name.startswith(KEPT)}
    shape = forward_shape(load_config(Path(init.path)).model)
    sample = [np.asarray(ids) for ids in list(train_ids)[:REFERENCE_REVIEWS]]
    losses = Familiarity(shape, weights, np.zeros(1)).losses(sample)
    reference = np.sort(losses[~np.isnan(losses)])
    if not len(reference):
        raise ReviewRNNError(f"{directory}: no TRAIN review of 2 tokens or more to measure familiarity against")
    partial = Path(directory) / (WEIGHTS_FILE + ".partial")
    save_file(weights, str(partial))
    os.replace(partial, Path(directory) / WEIGHTS_FILE)
    profile = {"model": asdict(shape), "reference_losses": [round(float(x), 6) for x in reference]}
    atomic_write_json(Path(directory) / PROFILE_FILE, profile)


def load_familiarity(directory: Path) -> Familiarity | None:
    """The model's Familiarity, or None when it was not initialised from a language model."""
    directory = Path(directory)
    profile_path, weights_path = directory / PROFILE_FILE, directory / WEIGHTS_FILE
    if not profile_path.is_file() and not weights_path.is_file():
        return None
    try:
        from safetensors.numpy import load_file

        profile = json.loads(profile_path.read_text(encoding="utf-8"))
        weights = load_file(str(weights_path))
        return Familiarity(ModelConfig(**profile["model"]), weights, np.array(profile["reference_losses"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ReviewRNNError(
            f"{directory}: familiarity files unreadable ({type(error).__name__}); retrain with --init to remake them"
        ) from None
