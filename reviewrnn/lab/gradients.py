"""Gradient flow: how much of the loss gradient reaches each hidden state h_t, by distance from the end.

Backpropagation through time multiplies one Jacobian dh_{t+1}/dh_t per step. When those products
shrink, the gradient reaching early states vanishes geometrically and the network cannot learn what
they should have kept; a straight line of log-norm against distance is that geometric decay.

The model's fused forward returns all states as one tensor, and the gradient of the loss with
respect to that tensor is only the direct part (what the pooling reads from each state), not what
flows back through later steps. So the top recurrent layer runs here one step at a time through
its own nn module (torch's cell, the same weights), every h_t is a node of its own, and
`retain_grad` gives the total derivative dLoss/dh_t. A test checks that this forward gives the
model's own logits.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from reviewrnn.errors import ReviewRNNError
from reviewrnn.fastrnn import run_layer

VANISH_RATIO = 1e-3  # "vanished": below this share of the gradient at the last token


@dataclass
class GradientFlow:
    """Mean ||dLoss/dh_t|| over a batch of equally long reviews, indexed by distance from the last token."""

    name: str
    cell: str
    pool: str
    state: str  # "trained", or "init": the same configuration freshly initialised
    reviews: int
    length: int
    norms: list[float]
    slope: float | None  # least-squares slope of ln(norm) against distance, per step
    vanish_distance: int | None  # first distance where the norm < VANISH_RATIO x its value at distance 0

    @property
    def decay_per_step(self) -> float | None:
        """The factor by which the gradient shrinks per step back in time (exp of the slope)."""
        return math.exp(self.slope) if self.slope is not None else None

    def to_dict(self) -> dict:
        return asdict(self) | {"decay_per_step": self.decay_per_step}


def stepwise_logits(model: nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The model's logits for unpadded ids (B, T), with the top layer's h_t as T separate (B, H) tensors."""
    if model.config.bidirectional:
        raise ReviewRNNError(
            "gradient flow is measured for unidirectional models; this one is bidirectional "
            "(train one with --no-bidirectional)"
        )
    cell = model.config.cell
    x = model.dropout(model.embedding(ids))  # (B, T, E)
    *lower, top = model.forward_layers
    for layer in lower:
        x = model.dropout(run_layer(layer, cell, x, model.fast_cpu_path))  # (B, T, H)
    batch, steps = ids.shape
    h = x.new_zeros(1, batch, model.config.hidden)  # (1, B, H): layers x batch x hidden, as nn.RNN wants
    memory = (h, h.clone()) if cell == "lstm" else h
    states = []
    for t in range(steps):
        out, memory = top(x[:, t : t + 1], memory)  # out (B, 1, H)
        state = out[:, 0]  # (B, H); the next step must read this very tensor, so rebuild its input from it
        states.append(state)
        memory = (state.unsqueeze(0), memory[1]) if cell == "lstm" else state.unsqueeze(0)
    lengths = torch.full((batch,), steps, dtype=torch.long)
    pooled = model.pool(torch.stack(states, dim=1), None, lengths)  # (B, H)
    return model.head(model.dropout(pooled)), states


def gradient_norms(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """(T,) mean over the batch of ||dLoss/dh_t||, element k for the state k steps before the last token."""
    model.eval()
    logits, states = stepwise_logits(model, ids)
    for state in states:
        state.retain_grad()
    nn.functional.cross_entropy(logits, labels).backward()
    grads = torch.stack([state.grad for state in states], dim=1)  # (B, T, H)
    per_step = grads.norm(dim=2).mean(dim=0).double().numpy()  # (T,) by position
    return per_step[::-1].copy()  # by distance from the end


def decay_summary(norms: np.ndarray) -> tuple[float | None, int | None]:
    """(slope of ln norm per step, first distance below VANISH_RATIO of the norm at distance 0)."""
    norms = np.asarray(norms, dtype=float)
    usable = np.flatnonzero(np.isfinite(norms) & (norms > 0))
    slope = float(np.polyfit(usable, np.log(norms[usable]), 1)[0]) if len(usable) >= 2 else None
    below = np.flatnonzero(norms < VANISH_RATIO * norms[0]) if len(norms) and norms[0] > 0 else []
    return slope, int(below[0]) if len(below) else None


def long_reviews(encoded, length: int, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` random reviews with at least `length` tokens: ids (B, L), labels (B,).

    `encoded` must be cut at `length` (data.encode_set with max_tokens=length), so each chosen row
    holds exactly `length` ids: no padding, and distance from the end is the same for every row.
    """
    long_enough = np.flatnonzero(encoded.full_lengths >= length)
    if not len(long_enough):
        longest = int(encoded.full_lengths.max()) if len(encoded) else 0
        raise ReviewRNNError(f"no test review has {length} tokens (the longest has {longest}); pass a smaller --length")
    chosen = np.random.default_rng(seed).permutation(long_enough)[:count]
    ids = np.stack([encoded.ids[i] for i in chosen])  # (B, L)
    return torch.from_numpy(ids), torch.from_numpy(encoded.labels[chosen])


def check_measurable(directory: Path) -> None:
    """A classifier reading one way, or one line naming the model and what to train instead: checked for every
    model before any is measured (bidirectional is train's default, and pretrain's)."""
    from reviewrnn.artifacts import load_config

    config = load_config(directory)
    if config.pretrain is not None:
        raise ReviewRNNError(f"{directory}: a language model, not a classifier; use reviewrnn train --init {directory}")
    if config.model.bidirectional:
        raise ReviewRNNError(
            f"{directory}: bidirectional, and gradient flow is measured for unidirectional models; train one "
            "with --no-bidirectional"
        )


def measure_model(
    directory: Path, reviews: int = 64, length: int | None = None, seed: int = 0, name: str | None = None
) -> list[GradientFlow]:
    """Gradient flow of a saved model and of the same configuration at initialisation, on TEST reviews."""
    from reviewrnn.artifacts import load_model
    from reviewrnn.data import encode_set
    from reviewrnn.lab.sources import model_split
    from reviewrnn.model import RecurrentClassifier

    check_measurable(directory)
    loaded = load_model(directory)
    config = loaded.config
    length = length or config.train.max_tokens
    test = model_split(config).test
    encoded = encode_set(loaded.tokenizer, test.texts, test.labels, length, config.train.truncate)
    ids, labels = long_reviews(encoded, length, reviews, seed)
    trained = RecurrentClassifier(config.model)
    trained.load_state_dict({key: torch.from_numpy(value) for key, value in loaded.weights.items()})
    torch.manual_seed(seed)
    fresh = RecurrentClassifier(config.model)
    flows = []
    for state, model in (("trained", trained), ("init", fresh)):
        norms = gradient_norms(model, ids, labels)
        slope, vanish = decay_summary(norms)
        flows.append(
            GradientFlow(
                name or Path(directory).name,
                config.model.cell,
                config.model.pool,
                state,
                len(labels),
                ids.shape[1],
                [float(value) for value in norms],
                slope,
                vanish,
            )
        )
    return flows
