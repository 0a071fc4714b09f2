"""Hand-written backpropagation through time for the tanh RNN and the GRU on CPU.

torch's CPU nn.RNN/nn.GRU record every per-step operation in the autograd graph; at these small
sizes the bookkeeping, not the arithmetic, sets the speed. Here the recurrence runs without
autograd, the input projections of all time steps are one large matrix product, and the backward
pass is written out: per step only the recurrent product and a few element-wise operations, then
the weight gradients as one large product over all steps. The equations are exactly torch's
(tests compare outputs and gradients with nn.RNN/nn.GRU), and the parameters stay in the nn
modules, so state dicts are unchanged.

Shapes: B batch, T steps, E input size, H hidden size; time-major (T, B, .) inside.
"""

from __future__ import annotations

import torch


def _time_major(x: torch.Tensor) -> torch.Tensor:
    """(B, T, D) -> a new contiguous (T, B, D) tensor (never a view: backward writes into it)."""
    return x.new_empty(x.size(1), x.size(0), x.size(2)).copy_(x.transpose(0, 1))


class TanhRNNFunction(torch.autograd.Function):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), h_0 = 0; returns all h_t as (B, T, H)."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh):
        steps, batch, hidden = x.size(1), x.size(0), w_hh.size(0)
        x_tm = _time_major(x)  # (T, B, E)
        # tanh(a) = 2 sigmoid(2a) - 1, and torch's CPU sigmoid is several times faster than its tanh.
        # Carrying s_t = sigmoid(2 a_t) (h_t = 2 s_t - 1) folds the affine map into the weights:
        # 2 a_t = 2 (W_ih x_t + b) - 2 W_hh 1 + s_{t-1} (4 W_hh^T), so a step is one addmm and one sigmoid.
        bias = 2.0 * (b_ih + b_hh - w_hh.sum(1))
        projected = torch.addmm(bias, x_tm.view(steps * batch, -1), 2.0 * w_ih.t()).view(steps, batch, hidden)
        squashed = x.new_full((steps + 1, batch, hidden), 0.5)  # s_0 = 0.5 is h_0 = 0
        w_hh_t4 = 4.0 * w_hh.t()
        for t in range(steps):
            torch.addmm(projected[t], squashed[t], w_hh_t4, out=squashed[t + 1]).sigmoid_()
        states = squashed.mul_(2.0).sub_(1.0)  # h_t for t = 0..T, (T + 1, B, H)
        ctx.save_for_backward(x_tm, w_ih, w_hh, states)
        return states[1:].transpose(0, 1)

    @staticmethod
    def backward(ctx, grad_out):
        x_tm, w_ih, w_hh, states = ctx.saved_tensors
        steps, batch, hidden = states.size(0) - 1, states.size(1), states.size(2)
        reaching = _time_major(grad_out)  # becomes dLoss/dh_t in place, (T, B, H)
        slope = 1.0 - states[1:] * states[1:]  # tanh' at each step, (T, B, H)
        grad_pre = torch.empty_like(slope)  # dLoss / d(pre-activation), (T, B, H)
        for t in range(steps - 1, -1, -1):
            torch.mul(reaching[t], slope[t], out=grad_pre[t])
            if t:  # dh_{t-1} = (its own loss gradient) + grad_pre_t @ W_hh
                reaching[t - 1].addmm_(grad_pre[t], w_hh)
        flat = grad_pre.view(steps * batch, hidden)
        grad_w_ih = flat.t() @ x_tm.view(steps * batch, -1)
        grad_w_hh = flat.t() @ states[:-1].reshape(steps * batch, hidden)
        grad_bias = flat.sum(0)
        grad_x = (flat @ w_ih).view(steps, batch, -1).transpose(0, 1)
        return grad_x, grad_w_ih, grad_w_hh, grad_bias, grad_bias.clone()


class GRUFunction(torch.autograd.Function):
    """torch's GRU: r, z = sigmoid(.), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh):
        steps, batch, hidden = x.size(1), x.size(0), w_hh.size(1)
        x_flat = _time_major(x).view(steps * batch, -1)  # (T * B, E)
        (w_ir, w_iz, w_in), (w_hr, w_hz, w_hn) = w_ih.chunk(3), w_hh.chunk(3)
        (b_ir, b_iz, b_in), (b_hr, b_hz, b_hn) = b_ih.chunk(3), b_hh.chunk(3)

        # The loop carries u = (h + 1) / 2 instead of h: with tanh(a) = 2 sigmoid(2a) - 1 the update
        # h' = n + z (h - n) becomes u' = lerp(sigmoid(2 a_n), u, z), one operation, and torch's CPU
        # sigmoid is much faster than its tanh. h W^T = u (2 W^T) - W 1, so the affine parts fold
        # into the weights and biases below. Every per-step buffer is contiguous, because element-wise
        # operations on strided slices are several times slower here.
        def input_part(w_i, bias, scale):  # all steps at once: (T, B, H)
            return torch.addmm(bias, x_flat, scale * w_i.t()).view(steps, batch, hidden)

        pre_r = input_part(w_ir, b_ir + b_hr - w_hr.sum(1), 1.0)
        pre_z = input_part(w_iz, b_iz + b_hz - w_hz.sum(1), 1.0)
        pre_n2 = input_part(w_in, 2.0 * b_in, 2.0)  # 2 (W_in x + b_in)
        rec_n2_bias = 2.0 * (b_hn - w_hn.sum(1))
        w_hr2, w_hz2, w_hn4 = 2.0 * w_hr.t(), 2.0 * w_hz.t(), 4.0 * w_hn.t()
        u = x.new_full((steps + 1, batch, hidden), 0.5)  # u_0 = 0.5 is h_0 = 0
        r, z, s, rec_n2 = (x.new_empty(steps, batch, hidden) for _ in range(4))
        for t in range(steps):
            torch.addmm(pre_r[t], u[t], w_hr2, out=r[t]).sigmoid_()
            torch.addmm(pre_z[t], u[t], w_hz2, out=z[t]).sigmoid_()
            torch.addmm(rec_n2_bias, u[t], w_hn4, out=rec_n2[t])  # 2 (W_hn h + b_hn)
            torch.addcmul(pre_n2[t], r[t], rec_n2[t], out=s[t]).sigmoid_()  # (n + 1) / 2
            torch.lerp(s[t], u[t], z[t], out=u[t + 1])
        states = u.mul_(2.0).sub_(1.0)  # h_t for t = 0..T
        candidate = s.mul_(2.0).sub_(1.0)  # n_t
        ctx.save_for_backward(x_flat, w_ih, w_hh, states, r, z, candidate, rec_n2.mul_(0.5))
        return states[1:].transpose(0, 1)

    @staticmethod
    def backward(ctx, grad_out):
        x_flat, w_ih, w_hh, states, r, z, candidate, recurrent_n = ctx.saved_tensors
        steps, batch, hidden = candidate.shape
        # Every gate gradient at step t is (dLoss/dh_t) times a factor that does not depend on the
        # gradient itself, so the factors are computed once for all steps, outside the loop.
        factor = x_flat.new_empty(steps, batch, 3, hidden)  # d(W_hh h + b_hh) / dh_t for [r, z, n]
        d_n = torch.mul(1.0 - z, 1.0 - candidate * candidate)  # dh'/dn_pre
        torch.mul(d_n * recurrent_n, r * (1.0 - r), out=factor[:, :, 0])  # dh'/dr_pre
        torch.mul((states[:-1] - candidate) * z, 1.0 - z, out=factor[:, :, 1])  # dh'/dz_pre
        torch.mul(d_n, r, out=factor[:, :, 2])  # dh'/d(W_hn h + b_hn)
        reaching = _time_major(grad_out)  # becomes dLoss/dh_t in place, (T, B, H)
        grad_recurrent = torch.empty_like(factor)
        for t in range(steps - 1, -1, -1):
            torch.mul(reaching[t].unsqueeze(1), factor[t], out=grad_recurrent[t])
            if t:  # dh_{t-1} = own gradient + dh_t * z_t + d(W_hh h + b_hh) @ W_hh
                reaching[t - 1].addcmul_(reaching[t], z[t]).addmm_(grad_recurrent[t].view(batch, 3 * hidden), w_hh)
        # The input gates share r and z gradients with the recurrent ones; n's lacks the factor r.
        grad_input_gates = grad_recurrent.clone()
        torch.mul(reaching, d_n, out=grad_input_gates[:, :, 2])
        flat_in = grad_input_gates.view(steps * batch, 3 * hidden)
        flat_rec = grad_recurrent.view(steps * batch, 3 * hidden)
        grad_w_ih = flat_in.t() @ x_flat
        grad_w_hh = flat_rec.t() @ states[:-1].reshape(steps * batch, hidden)
        grad_x = (flat_in @ w_ih).view(steps, batch, -1).transpose(0, 1)
        return grad_x, grad_w_ih, grad_w_hh, flat_in.sum(0), flat_rec.sum(0)


FAST_FUNCTIONS = {"rnn": TanhRNNFunction, "gru": GRUFunction}


def fast_path_applies(cell: str, x: torch.Tensor) -> bool:
    """Use the hand-written path for rnn/gru on CPU in float32; CUDA keeps cuDNN's fused kernels."""
    return cell in FAST_FUNCTIONS and x.device.type == "cpu" and x.dtype == torch.float32


def run_layer(layer: torch.nn.RNNBase, cell: str, x: torch.Tensor, fast: bool = True) -> torch.Tensor:
    """One unidirectional single-layer cell over (B, T, D) -> outputs (B, T, H), from h_0 = 0."""
    if fast and fast_path_applies(cell, x):
        return FAST_FUNCTIONS[cell].apply(x, layer.weight_ih_l0, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0)
    return layer(x)[0]
