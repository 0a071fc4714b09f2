"""The adaptive softmax's log-probability of each target, as torch's AdaptiveLogSoftmaxWithLoss computes it
(the same module, weights and result), with each cluster's softmax taken a slice of rows at a time.

Why: on IMDB's 20k WordPieces torch builds every cluster's (rows x cluster size) logits, their
log-softmax, its gradient and a zero-filled gather gradient, 45 MB each per batch: larger than glibc
will keep on its heap, so every one is a fresh mapping that page-faults, and the weight gradient of
the 2- and 8-wide cluster projections runs as a tall, 2-column product (65 ms against 7 ms for the same
product transposed, on an AVX2 Zen 3). That was 46% of a pretraining step there. Here a slice of rows
stays in cache, the logits are recomputed in the backward pass (the projections are 2 to 32 wide, so
that product is cheap), and nothing of size rows x cluster outlives a slice.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

SLICE_VALUES = 1 << 19  # logits per slice (2 MB of float32): one slice's passes stay in the L2/L3 cache


class ClusterLogProb(torch.autograd.Function):
    """log softmax(hidden @ weight.T)[i, target[i]] for each row i, a slice of rows at a time."""

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        rows = max(1, SLICE_VALUES // weight.size(0))
        log_norm = hidden.new_empty(hidden.size(0))  # log of each row's softmax denominator
        log_prob = hidden.new_empty(hidden.size(0))
        for start in range(0, hidden.size(0), rows):
            part = slice(start, start + rows)
            logits = hidden[part] @ weight.t()
            top = logits.amax(dim=1, keepdim=True)
            shifted = logits.sub_(top)  # <= 0, and 0 at each row's maximum: the sum below is >= 1
            own = shifted.gather(1, target[part, None]).squeeze(1)
            log_sum = shifted.exp_().sum(dim=1).log_()
            log_prob[part] = own - log_sum  # <= 0 exactly, as a log-probability must be
            log_norm[part] = log_sum + top.squeeze(1)
        ctx.save_for_backward(hidden, weight, target, log_norm)
        return log_prob

    @staticmethod
    @once_differentiable  # log_norm is saved as a constant: a second derivative would be wrong, so none
    def backward(ctx, grad: torch.Tensor):
        hidden, weight, target, log_norm = ctx.saved_tensors
        rows = max(1, SLICE_VALUES // weight.size(0))
        grad_hidden = torch.empty_like(hidden)
        grad_weight_t = hidden.new_zeros(weight.size(1), weight.size(0))  # (k, V): the wide product is the fast one
        for start in range(0, hidden.size(0), rows):
            part = slice(start, start + rows)
            minus_p = (hidden[part] @ weight.t()).sub_(log_norm[part, None]).exp_().mul_(-grad[part, None])
            grad_hidden[part] = minus_p @ weight
            grad_weight_t.addmm_(hidden[part].t(), minus_p)
        chosen = grad[:, None] * hidden  # the target's own logit: +grad * hidden for its row of the weight
        grad_hidden.add_(grad[:, None] * weight[target])
        grad_weight = grad_weight_t.t().contiguous().index_add_(0, target, chosen)
        return grad_hidden, grad_weight, None


def target_log_prob(softmax: nn.AdaptiveLogSoftmaxWithLoss, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """softmax(input, target).output: log p(target) per row, input (N, H), target (N,) in [0, n_classes)."""
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= softmax.n_classes):
        raise RuntimeError(  # torch's own message for the same mistake
            f"Target values should be in [0, {softmax.n_classes - 1}], "
            f"but values in range [{int(target.min())}, {int(target.max())}] were found."
        )
    head_index = target.clone()  # the head's column for each row: the target itself, or its cluster's
    output = input.new_zeros(target.size(0))
    bounds = [0, *softmax.cutoffs]
    for k, (low, high) in enumerate(zip(bounds[1:-1], bounds[2:])):
        rows = ((target >= low) & (target < high)).nonzero().squeeze(1)
        if rows.numel() == 0:
            continue
        head_index[rows] = softmax.shortlist_size + k
        down, up = softmax.tail[k][0], softmax.tail[k][1]
        if down.bias is not None or up.bias is not None:  # torch builds them without; ClusterLogProb has none
            raise ValueError("adaptive softmax clusters with a bias are not supported")
        in_cluster = ClusterLogProb.apply(down(input.index_select(0, rows)), up.weight, target[rows] - low)
        output = output.index_copy(0, rows, in_cluster)
    head = torch.log_softmax(softmax.head(input), dim=1)
    return output + head.gather(1, head_index[:, None]).squeeze(1)
