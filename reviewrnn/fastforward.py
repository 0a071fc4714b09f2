"""The numpy forward pass arranged for throughput: token tables, fixed-shape blocks, one thread per core.

inference.NumpyClassifier states torch's equations plainly; this is the same arithmetic laid out so
that `predict` and `evaluate` run near the machine's matrix-product rate. Tests hold both to torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from reviewrnn import exactrows
from reviewrnn.blas import keep_blas_on_this_thread, one_blas_thread
from reviewrnn.config import PAD_ID, ModelConfig
from reviewrnn.fastgroup import (
    BLOCK_ROWS,
    Outputs,
    Pool,
    next_inputs,
    projection_feed,
    reverse_index,
    reversed_inputs,
    run_direction,
    table_feed,
)
from reviewrnn.inference import GATES, softmax

# A worker runs up to this many consecutive blocks in lockstep, one Python call per step for all of
# them, while every product stays block-shaped: with one 64-row block per call, two threads spent
# a third of their time waiting for the GIL (682k LSTM steps*rows/s against 947k for four blocks).
GROUP_BLOCKS = 4
TABLE_ROWS = 64  # token-table rows are computed this many ids at a time, always this shape
EAGER_SHARE = 0.25  # a call that needs this share of the vocabulary's rows computes the whole table at once


class _TokenTable:
    """Layer 0's input projection of every token id, embedding @ W_ih^T + biases: (V, G*H).

    It depends on the token alone, so the recurrence looks rows up instead of multiplying. Rows are
    computed the first time their id is seen: a short review needs a few of a 20k vocabulary's rows
    (a whole LSTM table is 40 MB and 40 ms), and rows never read take no memory.
    """

    def __init__(self, embedding: np.ndarray, w_ih_t: np.ndarray, bias: np.ndarray):
        self.embedding, self.w_ih_t, self.bias = embedding, w_ih_t, bias  # (V, E), (E, G*H), (G*H,)
        self.layout = exactrows.choose(w_ih_t)
        self.rows = np.empty((len(embedding), w_ih_t.shape[1]), dtype=np.float32)  # pages untouched until filled
        self.filled = np.zeros(len(embedding), dtype=bool)
        self.fill(np.array([PAD_ID]))  # padding and dummy rows read it: never uninitialised memory (NaN)

    def fill(self, ids: np.ndarray) -> None:
        """Compute the rows of `ids` not computed yet (call before any thread reads them).

        The missing ids are padded with [PAD] to whole groups of TABLE_ROWS and projected in the
        table's row-exact layout: a row's bits never depend on the ids beside it.
        """
        missing = np.unique(ids[~self.filled[ids]])
        if len(missing) >= EAGER_SHARE * len(self.rows):
            self._fill_whole_groups()
            missing = missing[~self.filled[missing]]
        if not len(missing):
            return
        groups = np.full(-(-len(missing) // TABLE_ROWS) * TABLE_ROWS, PAD_ID, dtype=np.intp)
        groups[: len(missing)] = missing
        projected = exactrows.matmul(self.embedding[groups], self.w_ih_t, self.layout)
        np.add(projected, self.bias, out=projected)
        self.rows[missing] = projected[: len(missing)]
        self.filled[missing] = True

    def _fill_whole_groups(self) -> None:
        """Every row of ids 0 .. TABLE_ROWS * (V // TABLE_ROWS), projected straight into the table: no
        temporary and no scatter, whose page faults cost more than the products (0.1 s per 40 MB here)."""
        end = len(self.rows) // TABLE_ROWS * TABLE_ROWS
        exactrows.matmul(self.embedding[:end], self.w_ih_t, self.layout, out=self.rows[:end])
        np.add(self.rows[:end], self.bias, out=self.rows[:end])
        self.filled[:end] = True


@dataclass
class _Direction:
    """One direction of one layer, in the order the step loop wants its gates.

    Sigmoid gates come negated, so sigmoid(a) = 1 / (1 + exp(-a)) is an exp, an addition and a
    reciprocal in place: numpy's float32 exp was 1.6-1.9x faster than its tanh on the AVX2 Zen 3 of
    2026-12-02 (where the tanh form, (1 + tanh(a / 2)) / 2, took a third of an LSTM step). tanh gates
    come scaled by -2 for the same reason: tanh(a) = 2 / (1 + exp(-2a)) - 1. Both scales are powers of
    two, so the pre-activations are exactly the unscaled ones times the scale. LSTM gates are reordered
    i, f, o, g so the three sigmoids are adjacent.
    """

    table: _TokenTable | None  # layer 0
    w_ih: np.ndarray | None  # (D, G*H) deeper layers
    bias: np.ndarray  # (G*H,) the biases folded together (deeper layers; layer 0 has them in its table)
    w_hh: np.ndarray  # (H, G*H)
    b_hn: np.ndarray | None  # (H,) GRU only: torch keeps it inside r * (W_hn h + b_hn)
    hh_layout: exactrows.Layout  # how the recurrent product's rows go to BLAS (exactrows.choose)
    ih_layout: exactrows.Layout | None  # deeper layers' input projection


def _gate_layout(cell: str, hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """(row order, scale) applied to torch's stacked gate rows: sigmoid gates first, negated; then the
    tanh gates, scaled by -2 (see cellsteps.sigmoid_of_negated and tanh_of_scaled)."""
    rows = np.arange(GATES[cell] * hidden)
    if cell == "lstm":  # torch: i, f, g, o -> i, f, o, g
        i, f, g, o = np.split(rows, 4)
        rows = np.concatenate([i, f, o, g])
    sigmoids = {"rnn": 0, "gru": 2, "lstm": 3}[cell] * hidden
    scale = np.where(np.arange(len(rows)) < sigmoids, -1.0, -2.0).astype(np.float32)
    return rows, scale


def _direction(config: ModelConfig, w: dict[str, np.ndarray], prefix: str, depth: int) -> _Direction:
    rows, scale = _gate_layout(config.cell, config.hidden)
    w_ih = w[f"{prefix}.weight_ih_l0"][rows] * scale[:, None]  # (G*H, D)
    w_hh = np.ascontiguousarray((w[f"{prefix}.weight_hh_l0"][rows] * scale[:, None]).T)  # (H, G*H)
    b_ih, b_hh = w[f"{prefix}.bias_ih_l0"][rows] * scale, w[f"{prefix}.bias_hh_l0"][rows] * scale
    b_hn = None
    if config.cell == "gru":  # r and z take both biases; n's recurrent bias stays inside r * (.)
        hidden = config.hidden
        b_hn, b_hh = b_hh[2 * hidden :].copy(), np.concatenate([b_hh[: 2 * hidden], np.zeros(hidden, np.float32)])
    bias = (b_ih + b_hh).astype(np.float32)
    hh_layout = exactrows.choose(w_hh)
    if depth == 0:
        table = _TokenTable(w["embedding.weight"], np.ascontiguousarray(w_ih.T), bias)
        return _Direction(table, None, bias, w_hh, b_hn, hh_layout, None)
    w_ih_t = np.ascontiguousarray(w_ih.T)
    return _Direction(None, w_ih_t, bias, w_hh, b_hn, hh_layout, exactrows.choose(w_ih_t))


class FastClassifier:
    """Class probabilities for many reviews at once; the same numbers as NumpyClassifier to float32 rounding."""

    def __init__(self, config: ModelConfig, weights: dict[str, np.ndarray], threads: int | None = None):
        self.config = config
        w = {name: np.asarray(value, dtype=np.float32) for name, value in weights.items()}
        prefixes = ("forward_layers", "backward_layers")[: 2 if config.bidirectional else 1]
        self.layers = [
            [_direction(config, w, f"{prefix}.{depth}", depth) for prefix in prefixes] for depth in range(config.layers)
        ]
        self.head_w = np.ascontiguousarray(w["head.weight"].T)  # (D, K)
        self.head_layout = exactrows.choose(self.head_w)
        self.head_b = w["head.bias"]
        self.threads = threads or len(os.sched_getaffinity(0))
        self._pool = None  # a ThreadPoolExecutor once two blocks need it

    def close(self) -> None:
        """Ends the worker threads now (a run that builds an engine per epoch would otherwise keep them)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def probabilities(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """ids (B, T) right-padded, lengths (B,) >= 1 -> class probabilities (B, K)."""
        return self.score([row[:length] for row, length in zip(ids, lengths)])

    def score(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        """Token-id arrays (each non-empty, any lengths) -> class probabilities (N, K), in their order.

        Reviews are sorted by length and cut into blocks of BLOCK_ROWS, so blocks pad little; groups
        of consecutive blocks run on `threads` workers (numpy releases the GIL in BLAS and in ufuncs).
        """
        result = np.empty((len(sequences), self.config.num_classes), dtype=np.float32)
        groups = self._grouped(sequences)
        for rows, probabilities in zip(groups, self._run_groups(sequences, groups, self._group)):
            result[rows] = probabilities[: len(rows)]
        return result

    def reduce_states(self, sequences: Sequence[np.ndarray], reduce: Callable) -> np.ndarray:
        """(N,) values of a one-way model's last-layer states, in the sequences' order.

        reduce(states, group) is called on each group's states after every token, (T, R, H), with the
        group's sequences (longest first, R >= their count), in the worker that computed them, and
        returns one value per sequence: familiarity.py's per-review loss, without keeping every state.
        """
        if self.config.bidirectional:
            raise ValueError("reduce_states reads a one-way model's states")
        result = np.empty(len(sequences))
        groups = self._grouped(sequences)

        def job(group: list[np.ndarray]) -> np.ndarray:
            return reduce(self._group(group, keep_states=True), group)

        for rows, values in zip(groups, self._run_groups(sequences, groups, job)):
            result[rows] = values
        return result

    def _grouped(self, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Row indices per group, longest first (table rows filled for every id first)."""
        lengths = np.fromiter((len(row) for row in sequences), dtype=np.int64, count=len(sequences))
        if len(sequences):
            self._fill_tables(np.concatenate(sequences))
        order = np.argsort(-lengths, kind="stable")  # longest first: the slowest groups start first
        blocks = [order[start : start + BLOCK_ROWS] for start in range(0, len(order), BLOCK_ROWS)]
        size = _group_size(len(blocks), self.threads)
        return [np.concatenate(blocks[start : start + size]) for start in range(0, len(blocks), size)]

    def _fill_tables(self, ids: np.ndarray) -> None:
        """Layer 0's table rows for `ids`, a direction per worker (the same bits whichever call computes a row)."""
        tables = [direction.table for direction in self.layers[0]]
        if self.threads == 1 or len(tables) == 1 or len(ids) < EAGER_SHARE * len(tables[0].rows):
            with one_blas_thread():
                for table in tables:
                    table.fill(ids)
            return
        for future in [self._workers().submit(table.fill, ids) for table in tables]:
            future.result()

    def _workers(self):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor  # here: one review never needs it (cold start)

            self._pool = ThreadPoolExecutor(self.threads, "reviewrnn-forward", initializer=keep_blas_on_this_thread)
        return self._pool

    def _run_groups(self, sequences: Sequence[np.ndarray], groups: list[np.ndarray], run: Callable) -> list:
        def job(rows: np.ndarray):
            return run([sequences[i] for i in rows])

        if self.threads == 1 or len(groups) <= 1:
            with one_blas_thread():
                return [job(rows) for rows in groups]
        futures = [self._workers().submit(job, rows) for rows in groups]
        try:
            return [future.result() for future in futures]
        except BaseException:  # Ctrl-C, say: drop the groups not started, so the process can end now
            for future in futures:
                future.cancel()
            raise

    def _group(self, sequences: list[np.ndarray], keep_states: bool = False) -> np.ndarray:
        """Whole blocks of reviews, longest first -> probabilities (blocks * BLOCK_ROWS, K), or with
        `keep_states` the last layer's state after every token, (T, blocks * BLOCK_ROWS, H)."""
        rows = -(-len(sequences) // BLOCK_ROWS) * BLOCK_ROWS
        lengths = np.ones(rows, dtype=np.int64)  # dummy rows: one [PAD] each
        lengths[: len(sequences)] = [len(row) for row in sequences]
        steps = int(lengths[0])
        ids = np.full((steps, rows), PAD_ID, dtype=np.intp)  # time-major (T, R)
        for row, sequence in enumerate(sequences):
            ids[: len(sequence), row] = sequence
        active = (lengths[None, :] > np.arange(steps + 1)[:, None]).sum(1)  # (T + 1,): rows still reading
        live = -(-active[:steps] // BLOCK_ROWS) * BLOCK_ROWS  # (T,): the rows step t computes, in whole blocks
        reverse = reverse_index(lengths, steps)  # (T, R): step s of the backward direction reads this position
        last = len(self.layers) - 1
        inputs = None  # (T', R, D) position order, deeper layers
        for depth, directions in enumerate(self.layers):
            outputs = []
            for backward, direction in enumerate(directions):
                if depth == 0:
                    order = ids[reverse, np.arange(rows)] if backward else ids
                    feed = table_feed(direction.table.rows, order)
                else:
                    order = reversed_inputs(inputs, reverse) if backward else inputs
                    feed = projection_feed(direction, order)
                pools = depth == last and not keep_states
                collect = Pool(self.config.pool, lengths, active) if pools else Outputs(steps)
                outputs.append(run_direction(self.config.cell, direction, feed, live, collect))
            if depth < last:
                inputs = next_inputs(outputs, reverse, steps)
        if keep_states:
            return outputs[0]
        if self.config.pool == "maxmean":  # each direction gives (max, mean); the head reads every max first
            outputs = [half for halves in zip(*(np.split(out, 2, axis=1) for out in outputs)) for half in halves]
        pooled = np.concatenate(outputs, axis=1) if len(outputs) > 1 else outputs[0]  # (R, config.pooled_width)
        logits = exactrows.matmul(pooled, self.head_w, self.head_layout)
        return softmax(logits + self.head_b)


def _group_size(blocks: int, threads: int) -> int:
    """Blocks per group: up to GROUP_BLOCKS, but at least two groups per worker while there are blocks
    enough, so the longest-first queue keeps every worker busy to the end."""
    return max(1, min(GROUP_BLOCKS, blocks // (2 * threads)))
