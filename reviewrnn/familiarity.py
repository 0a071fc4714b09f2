"""How familiar a review reads to the language model its classifier started from. numpy only.

A classifier trained with `train --init LM_DIR` keeps that LM's forward direction beside its weights
(familiarity.safetensors: embedding, forward layers, adaptive softmax, output order) and the mean
per-token loss of up to REFERENCE_REVIEWS TRAIN reviews under it (familiarity.json). A review's
familiarity is the percentage of those TRAIN reviews the LM found harder to predict: spread from 0 to
100 with a median near 50 over reviews like TRAIN's, near 0 for text unlike anything it read. Unlike
the rare-token share (domain.py), it notices plain English that is not a review: every word is
common, but not in that order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from reviewrnn import exactrows
from reviewrnn.artifacts import FAMILIARITY_FILES
from reviewrnn.config import ModelConfig
from reviewrnn.errors import ReviewRNNError
from reviewrnn.fastforward import FastClassifier

WEIGHTS_FILE, PROFILE_FILE = FAMILIARITY_FILES
REFERENCE_REVIEWS = 2000  # TRAIN reviews whose losses make the reference distribution
SLICE = 1024  # predicted positions whose softmax is computed together (bounds the memory of the largest cluster)
KEPT = ("embedding.", "forward_layers.", "forward_softmax.", "output_order")


class Familiarity:
    """The forward LM and TRAIN's reference losses (sorted)."""

    def __init__(
        self, shape: ModelConfig, weights: dict[str, np.ndarray], reference: np.ndarray, threads: int | None = None
    ):
        no_head = {"head.weight": np.zeros((shape.num_classes, shape.hidden), np.float32)}
        no_head["head.bias"] = np.zeros(shape.num_classes, np.float32)  # the encoder's states are all it gives
        self.encoder = FastClassifier(shape, {**weights, **no_head}, threads)
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
        scored = [i for i, ids in enumerate(sequences) if len(ids) >= 2]
        if scored:
            rows = [np.asarray(sequences[i], dtype=np.int64) for i in scored]
            result[scored] = self.encoder.reduce_states(rows, self._mean_losses)
        return result

    def percentiles(self, losses: np.ndarray) -> np.ndarray:
        """(N,) share of TRAIN reference reviews (in %) with a higher loss; NaN stays NaN."""
        higher = len(self.reference) - np.searchsorted(self.reference, losses, side="right")
        return np.where(np.isnan(losses), np.nan, 100.0 * higher / len(self.reference))

    def _mean_losses(self, states: np.ndarray, group: list[np.ndarray]) -> np.ndarray:
        """states (T, R, H) after every token of a group's reviews (longest first) -> each one's mean loss."""
        lengths = np.array([len(ids) for ids in group], dtype=np.int64)
        steps = states.shape[0]
        ids = np.zeros((steps, len(group)), dtype=np.int64)  # time-major, as the states
        for row, sequence in enumerate(group):
            ids[: len(sequence), row] = sequence
        keep = np.arange(steps - 1)[:, None] < (lengths - 1)[None, :]  # (T-1, N): state t predicts token t+1
        following = self.order[ids[1:]]  # (T-1, N) the frequency rank of each next token
        # A few steps at a time: a rare token's cluster has 15,000 logits, so a whole group's at once took 2 GB.
        span, predicting = max(1, SLICE // len(group)), states[:-1, : len(group)]  # (T-1, N, H)
        logp = np.concatenate(
            [
                self._log_probabilities(predicting[t : t + span][mask], following[t : t + span][mask])
                for t in range(0, steps - 1, span)
                for mask in [keep[t : t + span]]
            ]
        )
        totals = np.zeros(len(group))
        np.add.at(totals, np.nonzero(keep)[1], -logp)
        return totals / (lengths - 1)

    def _log_probabilities(self, states: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """log p(target rank) under the adaptive softmax (torch's AdaptiveLogSoftmaxWithLoss): (N, H), (N,) -> (N,)."""
        # Row-exact products (exactrows.py): a review's loss must not depend on the reviews beside it.
        head = exactrows.matmul(states, self.head, exactrows.choose(self.head))  # (N, shortlist + clusters)
        head_norm = _log_sum_exp(head)
        shortlist = self.head.shape[1] - len(self.tails)
        result = np.empty(len(targets), dtype=np.float64)
        inside = np.flatnonzero(targets < shortlist)
        result[inside] = head[inside, targets[inside]] - head_norm[inside]
        for k, (down, up, first) in enumerate(self.tails):
            rows = np.flatnonzero((targets >= first) & (targets < first + up.shape[1]))
            if len(rows):
                reduced = exactrows.matmul(states[rows], down, exactrows.choose(down))
                tail = exactrows.matmul(reduced, up, exactrows.choose(up))  # (n, cluster size)
                chosen = tail[np.arange(len(rows)), targets[rows] - first]
                result[rows] = head[rows, shortlist + k] - head_norm[rows] + chosen - _log_sum_exp(tail)
        return result


def _clusters(weights: dict[str, np.ndarray]) -> int:
    return sum(1 for name in weights if name.startswith("forward_softmax.tail.") and name.endswith(".0.weight"))


def _log_sum_exp(logits: np.ndarray) -> np.ndarray:
    """(N, C) -> (N,) log sum exp per row, in float32 (float64 took half the time of a whole review here)."""
    top = logits.max(axis=1)
    return top + np.log(np.exp(logits - top[:, None]).sum(axis=1))


def forward_shape(lm: ModelConfig) -> ModelConfig:
    """The LM's forward direction as a one-way encoder (what Familiarity's FastClassifier runs)."""
    return ModelConfig(
        cell=lm.cell, vocab_size=lm.vocab_size, embed=lm.embed, hidden=lm.hidden, layers=lm.layers, bidirectional=False
    )


def save_familiarity(directory: Path, init, train_ids: Sequence[np.ndarray]) -> None:
    """Keep the LM's forward direction in `directory` with the losses of TRAIN's first REFERENCE_REVIEWS reviews.

    `init` is the run's InitInfo: the LM's weights are read as its sha256 recorded them."""
    from safetensors.numpy import save

    from reviewrnn.artifacts import load_config
    from reviewrnn.atomic import atomic_write_bytes, atomic_write_json
    from reviewrnn.transfer import lm_weights

    weights = {name: value for name, value in lm_weights(init).items() if name.startswith(KEPT)}
    shape = forward_shape(load_config(Path(init.path)).model)
    sample = [np.asarray(ids) for ids in list(train_ids)[:REFERENCE_REVIEWS]]
    losses = Familiarity(shape, weights, np.zeros(1)).losses(sample)
    reference = np.sort(losses[~np.isnan(losses)])
    if not len(reference):
        raise ReviewRNNError(f"{directory}: no TRAIN review of 2 tokens or more to measure familiarity against")
    atomic_write_bytes(Path(directory) / WEIGHTS_FILE, save(weights))
    profile = {"model": asdict(shape), "reference_losses": [round(float(x), 6) for x in reference]}
    atomic_write_json(Path(directory) / PROFILE_FILE, profile)


def load_familiarity(directory: Path, threads: int | None = None) -> Familiarity | None:
    """The model's Familiarity, or None when it was not initialised from a language model.

    Both files are checked before use: the profile's shape and losses, every tensor the forward LM needs
    with its shape; a damaged one is one line naming the file and the fault."""
    directory = Path(directory)
    profile_path, weights_path = directory / PROFILE_FILE, directory / WEIGHTS_FILE
    if not profile_path.is_file() and not weights_path.is_file():
        return None
    shape, reference = _read_profile(profile_path)
    weights = _read_weights(weights_path, shape)
    return Familiarity(shape, weights, reference, threads)


def _damaged(path: Path, fault: str) -> ReviewRNNError:
    return ReviewRNNError(f"{path}: {fault}; retrain with --init to remake it (or delete both familiarity files)")


def _read_profile(path: Path) -> tuple[ModelConfig, np.ndarray]:
    try:
        profile = json.loads(path.read_text(encoding="utf-8"))
        shape = ModelConfig(**profile["model"])
        reference = np.asarray(profile["reference_losses"], dtype=np.float64)
    except FileNotFoundError:
        raise _damaged(path, "missing") from None
    except (OSError, ValueError, KeyError, TypeError, ReviewRNNError) as error:
        raise _damaged(path, f"not a familiarity profile ({type(error).__name__}: {error})"[:200]) from None
    if shape.bidirectional or reference.ndim != 1 or not len(reference) or not np.isfinite(reference).all():
        raise _damaged(path, "the model must be one-way and reference_losses a non-empty list of finite numbers")
    return shape, reference


def _read_weights(path: Path, shape: ModelConfig) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from reviewrnn.inference import expected_shapes

    try:
        weights = load_file(str(path))
    except FileNotFoundError:
        raise _damaged(path, "missing") from None
    except (OSError, SafetensorError) as error:
        raise _damaged(path, f"unreadable ({error})"[:200]) from None
    wanted = {name: size for name, size in expected_shapes(shape).items() if not name.startswith("head.")}
    wanted |= {"output_order": (shape.vocab_size,)}
    for name, size in wanted.items():
        if name not in weights or weights[name].shape != size:
            found = "missing" if name not in weights else f"shaped {weights[name].shape}"
            raise _damaged(path, f"tensor {name} is {found}, the profile's model needs {size}")
    softmax = [value for name, value in weights.items() if name.startswith("forward_softmax.")]
    if "forward_softmax.head.weight" not in weights or any(value.ndim != 2 for value in softmax):
        raise _damaged(path, "no adaptive softmax (forward_softmax.*) in it")
    return weights
