"""The language model that `reviewrnn pretrain` trains: the classifier's embedding and recurrent layers,
read many-to-many, each state predicting a neighbouring token. No I/O here.

The modules carry the classifier's names (embedding, forward_layers, backward_layers), so the
encoder's part of the state dict loads straight into a RecurrentClassifier. A bidirectional model
is a forward and a backward language model in one pass: the forward state at t has read tokens
0..t and predicts token t+1; the backward state at t has read t..L-1 and predicts token t-1.

A full softmax over 20k tokens costs ~20x the recurrent layers per token (tied to the embedding it
trained at 670 tokens/s here against 3,700 for the adaptive one), so each direction predicts through
torch's adaptive softmax (Grave et al. 2017): frequent tokens in a full head, rarer ones in clusters
of narrower projections, computed by adaptivesoftmax.py (torch's result and module, 2x faster on CPU).
It needs ids in frequency order, so `output_order` maps a token id to its frequency rank on the
training text (a buffer, saved with the weights).
"""

from __future__ import annotations

import torch
from torch import nn

from reviewrnn.adaptivesoftmax import target_log_prob
from reviewrnn.config import PAD_ID, ModelConfig
from reviewrnn.errors import ReviewRNNError
from reviewrnn.model import CELL_CLASSES, RecurrentClassifier, padding_mask

DIV_VALUE = 4  # each cluster's projection is 4x narrower than the one before (torch's default)
MIN_CLUSTER_BOUND = 64
ENCODER_PREFIXES = ("embedding.", "forward_layers.", "backward_layers.")


def cutoffs(vocab_size: int, hidden: int) -> list[int]:
    """Adaptive-softmax cluster bounds: the V/80 most frequent ids in the head, then clusters up to V/20,
    V/4 and the rest. For 20k WordPieces on IMDB the head of 250 covers 64% of running tokens, V/20
    78% and V/4 95%; against [2000, 8000] (84% in the head) a training step ran 2x faster here.
    Bounds under MIN_CLUSTER_BOUND are dropped, and so are clusters whose projection would have no
    width (hidden // DIV_VALUE**k == 0); a small vocabulary gets [V - 1], all but a full softmax."""
    bounds = [bound for bound in (vocab_size // 80, vocab_size // 20, vocab_size // 4) if bound >= MIN_CLUSTER_BOUND]
    widths = [hidden // DIV_VALUE ** (k + 1) for k in range(len(bounds))]
    bounds = [bound for bound, width in zip(bounds, widths, strict=True) if width >= 1]
    return bounds or [vocab_size - 1]


def check_shape(config: ModelConfig) -> None:
    """A stacked bidirectional LM would leak: layer 2's forward cell reads layer 1's backward states,
    which have already read the token it must predict."""
    if config.bidirectional and config.layers > 1:
        raise ReviewRNNError(
            f"a bidirectional language model with {config.layers} layers would see the tokens it predicts "
            "through the other direction; use --layers 1 or --no-bidirectional"
        )


class LanguageModel(nn.Module):
    """Embedding + the classifier's recurrent layers + one adaptive softmax per direction."""

    hidden_states = RecurrentClassifier.hidden_states  # the classifier's own pass: same modules, same names

    def __init__(self, config: ModelConfig):
        super().__init__()
        check_shape(config)
        self.config = config
        cell = CELL_CLASSES[config.cell]
        sizes = [config.embed] + [config.hidden * (2 if config.bidirectional else 1)] * (config.layers - 1)
        self.embedding = nn.Embedding(config.vocab_size, config.embed, padding_idx=PAD_ID)
        with torch.no_grad():  # as the classifier's (model.py); pretrain keeps torch's scale, 1.0
            self.embedding.weight.mul_(config.embed_init)
        self.forward_layers = nn.ModuleList(cell(size, config.hidden, batch_first=True) for size in sizes)
        self.backward_layers = nn.ModuleList(
            cell(size, config.hidden, batch_first=True) for size in (sizes if config.bidirectional else [])
        )
        self.dropout = nn.Dropout(config.dropout)
        self.forward_softmax = self._softmax()
        self.backward_softmax = self._softmax() if config.bidirectional else None
        self.register_buffer("output_order", torch.arange(config.vocab_size))  # token id -> frequency rank
        self.fast_cpu_path = True

    def _softmax(self) -> nn.AdaptiveLogSoftmaxWithLoss:
        vocab = self.config.vocab_size
        return nn.AdaptiveLogSoftmaxWithLoss(
            self.config.hidden, vocab, cutoffs(vocab, self.config.hidden), div_value=DIV_VALUE
        )

    def set_output_order(self, counts: torch.Tensor) -> None:
        """Rank the output ids by their counts on the training text (most frequent first)."""
        ranked = torch.argsort(counts.to(torch.float64), descending=True, stable=True)  # rank -> id
        self.output_order.copy_(torch.argsort(ranked))  # id -> rank

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, int]:
        """ids: (B, T) right-padded, lengths: (B,) -> (summed negative log-likelihood over both directions'
        predictions, number of predictions); each direction predicts length - 1 tokens of each row."""
        forward_states, backward_states = self.hidden_states(ids, lengths)  # (B, T, H) each
        targets = self.output_order[ids]  # (B, T) frequency ranks
        real = padding_mask(lengths.to(ids.device), ids.size(1))  # (B, T)
        has_next = real[:, 1:]  # (B, T-1): position t has a token t+1 (and t+1 has a token t before it)
        total = self._summed(self.forward_softmax, forward_states[:, :-1], targets[:, 1:], has_next)
        count = int(has_next.sum())
        if backward_states is not None:
            total = total + self._summed(self.backward_softmax, backward_states[:, 1:], targets[:, :-1], has_next)
            count *= 2
        return total, count

    def _summed(self, softmax, states: torch.Tensor, targets: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Summed -log p(target) over the kept positions: states (B, T-1, H), targets and keep (B, T-1)."""
        chosen = self.dropout(states[keep])  # (N, H)
        if chosen.numel() == 0:
            return states.sum() * 0.0
        if self.fast_cpu_path and chosen.device.type == "cpu":
            return -target_log_prob(softmax, chosen, targets[keep]).sum()
        return -softmax(chosen, targets[keep]).output.sum()  # CUDA: torch's few large kernels

    def encoder_state(self) -> dict[str, torch.Tensor]:
        """The weights a RecurrentClassifier shares with this model, under the classifier's names."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(ENCODER_PREFIXES)}
