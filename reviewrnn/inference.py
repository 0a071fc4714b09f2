"""The classifier's forward pass in numpy, over the same safetensors weights as the torch model.

Prediction never needs gradients, so it skips `import torch` (1.5 s here) and starts in a fraction
of that. The equations are torch's own for nn.RNN (tanh), nn.GRU and nn.LSTM; a test checks the
probabilities against the torch model for every cell, direction, depth and pooling.
"""

from __future__ import annotations

import numpy as np

from reviewrnn.config import PAD_ID, ModelConfig

GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor name in model.safetensors with its shape, derived from the config alone."""
    gates = GATES[config.cell] * config.hidden
    directions = 2 if config.bidirectional else 1
    shapes: dict[str, tuple[int, ...]] = {"embedding.weight": (config.vocab_size, config.embed)}
    for depth in range(config.layers):
        size = config.embed if depth == 0 else config.hidden * directions
        for prefix in ("forward_layers", "backward_layers")[:directions]:
            shapes[f"{prefix}.{depth}.weight_ih_l0"] = (gates, size)
            shapes[f"{prefix}.{depth}.weight_hh_l0"] = (gates, config.hidden)
            shapes[f"{prefix}.{depth}.bias_ih_l0"] = (gates,)
            shapes[f"{prefix}.{depth}.bias_hh_l0"] = (gates,)
    shapes["head.weight"] = (config.num_classes, config.pooled_width)
    shapes["head.bias"] = (config.num_classes,)
    return shapes


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # overflow-free form of 1 / (1 + exp(-x))


def reverse_within_length(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """numpy twin of model.reverse_within_length: x (B, T, D) -> (B, T, D)."""
    steps = np.arange(x.shape[1])[None, :]
    last = (lengths - 1)[:, None]
    index = np.where(steps <= last, last - steps, steps)
    return np.take_along_axis(x, index[:, :, None], axis=1)


class NumpyClassifier:
    """Forward-only twin of model.RecurrentClassifier."""

    def __init__(self, config: ModelConfig, weights: dict[str, np.ndarray]):
        self.config = config
        self.w = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in weights.items()}

    def probabilities(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """ids (B, T) right-padded, lengths (B,) >= 1 -> class probabilities (B, K)."""
        forward, backward = self.hidden_states(ids, lengths)
        logits = self.pool(forward, backward, lengths) @ self.w["head.weight"].T + self.w["head.bias"]
        return softmax(logits)

    def step_probabilities(self, ids: np.ndarray) -> np.ndarray:
        """One review's prediction after each prefix: ids (T,) -> (T, K), row t for ids[: t + 1].

        A unidirectional state at step t has read exactly that prefix, so one pass gives every
        prefix: the last state is the state itself, mean and max pooling become a running mean and
        a running max. A bidirectional model's backward direction starts from each prefix's own end,
        so there every prefix is a separate review (all T of them in one padded batch).
        """
        ids = np.asarray(ids, dtype=np.int64)
        steps = len(ids)
        if self.config.bidirectional:
            upto = np.arange(steps)[None, :] <= np.arange(steps)[:, None]  # (T, T): row t keeps ids[: t + 1]
            prefixes = np.where(upto, ids[None, :], PAD_ID)
            return self.probabilities(prefixes, np.arange(1, steps + 1, dtype=np.int64))
        forward, _ = self.hidden_states(ids[None, :], np.array([steps], dtype=np.int64))
        states = forward[0]  # (T, H)
        if self.config.pool != "last":  # a running max and/or mean, in pool()'s order
            running = []
            if self.config.pool in ("max", "maxmean"):
                running.append(np.maximum.accumulate(states, axis=0))
            if self.config.pool in ("mean", "maxmean"):
                running.append(np.cumsum(states, axis=0) / np.arange(1, steps + 1, dtype=states.dtype)[:, None])
            states = np.concatenate(running, axis=1)
        return softmax(states @ self.w["head.weight"].T + self.w["head.bias"])

    def hidden_states(self, ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        x = self.w["embedding.weight"][ids]  # (B, T, E)
        forward, backward = x, None
        for depth in range(self.config.layers):
            forward = self._layer(f"forward_layers.{depth}", x)  # (B, T, H)
            if self.config.bidirectional:
                backward = reverse_within_length(
                    self._layer(f"backward_layers.{depth}", reverse_within_length(x, lengths)), lengths
                )
                x = np.concatenate([forward, backward], axis=2)  # (B, T, 2H)
            else:
                x = forward
        return forward, backward

    def pool(self, forward: np.ndarray, backward: np.ndarray | None, lengths: np.ndarray) -> np.ndarray:
        if self.config.pool == "last":
            pooled = forward[np.arange(len(lengths)), lengths - 1]
            return pooled if backward is None else np.concatenate([pooled, backward[:, 0]], axis=1)
        states = forward if backward is None else np.concatenate([forward, backward], axis=2)
        mask = (np.arange(states.shape[1])[None, :] < lengths[:, None])[:, :, None]  # (B, T, 1)
        pooled = []
        if self.config.pool in ("max", "maxmean"):
            pooled.append(np.where(mask, states, -np.inf).max(1))
        if self.config.pool in ("mean", "maxmean"):
            pooled.append((states * mask).sum(1) / lengths[:, None].astype(states.dtype))
        return np.concatenate(pooled, axis=1)  # maxmean: every max, then every mean

    def _layer(self, prefix: str, x: np.ndarray) -> np.ndarray:
        """Run one unidirectional layer over all steps; the input projection is one big product."""
        w_hh = self.w[f"{prefix}.weight_hh_l0"].T  # (H, G*H)
        b_hh = self.w[f"{prefix}.bias_hh_l0"]
        projected = x @ self.w[f"{prefix}.weight_ih_l0"].T + self.w[f"{prefix}.bias_ih_l0"]  # (B, T, G*H)
        batch, steps, hidden = x.shape[0], x.shape[1], self.config.hidden
        h = np.zeros((batch, hidden), dtype=np.float32)
        c = np.zeros_like(h)
        out = np.empty((batch, steps, hidden), dtype=np.float32)
        cell = self.config.cell
        for t in range(steps):
            recurrent = h @ w_hh + b_hh  # (B, G*H)
            gates = projected[:, t]
            if cell == "rnn":
                h = np.tanh(gates + recurrent)
            elif cell == "gru":
                r = _sigmoid(gates[:, :hidden] + recurrent[:, :hidden])
                z = _sigmoid(gates[:, hidden : 2 * hidden] + recurrent[:, hidden : 2 * hidden])
                n = np.tanh(gates[:, 2 * hidden :] + r * recurrent[:, 2 * hidden :])
                h = (1.0 - z) * n + z * h
            else:
                total = gates + recurrent
                i, f = _sigmoid(total[:, :hidden]), _sigmoid(total[:, hidden : 2 * hidden])
                g, o = np.tanh(total[:, 2 * hidden : 3 * hidden]), _sigmoid(total[:, 3 * hidden :])
                c = f * c + i * g
                h = o * np.tanh(c)
            out[:, t] = h
        return out


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
