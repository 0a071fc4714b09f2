"""Hand-written backpropagation through time for the tanh RNN and the GRU on CPU.

torch's CPU nn.RNN/nn.GRU record every per-step operation in the autograd graph; at these small
sizes the bookkeeping, not the arithmetic, sets the speed. Here the recurrence runs without
autograd and the backward pass is written out: per step only the recurrent product and a few
element-wise operations. Everything else (input projections, gate-gradient factors, weight
gradients) runs on blocks of time steps, so each block's tensors are still in cache when the steps
read them: a whole review's gate tensors are tens of MB, and passes over them in main memory cost
a fifth of a GRU step. Which library runs the block-sized products (oneDNN or MKL) and how many
steps a block holds is a Plan, measured per machine at first use and cached (kernels.py). The
equations are exactly torch's (tests compare outputs and gradients with nn.RNN/nn.GRU), and the
parameters stay in the nn modules, so state dicts are unchanged.

Shapes: B batch, T steps, E input size, H hidden size; time-major (T, B, .) inside.
"""

from __future__ import annotations

import torch

from reviewrnn.kernels import Plan, linear, plan_for

_ONE = torch.ones(())  # 1 - a * b as addcmul(_ONE, a, b, value=-1): one pass instead of two
DEFAULT_PLAN = Plan()


def _time_major(x: torch.Tensor) -> torch.Tensor:
    """(B, T, D) -> a new contiguous (T, B, D) tensor."""
    return x.new_empty(x.size(1), x.size(0), x.size(2)).copy_(x.transpose(0, 1))


def _blocks(steps: int, block: int) -> list[tuple[int, int]]:
    """[start, end) time ranges of `block` steps, first to last."""
    return [(start, min(start + block, steps)) for start in range(0, steps, block)]


class TanhRNNFunction(torch.autograd.Function):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), h_0 = 0; returns all h_t as (B, T, H)."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, plan=DEFAULT_PLAN):
        steps, batch, hidden = x.size(1), x.size(0), w_hh.size(0)
        x_flat = _time_major(x).view(steps * batch, -1)  # (T * B, E)
        # tanh(a) = 2 sigmoid(2a) - 1, and torch's CPU sigmoid is several times faster than its tanh.
        # Carrying s_t = sigmoid(2 a_t) (h_t = 2 s_t - 1) folds the affine map into the weights:
        # 2 a_t = 2 (W_ih x_t + b) - 2 W_hh 1 + s_{t-1} (4 W_hh^T), so a step is one addmm and one sigmoid.
        bias = 2.0 * (b_ih + b_hh - w_hh.sum(1))
        w_ih2, w_hh_t4 = 2.0 * w_ih, 4.0 * w_hh.t()
        squashed = x.new_empty(steps + 1, batch, hidden)
        squashed[0] = 0.5  # s_0 = 0.5 is h_0 = 0
        for start, end in _blocks(steps, plan.block):
            # The input part lands where the step's result goes; the step adds the recurrent part in place.
            projected = linear(x_flat[start * batch : end * batch], w_ih2, bias, plan.backend)
            squashed[start + 1 : end + 1].view(-1, hidden).copy_(projected)
            for t in range(start, end):
                squashed[t + 1].addmm_(squashed[t], w_hh_t4).sigmoid_()
            squashed[start:end].mul_(2.0).sub_(1.0)  # s -> h for the steps no later step reads as s
        states = squashed
        states[steps].mul_(2.0).sub_(1.0)  # h_t for t = 0..T, (T + 1, B, H)
        ctx.save_for_backward(x_flat, w_ih, w_hh, states)
        ctx.plan = plan
        return states[1:].transpose(0, 1)

    @staticmethod
    def backward(ctx, grad_out):
        x_flat, w_ih, w_hh, states = ctx.saved_tensors
        steps, batch, hidden = states.size(0) - 1, states.size(1), states.size(2)
        grad_w_ih, grad_w_hh = torch.zeros_like(w_ih), torch.zeros_like(w_hh)
        grad_bias = w_hh.new_zeros(hidden)
        grad_x = x_flat.new_empty(x_flat.shape)  # time-major (T * B, E)
        size, plan = min(steps, ctx.plan.block), ctx.plan
        reaching = x_flat.new_empty(size, batch, hidden)  # dLoss/dh_t within the block
        grad_pre = x_flat.new_empty(size, batch, hidden)  # dLoss / d(pre-activation)
        carry = None  # dLoss/dh_{end-1} from the block after this one
        for start, end in reversed(_blocks(steps, plan.block)):
            count = end - start
            reaching[:count].copy_(grad_out[:, start:end].transpose(0, 1))
            if carry is not None:
                reaching[count - 1].add_(carry)
            slope = torch.addcmul(_ONE, states[start + 1 : end + 1], states[start + 1 : end + 1], value=-1.0)
            for i in range(count - 1, -1, -1):  # tanh' = 1 - h^2
                torch.mul(reaching[i], slope[i], out=grad_pre[i])
                if i:  # dh_{t-1} = (its own loss gradient) + grad_pre_t @ W_hh
                    reaching[i - 1].addmm_(grad_pre[i], w_hh)
            carry = grad_pre[0] @ w_hh if start else None
            flat = grad_pre[:count].view(-1, hidden)
            grad_w_ih.addmm_(flat.t(), x_flat[start * batch : end * batch])
            grad_w_hh.addmm_(flat.t(), states[start:end].view(-1, hidden))
            grad_bias.add_(flat.sum(0))
            grad_x[start * batch : end * batch] = linear(flat, w_ih.t(), None, plan.backend)
        grad_x = grad_x.view(steps, batch, -1).transpose(0, 1)
        return grad_x, grad_w_ih, grad_w_hh, grad_bias, grad_bias.clone(), None


class GRUFunction(torch.autograd.Function):
    """torch's GRU: r, z = sigmoid(.), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, plan=DEFAULT_PLAN):
        steps, batch, hidden = x.size(1), x.size(0), w_hh.size(1)
        x_flat = _time_major(x).view(steps * batch, -1)  # (T * B, E)
        (w_ir, w_iz, w_in), (w_hr, w_hz, w_hn) = w_ih.chunk(3), w_hh.chunk(3)
        (b_ir, b_iz, b_in), (b_hr, b_hz, b_hn) = b_ih.chunk(3), b_hh.chunk(3)

        # The loop carries u = (h + 1) / 2 instead of h: with tanh(a) = 2 sigmoid(2a) - 1 the update
        # h' = n + z (h - n) becomes u' = lerp(sigmoid(2 a_n), u, z), one operation, and torch's CPU
        # sigmoid is much faster than its tanh. h W^T = u (2 W^T) - W 1, so the affine parts fold
        # into the weights and biases below. Every per-step buffer is contiguous, because element-wise
        # operations on strided slices are several times slower here.
        inputs = [  # (bias, weight) of the input part of r, z and 2 n_pre
            (b_ir + b_hr - w_hr.sum(1), w_ir),
            (b_iz + b_hz - w_hz.sum(1), w_iz),
            (2.0 * b_in, 2.0 * w_in),
        ]
        rec_n2_bias = 2.0 * (b_hn - w_hn.sum(1))
        w_hr2, w_hz2, w_hn4 = 2.0 * w_hr.t(), 2.0 * w_hz.t(), 4.0 * w_hn.t()
        u = x.new_empty(steps + 1, batch, hidden)
        u[0] = 0.5  # u_0 = 0.5 is h_0 = 0
        r, z, s, rec_n2 = (x.new_empty(steps, batch, hidden) for _ in range(4))
        for start, end in _blocks(steps, plan.block):
            rows = x_flat[start * batch : end * batch]
            # The input parts land in the gate buffers; each step adds its recurrent part in place.
            for (bias, weight), out in zip(inputs, (r, z, s), strict=True):
                out[start:end].view(-1, hidden).copy_(linear(rows, weight, bias, plan.backend))
            for t in range(start, end):
                r[t].addmm_(u[t], w_hr2).sigmoid_()
                z[t].addmm_(u[t], w_hz2).sigmoid_()
                torch.addmm(rec_n2_bias, u[t], w_hn4, out=rec_n2[t])  # 2 (W_hn h + b_hn)
                s[t].addcmul_(r[t], rec_n2[t]).sigmoid_()  # (n + 1) / 2
                torch.lerp(s[t], u[t], z[t], out=u[t + 1])
            u[start:end].mul_(2.0).sub_(1.0)  # u -> h for the steps no later step reads as u
            s[start:end].mul_(2.0).sub_(1.0)  # (n + 1) / 2 -> n
        states = u
        states[steps].mul_(2.0).sub_(1.0)  # h_t for t = 0..T
        ctx.save_for_backward(x_flat, w_ih, w_hh, states, r, z, s, rec_n2)
        ctx.plan = plan
        return states[1:].transpose(0, 1)

    @staticmethod
    def backward(ctx, grad_out):
        x_flat, w_ih, w_hh, states, r, z, candidate, rec_n2 = ctx.saved_tensors
        steps, batch, hidden = candidate.shape
        gates = 3 * hidden
        grad_w_ih, grad_w_hh = torch.zeros_like(w_ih), torch.zeros_like(w_hh)
        grad_b_ih, grad_b_hh = w_hh.new_zeros(gates), w_hh.new_zeros(gates)
        grad_x = x_flat.new_empty(x_flat.shape)  # time-major (T * B, E)
        size, plan = min(steps, ctx.plan.block), ctx.plan
        reaching = x_flat.new_empty(size, batch, hidden)  # dLoss/dh_t within the block
        # Every gate gradient at step t is (dLoss/dh_t) times a factor that does not depend on the
        # gradient itself, so the factors are computed per block, outside the step loop.
        factor = x_flat.new_empty(size, batch, 3, hidden)  # d(W_hh h + b_hh) / dh_t for [r, z, n]
        grad_recurrent = torch.empty_like(factor)
        carry = None  # dLoss/dh_{end-1} from the block after this one
        for start, end in reversed(_blocks(steps, plan.block)):
            count, span = end - start, slice(start, end)
            r_, z_, n_ = r[span], z[span], candidate[span]
            one_minus_z = 1.0 - z_
            d_n = torch.addcmul(_ONE, n_, n_, value=-1.0).mul_(one_minus_z)  # dh'/dn_pre
            torch.mul(d_n, r_, out=factor[:count, :, 2])  # dh'/d(W_hn h + b_hn)
            torch.mul(factor[:count, :, 2], rec_n2[span], out=factor[:count, :, 0])
            factor[:count, :, 0].mul_(1.0 - r_).mul_(0.5)  # dh'/dr_pre
            torch.sub(states[span], n_, out=factor[:count, :, 1]).mul_(z_).mul_(one_minus_z)  # dh'/dz_pre
            reaching[:count].copy_(grad_out[:, span].transpose(0, 1))
            if carry is not None:
                reaching[count - 1].add_(carry)
            for i in range(count - 1, -1, -1):
                torch.mul(reaching[i].unsqueeze(1), factor[i], out=grad_recurrent[i])
                if i:  # dh_{t-1} = own gradient + dh_t * z_t + d(W_hh h + b_hh) @ W_hh
                    reaching[i - 1].addcmul_(reaching[i], z_[i]).addmm_(grad_recurrent[i].view(batch, gates), w_hh)
            flat_rec = grad_recurrent[:count].view(-1, gates)
            if start:
                carry = torch.addmm(reaching[0] * z_[0], flat_rec[:batch], w_hh)
            # The input gates share r and z gradients with the recurrent ones; n's lacks the factor r.
            flat_rz = flat_rec[:, : 2 * hidden]
            flat_n = d_n.mul_(reaching[:count]).view(-1, hidden)
            rows = x_flat[start * batch : end * batch]
            grad_w_ih[: 2 * hidden].addmm_(flat_rz.t(), rows)
            grad_w_ih[2 * hidden :].addmm_(flat_n.t(), rows)
            grad_w_hh.addmm_(flat_rec.t(), states[span].view(-1, hidden))
            grad_b_hh.add_(flat_rec.sum(0))
            grad_b_ih[2 * hidden :].add_(flat_n.sum(0))
            grad_x[start * batch : end * batch] = linear(flat_rz, w_ih[: 2 * hidden].t(), None, plan.backend).add_(
                linear(flat_n, w_ih[2 * hidden :].t(), None, plan.backend)
            )
        grad_b_ih[: 2 * hidden] = grad_b_hh[: 2 * hidden]  # r and z: the same sums as the recurrent biases
        return grad_x.view(steps, batch, -1).transpose(0, 1), grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh, None


FAST_FUNCTIONS = {"rnn": TanhRNNFunction, "gru": GRUFunction}
GATES = {"rnn": 1, "gru": 3}


def fast_path_applies(cell: str, x: torch.Tensor) -> bool:
    """Use the hand-written path for rnn/gru on CPU in float32; CUDA keeps cuDNN's fused kernels."""
    return cell in FAST_FUNCTIONS and x.device.type == "cpu" and x.dtype == torch.float32


def run_layer(layer: torch.nn.RNNBase, cell: str, x: torch.Tensor, fast: bool = True) -> torch.Tensor:
    """One unidirectional single-layer cell over (B, T, D) -> outputs (B, T, H), from h_0 = 0."""
    if fast and fast_path_applies(cell, x):
        function = FAST_FUNCTIONS[cell]
        plan = plan_for(function, cell, x.size(0), x.size(2), layer.hidden_size, GATES[cell])
        return function.apply(x, layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0, plan)
    return layer(x)[0]
