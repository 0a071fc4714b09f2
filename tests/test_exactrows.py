"""exactrows.py: every layout computes the same product; the chosen one gives a row the same bits at
any position (test_fastforward.py checks whole reviews in any company)."""

from __future__ import annotations

import numpy as np
import pytest

from reviewrnn import exactrows
from reviewrnn.blas import one_blas_thread
from reviewrnn.exactrows import CANDIDATES, Layout
from reviewrnn.fastforward import TABLE_ROWS
from reviewrnn.fastgroup import BLOCK_ROWS


def operands(rows: int, inner: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(seed)
    a = generator.standard_normal((rows, inner)).astype(np.float32)
    return a, generator.standard_normal((inner, width)).astype(np.float32)


@pytest.mark.parametrize("layout", CANDIDATES, ids=Layout.describe)
def test_every_layout_computes_the_product(layout, monkeypatch):
    monkeypatch.setattr(exactrows, "CHUNK_ROWS", 128)  # column-major products go through several chunks
    a, w = operands(317, 24, 40)  # not a whole number of calls: the last is padded
    out = np.full((317, 40), np.nan, dtype=np.float32)
    assert exactrows.matmul(a, w, layout, out=out) is out
    np.testing.assert_allclose(out, a.astype(np.float64) @ w, rtol=1e-5, atol=1e-5)
    assert BLOCK_ROWS % layout.rows == 0 and TABLE_ROWS % layout.rows == 0  # buffers are viewed as whole calls


@pytest.mark.parametrize("shape", [(24, 128), (128, 512), (256, 1024), (96, 2)])
def test_the_chosen_layout_gives_a_row_the_same_bits_at_every_position(shape):
    """Distinct rows, shuffled and shifted across calls and chunk sizes (the probe uses one vector)."""
    a, w = operands(256, *shape, seed=1)
    layout = exactrows.choose(w)
    with one_blas_thread():
        reference = exactrows.matmul(a, w, layout)
        for seed in range(3):
            order = np.random.default_rng(seed).permutation(256)
            shuffled = exactrows.matmul(a[order], w, layout)
            np.testing.assert_array_equal(shuffled[np.argsort(order)], reference)
        for shift in (1, 5, 13, 70):
            shifted = exactrows.matmul(a[shift:], w, layout)
            np.testing.assert_array_equal(shifted, reference[shift:])


def test_a_layout_that_rounds_positions_differently_is_passed_over(monkeypatch):
    """A stand-in kernel whose last row of each 32-row call comes out one ulp off: the probe must
    reject 64 and 32 rows per call and settle on the first smaller layout this machine rounds evenly."""
    plain = exactrows.matmul
    w = np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)  # the probe's own matrix
    with one_blas_thread():
        expected = next(layout for layout in CANDIDATES if layout.rows < 32 and exactrows.row_exact(w, layout))

    def uneven(a, w, layout, out=None):
        out = plain(a, w, layout, out)
        if layout.rows >= 32:
            out[31::32] = np.nextafter(out[31::32], np.inf)
        return out

    monkeypatch.setattr(exactrows, "matmul", uneven)
    assert not exactrows.row_exact(w, Layout(64, False))
    assert exactrows.layout_for.__wrapped__(*w.shape) == expected  # past the per-process cache
