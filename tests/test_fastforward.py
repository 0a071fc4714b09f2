"""fastforward.py: a review's probabilities are the same bits whatever reviews share its chunk, block
or thread; token-table rows are computed once, when first needed. (Agreement with torch: test_inference.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reviewrnn import exactrows
from reviewrnn.config import ModelConfig
from reviewrnn.fastforward import BLOCK_ROWS, GROUP_BLOCKS, FastClassifier, _group_size
from reviewrnn.inference import NumpyClassifier
from reviewrnn.model import RecurrentClassifier


def classifier(cell="lstm", bidirectional=True, layers=1, pool="max", threads=2, hidden=32) -> FastClassifier:
    torch.manual_seed(1)
    config = ModelConfig(
        cell=cell, vocab_size=300, embed=24, hidden=hidden, layers=layers, bidirectional=bidirectional, pool=pool
    )
    weights = {name: t.detach().numpy().copy() for name, t in RecurrentClassifier(config).state_dict().items()}
    return FastClassifier(config, weights, threads=threads)


def reviews(count: int, seed: int = 0) -> list[np.ndarray]:
    generator = np.random.default_rng(seed)
    return [generator.integers(1, 300, size=n) for n in generator.integers(1, 120, size=count)]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    "shape",
    [("lstm", True, 1, "max"), ("gru", False, 2, "mean"), ("rnn", True, 2, "last"), ("lstm", True, 1, "maxmean")],
    ids=str,
)
def test_a_review_gets_the_same_bits_in_any_company(shape, threads):
    """Alone, in a block, in a group of blocks run in lockstep (one thread: groups of three here)."""
    model = classifier(*shape, threads=threads)
    texts = reviews(5 * BLOCK_ROWS + 7)
    assert _group_size(6, threads) == (3 if threads == 1 else 1)
    together = model.score(texts)
    one_by_one = np.concatenate([model.score([text]) for text in texts[:40]])
    np.testing.assert_array_equal(one_by_one, together[:40])
    generator = np.random.default_rng(5)
    order = generator.permutation(len(texts))  # other neighbours, other blocks, uneven chunks
    cuts = np.sort(generator.choice(np.arange(1, len(texts)), size=6, replace=False))
    shuffled = np.concatenate([model.score([texts[i] for i in part]) for part in np.split(order, cuts)])
    np.testing.assert_array_equal(shuffled, together[order])


def test_groups_are_whole_blocks_and_leave_every_worker_two_to_share():
    assert [_group_size(blocks, 2) for blocks in (1, 3, 4, 8, 12, 16, 100)] == [
        1,
        1,
        1,
        2,
        3,
        GROUP_BLOCKS,
        GROUP_BLOCKS,
    ]
    texts = reviews(4 * GROUP_BLOCKS * BLOCK_ROWS - 5, seed=3)  # groups of GROUP_BLOCKS on two threads
    together = classifier(threads=2).score(texts)
    np.testing.assert_array_equal(together[:70], np.concatenate([classifier(threads=1).score([t]) for t in texts[:70]]))


def test_one_thread_and_two_give_the_same_bits():
    texts = reviews(3 * BLOCK_ROWS)
    np.testing.assert_array_equal(classifier(threads=1).score(texts), classifier(threads=2).score(texts))


def test_whole_split_scores_match_the_plain_forward_pass():
    """score() takes a list of id arrays, as EncodedSet.ids holds them: what evaluate can call."""
    model = classifier(cell="gru", bidirectional=True, pool="max")
    texts = reviews(150, seed=2)
    torch.manual_seed(1)  # the same weights as classifier()
    weights = {n: t.detach().numpy().copy() for n, t in RecurrentClassifier(model.config).state_dict().items()}
    plain = NumpyClassifier(model.config, weights)
    expected = np.concatenate([plain.probabilities(text[None, :], np.array([len(text)])) for text in texts])
    np.testing.assert_allclose(model.score(texts), expected, atol=1e-5, rtol=0)


def test_table_rows_are_computed_once_and_only_for_seen_tokens():
    model = classifier()
    table = model.layers[0][0].table
    assert set(np.flatnonzero(table.filled)) == {0}  # [PAD] only: padding reads it
    model.score([np.array([5, 7, 5]), np.array([9])])
    assert set(np.flatnonzero(table.filled)) == {0, 5, 7, 9}
    before = table.rows[[5, 7, 9]].copy()
    model.score([np.arange(1, 300)])
    assert table.filled[1:].all()
    np.testing.assert_array_equal(table.rows[[5, 7, 9]], before)  # computed once, never recomputed
    full = table.embedding @ table.w_ih_t + table.bias
    np.testing.assert_allclose(table.rows[1:], full[1:], atol=1e-5, rtol=0)


def test_nothing_to_score():
    assert classifier().score([]).shape == (0, 2)


def test_scores_ragged_ids_as_the_on_disk_corpus_stores_them():
    """evaluate's on-disk splits hold RaggedIds (flat values + offsets): the same probabilities as a list."""
    from reviewrnn.data import RaggedIds

    texts = reviews(100, seed=4)
    offsets = np.concatenate([[0], np.cumsum([len(text) for text in texts])])
    values = np.concatenate(texts)
    ragged = RaggedIds([(values[:0], np.zeros(1, dtype=np.int64)), (values, offsets)])  # an empty chunk, then all
    model = classifier()
    np.testing.assert_array_equal(model.score(ragged), model.score(texts))


def test_the_padding_row_of_the_token_table_is_computed_before_any_review():
    """Padding and dummy rows read the [PAD] row; left as np.empty it held whatever memory held (NaN warnings)."""
    from reviewrnn.config import PAD_ID
    from reviewrnn.fastforward import _TokenTable

    embedding = np.zeros((5, 3), dtype=np.float32)
    table = _TokenTable(embedding, np.ones((3, 4), dtype=np.float32), np.arange(4, dtype=np.float32))
    assert table.filled[PAD_ID] and not table.filled[1:].any()
    assert np.array_equal(table.rows[PAD_ID], np.arange(4, dtype=np.float32))  # zero embedding: the bias


def test_a_whole_table_computed_at_once_has_the_bits_of_rows_computed_as_needed():
    """Much input fills the token table in one pass (EAGER_SHARE); a trickle fills it a few rows at a time."""
    at_once, as_needed = classifier(), classifier()
    at_once.score([np.arange(1, 300)])
    for start in range(1, 300, 7):
        as_needed.score([np.arange(start, min(start + 7, 300))])
    for eager, lazy in zip(at_once.layers[0], as_needed.layers[0]):
        assert eager.table.filled.all() and lazy.table.filled.all()
        np.testing.assert_array_equal(eager.table.rows, lazy.table.rows)


@pytest.mark.parametrize(
    "layout", [exactrows.Layout(64, False), exactrows.Layout(16, True), exactrows.Layout(1, False)]
)
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_every_product_layout_gives_the_plain_forward_pass(cell, layout, monkeypatch):
    """The machine picks one layout; the others (column-major above all: the GRU splits its first
    addition there) must compute the same function wherever they are picked."""
    monkeypatch.setattr(exactrows, "choose", lambda w: layout)
    model = classifier(cell=cell, bidirectional=True, layers=2, pool="maxmean", threads=1)
    assert model.layers[1][0].hh_layout == model.layers[1][0].ih_layout == layout
    texts = reviews(2 * BLOCK_ROWS + 9, seed=4)
    torch.manual_seed(1)  # the same weights as classifier()
    weights = {n: t.detach().numpy().copy() for n, t in RecurrentClassifier(model.config).state_dict().items()}
    plain = NumpyClassifier(model.config, weights)
    expected = np.concatenate([plain.probabilities(text[None, :], np.array([len(text)])) for text in texts])
    np.testing.assert_allclose(model.score(texts), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_saturated_gates_give_exact_zeros_and_ones_without_a_warning(cell, threads):
    """Sigmoid gates are 1 / (1 + exp(-a)): for a < -88, exp(-a) is inf in float32, the gate exactly 0, and
    numpy's overflow warning (which would reach a pipeline's stderr) is silenced on every worker thread."""
    import warnings

    model = classifier(cell=cell, threads=threads)  # one thread: the steps run under this thread's errstate
    for directions in model.layers:
        for direction in directions:
            direction.w_hh *= 400.0  # pre-activations in the hundreds: every sigmoid saturates
    texts = reviews(3 * BLOCK_ROWS, seed=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):  # this thread's state; the workers start from numpy's default
            saturated = model.score(texts)
    assert np.isfinite(saturated).all()
    hidden = model.config.hidden
    gates = np.array([-500.0, -90.0, -30.0, 0.0, 30.0, 90.0, 500.0], dtype=np.float32)
    from reviewrnn.cellsteps import sigmoid_of_negated

    values = np.tile(-gates, (1, hidden))  # the negated pre-activations, as the gate layout leaves them
    with np.errstate(over="ignore"):
        sigmoid_of_negated(values)
    assert values[0, 0] == 0.0 and values[0, 1] == 0.0 and values[0, 3] == 0.5 and values[0, 6] == 1.0
    expected = torch.sigmoid(torch.from_numpy(gates)).numpy()
    np.testing.assert_allclose(values[0, :7], expected, atol=1e-7, rtol=0)


def test_tanh_from_exp_is_within_3e_7_of_tanh_and_saturates_to_exact_ones():
    """tanh gates and the LSTM's tanh(c) are 2 / (1 + exp(-2a)) - 1 on pre-activations scaled by -2: an
    absolute error of a few float32 ulps of 1 near 0, exact 0 at 0, exact -1 and 1 where exp overflows."""
    from reviewrnn.cellsteps import tanh_of_scaled

    edges = np.array([-500, -90, -45, -9, -1e-3, -1e-30, 0, 1e-30, 1e-3, 9, 45, 90, 500], dtype=np.float32)
    a = np.concatenate([edges, np.random.default_rng(9).standard_normal(20_000).astype(np.float32) * 3])
    scaled = -2.0 * a  # exact: a power of two
    out = np.empty_like(scaled)
    with np.errstate(over="ignore"):
        tanh_of_scaled(scaled, out=out)
    assert np.abs(out - np.tanh(a.astype(np.float64))).max() <= 3e-7
    assert (out[:3] == -1.0).all() and (out[10:13] == 1.0).all() and out[6] == 0.0
    np.testing.assert_array_equal(scaled, -2.0 * a)  # the input is left alone when out is another array
    in_place = scaled.copy()
    with np.errstate(over="ignore"):
        tanh_of_scaled(in_place, out=in_place)
    np.testing.assert_array_equal(in_place, out)


def test_close_ends_the_worker_threads_and_a_later_score_starts_new_ones():
    import threading

    def workers() -> int:
        return sum(thread.name.startswith("reviewrnn-forward") for thread in threading.enumerate())

    model, texts = classifier(threads=2), reviews(4 * BLOCK_ROWS, seed=8)
    before = workers()
    first = model.score(texts)
    assert workers() > before  # one or two, as the pool found a worker idle or not
    model.close()
    assert workers() == before
    np.testing.assert_array_equal(model.score(texts), first)
    model.close()
