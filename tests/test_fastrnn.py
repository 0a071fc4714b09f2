"""The hand-written CPU path must be the standard cell equations: same outputs and gradients as torch."""

from __future__ import annotations

import pytest
import torch

from reviewrnn import kernels
from reviewrnn.config import ModelConfig
from reviewrnn.fastrnn import GRUFunction, TanhRNNFunction, fast_path_applies, run_layer
from reviewrnn.kernels import Plan
from reviewrnn.model import RecurrentClassifier

CASES = [("rnn", torch.nn.RNN, TanhRNNFunction), ("gru", torch.nn.GRU, GRUFunction)]


@pytest.mark.parametrize(("cell", "module", "function"), CASES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("block", [32, 4, 1], ids=["one-block", "blocks-of-4", "blocks-of-1"])
@pytest.mark.parametrize("backend", kernels.BACKENDS)
def test_outputs_and_gradients_match_torch(cell, module, function, dtype, block, backend):
    """13 steps in one block, in blocks of 4 (the last one short) and of 1: the carries between blocks;
    on either library for the block products."""
    torch.manual_seed(0)
    layer = module(6, 9, batch_first=True).to(dtype)
    x = torch.randn(4, 13, 6, dtype=dtype, requires_grad=True)
    reference = layer(x)[0]
    upstream = torch.randn_like(reference)
    parameters = [layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0]
    expected = torch.autograd.grad(reference, [x, *parameters], upstream)
    ours = function.apply(x, *parameters, Plan(backend, block))
    got = torch.autograd.grad(ours, [x, *parameters], upstream)
    tolerance = 1e-12 if dtype == torch.float64 else 2e-5
    assert torch.allclose(ours, reference, atol=tolerance)
    for mine, theirs in zip(got, expected, strict=True):
        assert torch.allclose(mine, theirs, atol=tolerance * 10)


@pytest.mark.parametrize(("cell", "module", "function"), CASES)
def test_gradcheck(cell, module, function):
    torch.manual_seed(1)
    layer = module(3, 4, batch_first=True).double()
    x = torch.randn(2, 5, 3, dtype=torch.double, requires_grad=True)
    inputs = (x, layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0)
    assert torch.autograd.gradcheck(lambda *tensors: function.apply(*tensors, Plan("mkl", 2)), inputs)


def test_backward_leaves_the_upstream_gradient_untouched():
    torch.manual_seed(2)
    layer = torch.nn.GRU(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3, requires_grad=True)
    out = GRUFunction.apply(x, layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0)
    upstream = torch.randn_like(out).transpose(0, 1).contiguous().transpose(0, 1)  # time-major storage
    kept = upstream.clone()
    out.backward(upstream)
    assert torch.equal(upstream, kept)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("backend", kernels.BACKENDS)
def test_whole_model_matches_with_and_without_fast_path(cell, bidirectional, backend, monkeypatch):
    monkeypatch.setenv(kernels.ENV, backend)
    monkeypatch.setattr(kernels, "_CHOSEN", {})  # this process's plans, fixed at first use: a fresh set
    config = ModelConfig(
        cell=cell, vocab_size=50, embed=8, hidden=6, layers=2, bidirectional=bidirectional, dropout=0.0, pool="last"
    )
    torch.manual_seed(3)
    model = RecurrentClassifier(config)
    ids = torch.randint(1, 50, (3, 11))
    lengths = torch.tensor([11, 7, 2])
    ids[1, 7:] = 0
    ids[2, 2:] = 0
    results = []
    for fast in (True, False):
        model.zero_grad()
        model.fast_cpu_path = fast
        logits = model(ids, lengths)
        logits.sum().backward()
        results.append((logits.detach(), [p.grad.clone() for p in model.parameters()]))
    (fast_logits, fast_grads), (torch_logits, torch_grads) = results
    assert torch.allclose(fast_logits, torch_logits, atol=1e-5)
    for mine, theirs in zip(fast_grads, torch_grads, strict=True):
        assert torch.allclose(mine, theirs, atol=1e-5)


def test_fast_path_only_for_rnn_and_gru_on_cpu_float32():
    x = torch.zeros(1, 2, 3)
    assert fast_path_applies("rnn", x) and fast_path_applies("gru", x)
    assert not fast_path_applies("lstm", x)
    assert not fast_path_applies("gru", x.double())
    lstm = torch.nn.LSTM(3, 4, batch_first=True)
    assert torch.equal(run_layer(lstm, "lstm", x), lstm(x)[0])


@pytest.mark.parametrize("backend", kernels.BACKENDS)
def test_block_products_match_plain_matmul_in_float32(backend):
    """linear goes through oneDNN or MKL for float32; either way it must be a @ w.T + b."""
    torch.manual_seed(4)
    a, weight, bias = torch.randn(300, 40), torch.randn(24, 40), torch.randn(24)
    expected = a.double() @ weight.double().t() + bias.double()
    assert torch.allclose(kernels.linear(a, weight, bias, backend).double(), expected, atol=1e-4)
    strided_a, strided_weight = a.t().contiguous().t(), weight.t().contiguous().t()  # views, as in the backward
    got = kernels.linear(strided_a, strided_weight, None, backend).double()
    assert torch.allclose(got, expected - bias.double(), atol=1e-4)
    assert kernels.linear(a.double(), weight.double(), None, backend).dtype == torch.float64
