"""One group of blocks through the recurrence: the feeds, the step loop, the collectors (fastforward.py).

A group is whole blocks of BLOCK_ROWS reviews, longest first, time-major. Every product a row goes
through is block-shaped and row-exact (exactrows.py), so its bits never depend on the reviews beside it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from reviewrnn import exactrows
from reviewrnn.cellsteps import STEPS, Buffers

# Every block has exactly this many rows (short blocks are filled with one-token dummy rows), so each
# product and ufunc a row goes through has the same shape whatever its neighbours, and products run in
# a row-exact layout (exactrows.py), so its position among them does not matter either: a review's
# probabilities are the same bits however the input was chunked (a pipe, a file, one line at a time).
BLOCK_ROWS = 64
PROJECT_STEPS = 16  # a deeper layer's input projection covers this many steps at once: a fixed shape too


def by_block(array: np.ndarray) -> np.ndarray:
    """(R, ...) -> (R / BLOCK_ROWS, BLOCK_ROWS, ...): a view whose products run one block at a time."""
    return array.reshape(-1, BLOCK_ROWS, *array.shape[1:])


def reverse_index(lengths: np.ndarray, steps: int) -> np.ndarray:
    """(T, B): position L_b - 1 - s for s < L_b, else s (padding stays where it is)."""
    s = np.arange(steps)[:, None]
    last = (lengths - 1)[None, :]
    return np.where(s <= last, last - s, s)


def table_feed(table: np.ndarray, ids: np.ndarray) -> Callable[[int, np.ndarray], None]:
    """Layer 0: the input projection of step t is a row lookup per review."""

    def feed(t: int, out: np.ndarray) -> None:
        np.take(table, ids[t, : len(out)], axis=0, out=out)

    return feed


def projection_feed(direction, inputs: np.ndarray) -> Callable[[int, np.ndarray], None]:
    """Deeper layers: project PROJECT_STEPS steps of one block at a time, (S * B, D) @ (D, G*H), in the
    direction's row-exact layout."""
    projected = np.empty(
        (inputs.shape[1] // BLOCK_ROWS, PROJECT_STEPS, BLOCK_ROWS, direction.w_ih.shape[1]), dtype=np.float32
    )

    def feed(t: int, out: np.ndarray) -> None:
        offset = t % PROJECT_STEPS
        if offset == 0:  # the blocks live now: a block still live at step t + k was live at step t
            live = len(out) // BLOCK_ROWS
            for block in range(live):
                rows = slice(block * BLOCK_ROWS, (block + 1) * BLOCK_ROWS)
                span = np.ascontiguousarray(inputs[t : t + PROJECT_STEPS, rows]).reshape(PROJECT_STEPS * BLOCK_ROWS, -1)
                out_rows = projected[block].reshape(PROJECT_STEPS * BLOCK_ROWS, -1)
                exactrows.matmul(span, direction.w_ih, direction.ih_layout, out=out_rows)
            np.add(projected[:live], direction.bias, out=projected[:live])
        by_block(out)[...] = projected[: len(out) // BLOCK_ROWS, offset]

    return feed


def next_inputs(outputs: list[np.ndarray], reverse: np.ndarray, steps: int) -> np.ndarray:
    """Both directions' outputs side by side in position order, padded to whole projection blocks."""
    padded = -(-steps // PROJECT_STEPS) * PROJECT_STEPS
    rows, hidden = outputs[0].shape[1], outputs[0].shape[2]
    inputs = np.zeros((padded, rows, hidden * len(outputs)), dtype=np.float32)  # (T', B, D)
    inputs[:steps, :, :hidden] = outputs[0]
    if len(outputs) > 1:  # the backward direction's step s is position reverse[s]
        inputs[:steps, :, hidden:] = outputs[1][reverse, np.arange(rows)]
    return inputs


def reversed_inputs(inputs: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """(T', B, D) position order -> the backward direction's step order, still padded to T'."""
    order = np.zeros_like(inputs)
    order[: len(reverse)] = inputs[reverse, np.arange(inputs.shape[1])]
    return order


class Outputs:
    """Keeps every step's state, for the layer above: (T, B, H)."""

    def __init__(self, steps: int):
        self.steps, self.states = steps, None

    def __call__(self, t: int, h: np.ndarray) -> None:
        if self.states is None:
            self.states = np.empty((self.steps, *h.shape), dtype=np.float32)
        self.states[t] = h

    def result(self) -> np.ndarray:
        return self.states


class Pool:
    """Pools the last layer's states as they come. Rows are longest first, so the rows still reading at
    step t are the first active[t]: every update is a prefix slice, and padding is never read.
    maxmean keeps both, (R, 2H): this direction's max, then its mean."""

    def __init__(self, pool: str, lengths: np.ndarray, active: np.ndarray):
        self.pool, self.lengths, self.active = pool, lengths, active
        self.maximum = self.total = self.last = None

    def __call__(self, t: int, h: np.ndarray) -> None:
        if t == 0:
            self.maximum = np.full_like(h, -np.inf) if self.pool in ("max", "maxmean") else None
            self.total = np.zeros_like(h) if self.pool in ("mean", "maxmean") else None
            self.last = np.zeros_like(h) if self.pool == "last" else None
        live = self.active[t]
        if self.maximum is not None:
            np.maximum(self.maximum[:live], h[:live], out=self.maximum[:live])
        if self.total is not None:
            self.total[:live] += h[:live]
        if self.last is not None:  # the rows whose final token was step t
            ending = self.active[t + 1]
            self.last[ending:live] = h[ending:live]

    def result(self) -> np.ndarray:
        if self.pool == "last":
            return self.last
        mean = self.total / self.lengths[:, None].astype(np.float32) if self.total is not None else None
        if self.pool == "mean":
            return mean
        return self.maximum if self.pool == "max" else np.concatenate([self.maximum, mean], axis=1)


def run_direction(cell: str, d, feed, live: np.ndarray, collect) -> np.ndarray:
    """The recurrence over one group: per step one product call and a few in-place ufuncs, no allocation.

    live[t] is the rows, in whole blocks, that step t computes: rows are longest first, so once a
    block's reviews have all ended, the steps leave it out (a group pads no more than its blocks would).
    """
    buffers = Buffers.zeros(int(live[0]), d.w_hh.shape[0], d.w_hh.shape[1])
    with np.errstate(over="ignore", under="ignore"):  # in this thread: a saturated gate's exp is inf or 0
        for start, end in _phases(live):
            rows = buffers.head(int(live[start]))
            step = STEPS[cell](d, rows, d.w_hh.shape[0])
            for t in range(start, end):
                feed(t, rows.x)
                step()
                collect(t, buffers.h)
    return collect.result()


def _phases(live: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) step ranges over which live[t] stays the same."""
    changes = np.flatnonzero(np.diff(live)) + 1
    bounds = [0, *changes.tolist(), len(live)]
    return list(zip(bounds[:-1], bounds[1:]))
