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
        (2000, [25, 100, 500], 1, False, 1 << 19),  # one row: all clusters but one empty
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
