"""One time step of each cell as a closure over preallocated buffers: one product, then in-place ufuncs.

fastforward.py calls a step about a million times per thousand reviews, so a step allocates nothing
and makes as few passes over its buffers as the equations allow (see _Direction for the gate layout).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Step = Callable[[], None]


def rnn_step(d, z: np.ndarray, x: np.ndarray, h: np.ndarray, hidden: int) -> Step:
    """h = tanh(h W_hh + x), x holding the input projection and both biases: (B, H)."""

    def step() -> None:
        np.matmul(h, d.w_hh, out=z)
        np.add(z, x, out=z)
        np.tanh(z, out=h)

    return step


def lstm_step(d, z: np.ndarray, x: np.ndarray, h: np.ndarray, hidden: int) -> Step:
    """torch's LSTM with gates laid out i, f, o, g in z (B, 4H): c = f c + i g, h = o tanh(c)."""
    c, tmp = np.zeros_like(h), np.empty_like(h)
    sigmoids = z[:, : 3 * hidden]
    i, f, o, g = (z[:, k * hidden : (k + 1) * hidden] for k in range(4))

    def step() -> None:
        np.matmul(h, d.w_hh, out=z)
        np.add(z, x, out=z)
        np.tanh(z, out=z)  # tanh(a / 2) for i, f, o (pre-scaled), tanh(a) for g
        np.multiply(sigmoids, 0.5, out=sigmoids)
        np.add(sigmoids, 0.5, out=sigmoids)
        np.multiply(c, f, out=c)
        np.multiply(i, g, out=tmp)
        np.add(c, tmp, out=c)
        np.tanh(c, out=tmp)
        np.multiply(o, tmp, out=h)

    return step


def gru_step(d, z: np.ndarray, x: np.ndarray, h: np.ndarray, hidden: int) -> Step:
    """torch's GRU, z (B, 3H) = r, z, n: n = tanh(x_n + r (W_hn h + b_hn)), h = (1 - z) n + z h."""
    tmp = np.empty_like(h)
    rz, r, zg, n = z[:, : 2 * hidden], z[:, :hidden], z[:, hidden : 2 * hidden], z[:, 2 * hidden :]
    x_rz, x_n = x[:, : 2 * hidden], x[:, 2 * hidden :]

    def step() -> None:
        np.matmul(h, d.w_hh, out=z)
        np.add(rz, x_rz, out=rz)
        np.tanh(rz, out=rz)  # tanh(a / 2) for r and z (pre-scaled)
        np.multiply(rz, 0.5, out=rz)
        np.add(rz, 0.5, out=rz)
        np.add(n, d.b_hn, out=n)
        np.multiply(n, r, out=n)
        np.add(n, x_n, out=n)
        np.tanh(n, out=n)  # h' = (1 - z) n + z h = n + z (h - n)
        np.subtract(h, n, out=tmp)
        np.multiply(tmp, zg, out=tmp)
        np.add(n, tmp, out=h)

    return step


STEPS = {"rnn": rnn_step, "gru": gru_step, "lstm": lstm_step}
