"""Products whose rows come out the same bits at any position: how fastforward.py's BLAS calls are laid out.

A review's row lands at a position that depends on the reviews beside it (they are sorted by
length), yet its probabilities must be the same bits whatever company it keeps (a pipe, a file,
one line at a time). Whether a GEMM gives a row the same bits at every position depends on the BLAS
kernel: OpenBLAS's AVX-512 kernel does for 64-row calls, while its AVX2 (Haswell/Zen) kernel
rounds alternate 6-row tiles differently, and is uniform only over 16 rows given column-major.

So the layout is chosen on the machine, for each product shape: the first candidate, fastest
first, under which one vector copied into every row of several calls comes out the same bits in
every row. The probe runs on a random matrix of the shape (weights with structure, such as zeros,
could pass a layout that rounds positions differently), takes a few milliseconds per shape and is
deterministic, so every process on a machine picks the same layout: a file and a pipe give the same bytes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from reviewrnn.blas import one_blas_thread

PROBE_ROWS = 128  # two 64-row calls: positions within a call and the call itself both vary
# Values compared per position, at least: two different summation orders agree on one float32 value
# 11-29% of the time, so a head of 2 columns needs many vectors before a wrong layout surely shows.
PROBE_VALUES = 64
PROBE_VECTORS = 2  # at least this many random vectors per candidate
CHUNK_ROWS = 4096  # a column-major product of many rows goes through a temporary this size at a time


@dataclass(frozen=True)
class Layout:
    """One BLAS call per `rows` rows; `column_major`: each call's rows stored column-major, so BLAS
    walks them as its M dimension (numpy hands a Fortran-ordered slice to BLAS transposed, no copy)."""

    rows: int
    column_major: bool

    def describe(self) -> str:
        return f"{self.rows} rows per call, {'column' if self.column_major else 'row'}-major"


# Fastest first (fewer, larger calls), as measured on an AVX2 EPYC: at (64, 128) @ (128, 512) one
# 64-row call took 59-68 us, four column-major 16-row calls 80 us, eight row-major 8-row calls 170 us,
# and 64 one-row calls (gemv, the same kernel for every row) 235 us.
CANDIDATES = tuple(Layout(rows, column_major) for rows in (64, 32, 16, 8, 4, 2) for column_major in (False, True)) + (
    Layout(1, False),
)


def empty_calls(rows: int, width: int, layout: Layout) -> np.ndarray:
    """An empty (rows / layout.rows, layout.rows, width) float32 array in the layout's memory order."""
    calls = rows // layout.rows
    if layout.column_major:
        return np.empty((calls, width, layout.rows), dtype=np.float32).transpose(0, 2, 1)
    return np.empty((calls, layout.rows, width), dtype=np.float32)


def as_calls(array: np.ndarray, layout: Layout) -> np.ndarray:
    """(R, W) -> (R / layout.rows, layout.rows, W): splitting the first axis is always a view, so
    products can write through it."""
    if array.ndim != 2:
        raise ValueError(f"as_calls takes (rows, width) arrays, not {array.ndim}-d")
    return array.reshape(-1, layout.rows, array.shape[1])


def matmul(a: np.ndarray, w: np.ndarray, layout: Layout, out: np.ndarray | None = None) -> np.ndarray:
    """a (R, K) @ w (K, N) -> (R, N), row-major, one BLAS call per layout.rows rows. Any R: a partial
    last call is padded with zero rows, which leaves the other rows' bits alone in an exact layout."""
    if len(a) % layout.rows:
        padded = np.zeros((-(-len(a) // layout.rows) * layout.rows, a.shape[1]), dtype=np.float32)
        padded[: len(a)] = a
        result = matmul(padded, w, layout)[: len(a)]
        if out is None:
            return result
        out[...] = result
        return out
    if out is None:
        out = np.empty((len(a), w.shape[1]), dtype=np.float32)
    if not layout.column_major:
        np.matmul(as_calls(a, layout), w, out=as_calls(out, layout))
        return out
    for start in range(0, len(a), CHUNK_ROWS):
        rows = slice(start, min(start + CHUNK_ROWS, len(a)))
        count = rows.stop - rows.start
        a_calls, out_calls = empty_calls(count, a.shape[1], layout), empty_calls(count, w.shape[1], layout)
        a_calls[...] = as_calls(a[rows], layout)
        np.matmul(a_calls, w, out=out_calls)
        as_calls(out[rows], layout)[...] = out_calls
    return out


def row_exact(w: np.ndarray, layout: Layout, seed: int = 0) -> bool:
    """Whether rows holding the same vector come out the same bits at every position, in every call."""
    generator = np.random.default_rng(seed)
    for _ in range(max(PROBE_VECTORS, -(-PROBE_VALUES // w.shape[1]))):
        vector = generator.standard_normal(w.shape[0]).astype(np.float32)
        product = matmul(np.tile(vector, (PROBE_ROWS, 1)), w, layout)
        if not (product == product[0]).all():
            return False
    return True


def choose(w: np.ndarray) -> Layout:
    """The layout for products with weights w (K, N): see layout_for."""
    return layout_for(*w.shape)


@functools.cache
def layout_for(inner: int, width: int) -> Layout:
    """The fastest layout under which a (inner, width) product gives a row the same bits at any position,
    probed with BLAS on one thread, as the products run. The last candidate computes each row alone;
    should even it fail, it is kept: no layout can do better."""
    w = np.random.default_rng(0).standard_normal((inner, width)).astype(np.float32)
    with one_blas_thread():
        return next((layout for layout in CANDIDATES if row_exact(w, layout)), CANDIDATES[-1])
