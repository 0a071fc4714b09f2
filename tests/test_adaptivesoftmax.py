"""adaptivesoftmax.target_log_prob gives torch's AdaptiveLogSoftmaxWithLoss output and gradients."""

from __future__ import annotations

import pytest
import torch

from reviewrnn import adaptivesoftmax
from reviewrnn.adaptivesoftmax import target_log_prob


def gradients(softmax, input, target, log_prob) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    softmax.zero_grad()
    input = input.detach().clone().requires_grad_(True)
    output = log_prob(input, target)
    weights = torch.linspace(0.5, 1.5, len(target))  # unequal row weights, as a masked or scaled loss gives
    (output * weights).sum().backward()
    return (
        output.detach(),
        input.grad,
        {name: p.grad.clone() for name, p in softmax.named_parameters() if p.grad is not None},
    )


@pytest.mark.parametrize(
    ("vocab", "cutoffs", "rows", "head_bias", "slice_values"),
    [
        (2000, [25, 100, 500], 600, False, 1 << 19),  # lm.cutoffs' shape of clusters, one slice each
        (2000, [25, 100, 500], 600, False, 700),  # slices of 1, 1 and 4 rows: every slice boundary
        (300, [40], 257, True, 1000),  # one cluster, a head bias
        (2000, [25, 100, 500], 1, False, 1 << 19),  # one row, target 0: every cluster empty
    ],
)
def test_target_log_prob_matches_torchs_adaptive_softmax(vocab, cutoffs, rows, head_bias, slice_values, monkeypatch):
    monkeypatch.setattr(adaptivesoftmax, "SLICE_VALUES", slice_values)
    torch.manual_seed(0)
    softmax = torch.nn.AdaptiveLogSoftmaxWithLoss(32, vocab, cutoffs, div_value=2.0, head_bias=head_bias)
    input = 3 * torch.randn(rows, 32)  # large enough logits that an unshifted exp would lose digits
    target = torch.randint(0, vocab, (rows,))
    target[: min(rows, 4)] = torch.tensor([0, cutoffs[0], vocab - 1, cutoffs[-1] - 1])[: min(rows, 4)]
    theirs = gradients(softmax, input, target, lambda x, t: softmax(x, t).output)
    ours = gradients(softmax, input, target, lambda x, t: target_log_prob(softmax, x, t))
    exact = gradients(
        softmax.double(), input.double(), target, lambda x, t: softmax(x, t).output
    )  # torch's, in float64
    softmax.float()
    torch.testing.assert_close(ours[0], theirs[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours[1], theirs[1], rtol=1e-5, atol=1e-5)
    assert ours[2].keys() == theirs[2].keys() == exact[2].keys()  # an empty cluster's weights get no gradient
    for name, truth in exact[2].items():  # a sum over hundreds of rows: as close to float64 as torch's float32 is
        ours_error, theirs_error = ((found[2][name].double() - truth).abs().max() for found in (ours, theirs))
        assert ours_error <= max(2 * theirs_error, 1e-6 * truth.abs().max()), name


def test_target_log_prob_without_gradients_and_at_extreme_logits():
    torch.manual_seed(1)
    softmax = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 500, [20, 100])
    input = 1e3 * torch.randn(50, 16)  # logits in the thousands: exp without the row's maximum overflows
    target = torch.randint(0, 500, (50,))
    with torch.no_grad():
        ours, theirs = target_log_prob(softmax, input, target), softmax(input, target).output
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-2)


def test_target_log_prob_in_float64_is_torchs_to_float64_rounding():
    torch.manual_seed(2)
    softmax = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 900, [30, 200], div_value=2.0).double()
    input, target = torch.randn(300, 16, dtype=torch.float64), torch.randint(0, 900, (300,))
    ours = gradients(softmax, input, target, lambda x, t: target_log_prob(softmax, x, t))
    theirs = gradients(softmax, input, target, lambda x, t: softmax(x, t).output)
    for mine, truth in zip((ours[0], ours[1], *ours[2].values()), (theirs[0], theirs[1], *theirs[2].values())):
        torch.testing.assert_close(mine, truth, rtol=1e-12, atol=1e-12)
    assert (ours[0] <= 0).all()


def test_target_log_prob_refuses_what_torch_refuses():
    softmax = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 500, [20, 100])
    with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 499\]"):
        target_log_prob(softmax, torch.randn(3, 16), torch.tensor([0, 500, 3]))
    hidden, weights = torch.randn(3, 16, requires_grad=True), torch.ones(3, requires_grad=True)
    log_prob = target_log_prob(softmax, hidden, torch.tensor([1, 50, 300]))
    (grad,) = torch.autograd.grad(log_prob, hidden, grad_outputs=weights, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):  # a second derivative would leave out
        grad.sum().backward()  # the cluster normaliser's dependence on the weights: refused, not wrong


def test_the_language_models_loss_and_gradients_are_torchs_on_the_fast_path():
    """lm.LanguageModel's CPU path (target_log_prob) against torch's module (fast_cpu_path False): the loss it
    trains on and every weight's gradient."""
    from reviewrnn.config import ModelConfig
    from reviewrnn.lm import LanguageModel

    torch.manual_seed(3)
    model = LanguageModel(ModelConfig(cell="gru", vocab_size=600, embed=16, hidden=32, dropout=0.0)).double()
    ids, lengths = torch.randint(4, 600, (6, 40)), torch.tensor([40, 33, 20, 9, 2, 1])
    found = {}
    for fast in (True, False):
        model.fast_cpu_path = fast
        model.zero_grad()
        total, count = model(ids, lengths)
        (total / count).backward()
        found[fast] = (
            total.detach(),
            count,
            {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None},
        )
    assert found[True][1] == found[False][1] == 2 * (40 + 33 + 20 + 9 + 2 + 1 - 6)
    torch.testing.assert_close(found[True][0], found[False][0], rtol=1e-12, atol=1e-10)
    assert found[True][2].keys() == found[False][2].keys()
    for name, grad in found[False][2].items():
        torch.testing.assert_close(found[True][2][name], grad, rtol=1e-9, atol=1e-11, msg=name)
