"""inference.py and fastforward.py: both numpy forward passes equal the torch model; expected_shapes()
equals its state_dict."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from reviewrnn import inference
from reviewrnn.config import CELLS, PAD_ID, POOLS, ModelConfig
from reviewrnn.fastforward import BLOCK_ROWS, FastClassifier
from reviewrnn.inference import NumpyClassifier, expected_shapes, softmax
from reviewrnn.model import RecurrentClassifier

SHAPES = list(itertools.product(CELLS, (False, True), (1, 2), POOLS))


def shape_id(shape) -> str:
    cell, bidirectional, layers, pool = shape
    return f"{cell}-{'bi' if bidirectional else 'uni'}-{layers}L-{pool}"


def torch_model(cell, bidirectional, layers, pool, classes=3) -> RecurrentClassifier:
    torch.manual_seed(0)
    config = ModelConfig(
        cell=cell,
        vocab_size=50,
        num_classes=classes,
        embed=6,
        hidden=7,
        layers=layers,
        bidirectional=bidirectional,
        pool=pool,
    )
    model = RecurrentClassifier(config).eval()
    with torch.no_grad():  # larger weights than the default init, so every gate really saturates somewhere
        for parameter in model.parameters():
            parameter.mul_(2.0)
    return model


def numpy_weights(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {name: tensor.detach().numpy().copy() for name, tensor in model.state_dict().items()}


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_numpy_probabilities_equal_torch(shape):
    model = torch_model(*shape)
    generator = np.random.default_rng(1)
    lengths = np.array([1, 9, 4, 13, 2], dtype=np.int64)
    ids = np.full((len(lengths), lengths.max()), PAD_ID, dtype=np.int64)
    for row, length in enumerate(lengths):
        ids[row, :length] = generator.integers(1, 50, size=length)
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(ids), torch.from_numpy(lengths)), dim=1).numpy()
    got = NumpyClassifier(model.config, numpy_weights(model)).probabilities(ids, lengths)
    assert got.shape == (5, 3)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert np.ptp(expected[:, 0]) > 1e-3  # the rows differ: a constant output would prove nothing


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_fast_probabilities_equal_torch(shape):
    """Several blocks (two threads), one partly filled, lengths 1 to 40 padded in one matrix."""
    model = torch_model(*shape)
    generator = np.random.default_rng(3)
    lengths = generator.integers(1, 41, size=2 * BLOCK_ROWS + 22)
    lengths[:3] = [1, 40, 1]
    ids = np.full((len(lengths), lengths.max()), PAD_ID, dtype=np.int64)
    for row, length in enumerate(lengths):
        ids[row, :length] = generator.integers(1, 50, size=length)
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(ids), torch.from_numpy(lengths)), dim=1).numpy()
    got = FastClassifier(model.config, numpy_weights(model), threads=2).probabilities(ids, lengths)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert np.ptp(expected[:, 0]) > 1e-3


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_expected_shapes_match_the_torch_state_dict(shape):
    model = torch_model(*shape)
    assert expected_shapes(model.config) == {name: tuple(t.shape) for name, t in model.state_dict().items()}


def test_numpy_reverse_within_length_matches_torch():
    from reviewrnn.model import reverse_within_length as torch_reverse

    x = np.random.default_rng(2).normal(size=(4, 6, 3)).astype(np.float32)
    lengths = np.array([1, 6, 3, 4])
    np.testing.assert_array_equal(
        inference.reverse_within_length(x, lengths),
        torch_reverse(torch.from_numpy(x), torch.from_numpy(lengths)).numpy(),
    )


def test_softmax_is_stable_and_normalised():
    probabilities = softmax(np.array([[1000.0, 0.0], [-1000.0, -1000.0], [1.0, 2.0]]))
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    np.testing.assert_allclose(probabilities[1], [0.5, 0.5])
    np.testing.assert_allclose(probabilities[2], [1 / (1 + np.e), np.e / (1 + np.e)])


def test_sigmoid_does_not_overflow():
    values = inference._sigmoid(np.array([-1e4, 0.0, 1e4], dtype=np.float32))
    np.testing.assert_allclose(values, [0.0, 0.5, 1.0], atol=1e-7)
