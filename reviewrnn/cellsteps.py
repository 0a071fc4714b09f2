"""One time step of each cell as a closure over preallocated buffers: one product, then in-place ufuncs.

fastforward.py calls a step about a million times per thousand reviews, so a step allocates nothing
and makes as few passes over its buffers as the equations allow (see _Direction for the gate layout).
The buffers hold several blocks of rows; the recurrent product runs in the direction's row-exact
layout (exactrows.py: one BLAS call per few rows, one Python call for all), so a row's product has
the same bits however many rows run beside it and wherever it sits among them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reviewrnn import exactrows

Step = Callable[[], None]


@dataclass
class Buffers:
    """One direction's state over a group's rows: z (R, G*H) gate pre-activations, x (R, G*H) this step's
    input projection, h (R, H) the hidden state and c (R, H) the LSTM's cell state."""

    z: np.ndarray
    x: np.ndarray
    h: np.ndarray
    c: np.ndarray

    @classmethod
    def zeros(cls, rows: int, hidden: int, width: int) -> Buffers:
        z = np.empty((rows, width), dtype=np.float32)
        return cls(z, np.empty_like(z), np.zeros((rows, hidden), np.float32), np.zeros((rows, hidden), np.float32))

    def head(self, rows: int) -> Buffers:
        """Views of the first `rows` rows: the rows still reading, when the rest have ended."""
        return Buffers(self.z[:rows], self.x[:rows], self.h[:rows], self.c[:rows])


def sigmoid_of_negated(gates: np.ndarray) -> None:
    """gates holds -a (fastforward._gate_layout negates sigmoid gates); leaves sigmoid(a) = 1 / (1 + exp(-a)).
    exp(-a) overflows to inf for a < -88, and 1 / inf is sigmoid's 0: run_direction silences that warning."""
    np.exp(gates, out=gates)
    np.add(gates, 1.0, out=gates)
    np.reciprocal(gates, out=gates)


def tanh_of_scaled(values: np.ndarray, out: np.ndarray) -> None:
    """values holds -2a (fastforward._gate_layout scales tanh gates by -2, the LSTM's cell state is scaled
    here); leaves tanh(a) = 2 / (1 + exp(-2a)) - 1 in out, which may be values. numpy's float32 tanh
    took 1.9x its exp per value on the AVX2 Zen 1 (7.2 against 3.7 ns) and 1.6-1.9x on the Zen 3, and
    the three passes after the exp are cheap. Saturation gives exact -1 and 1, as in sigmoid_of_negated;
    the result is within 3e-7 of tanh (1.9e-7 measured over [-12, 12]: about 1.6 float32 ulps of 1), an
    absolute bound, not a relative one near 0. exp(-2a) underflows for a > 44: run_direction silences that."""
    np.exp(values, out=out)
    np.add(out, 1.0, out=out)
    np.divide(2.0, out, out=out)
    np.subtract(out, 1.0, out=out)


def _recurrent_product(
    h: np.ndarray, w_hh: np.ndarray, z: np.ndarray, layout: exactrows.Layout
) -> tuple[Step, np.ndarray]:
    """(product, result): product() puts h @ w_hh in result, (R / layout.rows, layout.rows, G*H), one
    stacked matmul. Row-major, result is z itself; column-major, it is a buffer of its own that the
    step's first addition reads into z, and h is copied into a column-major buffer first."""
    h_calls, z_calls = exactrows.as_calls(h, layout), exactrows.as_calls(z, layout)
    if not layout.column_major:
        return (lambda: np.matmul(h_calls, w_hh, out=z_calls)), z_calls
    h_columns = exactrows.empty_calls(len(h), h.shape[1], layout)
    z_columns = exactrows.empty_calls(len(z), z.shape[1], layout)

    def product() -> None:
        h_columns[...] = h_calls
        np.matmul(h_columns, w_hh, out=z_columns)

    return product, z_columns


def rnn_step(d, buffers: Buffers, hidden: int) -> Step:
    """h = tanh(h W_hh + x), x holding the input projection and both biases, all scaled by -2: (B, H)."""
    z, x, h = buffers.z, buffers.x, buffers.h
    product, hz = _recurrent_product(h, d.w_hh, z, d.hh_layout)
    z_calls, x_calls = (exactrows.as_calls(a, d.hh_layout) for a in (z, x))

    def step() -> None:
        product()
        np.add(hz, x_calls, out=z_calls)
        tanh_of_scaled(z, out=h)

    return step


def lstm_step(d, buffers: Buffers, hidden: int) -> Step:
    """torch's LSTM with gates laid out i, f, o, g in z (B, 4H), i, f, o negated and g scaled by -2:
    c = f c + i g, h = o tanh(c)."""
    z, x, h, c = buffers.z, buffers.x, buffers.h, buffers.c
    tmp = np.empty_like(h)
    sigmoids = z[:, : 3 * hidden]
    i, f, o, g = (z[:, k * hidden : (k + 1) * hidden] for k in range(4))

    product, hz = _recurrent_product(h, d.w_hh, z, d.hh_layout)
    z_calls, x_calls = (exactrows.as_calls(a, d.hh_layout) for a in (z, x))

    def step() -> None:
        product()
        np.add(hz, x_calls, out=z_calls)
        sigmoid_of_negated(sigmoids)  # i, f, o
        tanh_of_scaled(g, out=g)
        np.multiply(c, f, out=c)
        np.multiply(i, g, out=tmp)
        np.add(c, tmp, out=c)
        np.multiply(c, -2.0, out=tmp)
        tanh_of_scaled(tmp, out=tmp)
        np.multiply(o, tmp, out=h)

    return step


def gru_step(d, buffers: Buffers, hidden: int) -> Step:
    """torch's GRU, z (B, 3H) = r, z, n (r and z negated, n's rows and b_hn scaled by -2):
    n = tanh(x_n + r (W_hn h + b_hn)), h = (1 - z) n + z h."""
    z, x, h = buffers.z, buffers.x, buffers.h
    tmp = np.empty_like(h)
    rz, r, zg, n = z[:, : 2 * hidden], z[:, :hidden], z[:, hidden : 2 * hidden], z[:, 2 * hidden :]
    product, hz = _recurrent_product(h, d.w_hh, z, d.hh_layout)
    z_calls, x_calls = (exactrows.as_calls(a, d.hh_layout) for a in (z, x))
    hz_rz, hz_n, x_rz, rz_calls, n_calls = (
        hz[..., : 2 * hidden],
        hz[..., 2 * hidden :],
        x_calls[..., : 2 * hidden],
        z_calls[..., : 2 * hidden],
        z_calls[..., 2 * hidden :],
    )
    x_n = x[:, 2 * hidden :]

    def step() -> None:
        product()
        np.add(hz_rz, x_rz, out=rz_calls)
        sigmoid_of_negated(rz)
        np.add(hz_n, d.b_hn, out=n_calls)
        np.multiply(n, r, out=n)
        np.add(n, x_n, out=n)
        tanh_of_scaled(n, out=n)  # h' = (1 - z) n + z h = n + z (h - n)
        np.subtract(h, n, out=tmp)
        np.multiply(tmp, zg, out=tmp)
        np.add(n, tmp, out=h)

    return step


STEPS = {"rnn": rnn_step, "gru": gru_step, "lstm": lstm_step}
