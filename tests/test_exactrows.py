"""exactrows.py: every layout computes the same product; the chosen one gives a row the same bits at
any position (test_fastforward.py checks whole reviews in any company)."""

from __future__ import annotations

import numpy as np
import pytest

from reviewrnn import exactrows
from reviewrnn.blas import one_blas_thread
from reviewrnn.exactrows import CANDIDATES, Layout


def operands(rows: int, inner: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(seed)
    a = generator.standard_normal((rows, inner)).astype(np.float32)
    return a, generator.standard_normal((inner, width)).astype(np.float32)


@pytest.mark.parametrize("layout", CANDIDATES, ids=Layout.describe)
def test_every_layout_computes_the_product(layout, monkeypatch):
    monkeypatch.setattr(exactrows, "CHUNK_ROWS", 128)  # column-major products go through several chunks
    a, w = operands(320, 24, 40)
    out = np.full((320, 40), np.nan, dtype=np.float32)
    assert exactrows.matmul(a, w, layout, out=out) is out
    np.testing.assert_allclose(out, a.astype(np.float64) @ w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(24, 128), (128, 512), (256, 1024), (96, 2)])
def test_the_chosen_layout_gives_a_row_the_same_bits_at_every_position(shape):
    a, w = operands(64, *shape, seed=1)
    with one_blas_thread():
        layout = exactrows.choose(w)
        reference = exactrows.matmul(a, w, layout)
        for seed in range(3):
            order = np.random.default_rng(seed).permutation(64)
            shuffled = exactrows.matmul(a[order], w, layout)
            np.testing.assert_array_equal(shuffled[np.argsort(order)], reference)


def test_a_layout_that_rounds_positions_differently_is_passed_over(monkeypatch):
    """A stand-in kernel whose last row of each 32-row call comes out one ulp off: the probe must
    reject 64 and 32 rows per call and settle on the first smaller layout this machine rounds evenly."""
    plain = exactrows.matmul
    w = operands(1, 16, 8)[1]
    expected = next(layout for layout in CANDIDATES if layout.rows < 32 and exactrows.row_exact(w, layout))

    def uneven(a, w, layout, out=None):
        out = plain(a, w, layout, out)
        if layout.rows >= 32:
            out[31::32] = np.nextafter(out[31::32], np.inf)
        return out

    monkeypatch.setattr(exactrows, "matmul", uneven)
    assert not exactrows.row_exact(w, Layout(64, False))
    assert exactrows.choose(w) == expected
