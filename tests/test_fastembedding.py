"""The CPU embedding path must give nn.Embedding's outputs and gradients, padding row included."""

from __future__ import annotations

import pytest
import torch

from reviewrnn.fastembedding import EmbeddingFunction, embed


@pytest.mark.parametrize("padding_idx", [0, None])
def test_outputs_and_gradients_match_nn_embedding(padding_idx):
    torch.manual_seed(0)
    layer = torch.nn.Embedding(30, 5, padding_idx=padding_idx).double()
    ids = torch.randint(0, 30, (4, 50))  # many repeats, padding id 0 among them
    ids[:, -3:] = 0
    upstream = torch.randn(4, 50, 5, dtype=torch.double)
    expected_out = layer(ids)
    (expected,) = torch.autograd.grad(expected_out, layer.weight, upstream)
    ours = embed(layer, ids)
    (got,) = torch.autograd.grad(ours, layer.weight, upstream)
    assert ours.grad_fn.name().startswith("EmbeddingFunction")
    assert torch.equal(ours, expected_out)
    assert torch.allclose(got, expected, atol=1e-12)
    assert (got[0] == 0).all() == (padding_idx == 0)


def test_gradcheck():
    torch.manual_seed(1)
    weight = torch.randn(7, 3, dtype=torch.double, requires_grad=True)
    ids = torch.tensor([[1, 2, 2, 0], [6, 1, 0, 0]])
    assert torch.autograd.gradcheck(lambda w: EmbeddingFunction.apply(ids, w, None), (weight,))


def test_layers_the_fast_path_does_not_cover_keep_torch():
    layer = torch.nn.Embedding(10, 3, max_norm=1.0)
    ids = torch.tensor([[1, 2]])
    assert embed(layer, ids).grad_fn.name() == "EmbeddingBackward0"
    assert embed(torch.nn.Embedding(10, 3), ids, fast=False).grad_fn.name() == "EmbeddingBackward0"
