"""Pretraining speed: training tokens/s of the language model with the adaptive softmax it uses (lm.py, computed by
adaptivesoftmax.py a slice of rows at a time), against torch's own AdaptiveLogSoftmaxWithLoss forward (the same
weights and function) and a full softmax tied to the embedding, on IMDB TRAIN chunks; per cell, one thread unless
--threads says otherwise. Each rate is printed with its ratio to torch's adaptive softmax from the same run.

  python benchmarks/lm_softmax.py --steps 20 --threads 1
  python benchmarks/lm_softmax.py --threads 2 --cells lstm --kinds sliced,torch   # the sliced softmax's A/B
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.nn import functional

from reviewrnn import runtime
from reviewrnn.config import ModelConfig, TokenizerConfig, TrainConfig
from reviewrnn.data import length_grouped_batches, pad_batch
from reviewrnn.lm import LanguageModel
from reviewrnn.lmtexts import TextSpec, gather_texts
from reviewrnn.lmtrain import chunk_texts, token_counts
from reviewrnn.pretraining import _encode, lm_tokenizer


class TiedFullSoftmax(LanguageModel):
    """The same model with a full softmax whose output matrix is the embedding (needs embed == hidden)."""

    def _summed(self, softmax, states, targets, keep):
        chosen = self.dropout(states[keep])  # (N, H)
        logits = functional.linear(chosen, self.embedding.weight)  # (N, V) over token ids, not ranks
        ids = torch.argsort(self.output_order)[targets[keep]]  # ranks back to ids
        return functional.cross_entropy(logits, ids, reduction="sum")


class TorchAdaptiveSoftmax(LanguageModel):
    """The same model through torch's AdaptiveLogSoftmaxWithLoss forward: the baseline of adaptivesoftmax.py."""

    def _summed(self, softmax, states, targets, keep):
        return -softmax(self.dropout(states[keep]), targets[keep]).output.sum()


KINDS = {"sliced": LanguageModel, "torch": TorchAdaptiveSoftmax, "full": TiedFullSoftmax}


def tokens_per_second(kind: type, config: ModelConfig, chunks, steps: int, batch_size: int) -> float:
    torch.manual_seed(0)
    model = kind(config)
    model.set_output_order(token_counts(chunks, config.vocab_size))
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, fused=True)
    batches = length_grouped_batches(chunks.lengths, batch_size, np.random.default_rng(0))[: steps + 2]
    tokens, seconds = 0, 0.0
    for number, indices in enumerate(batches):
        ids, lengths = (torch.from_numpy(a) for a in pad_batch([chunks.ids[i] for i in indices]))
        started = time.perf_counter()
        summed, count = model(ids, lengths)
        optimizer.zero_grad(set_to_none=True)
        (summed / count).backward()
        optimizer.step()
        if number >= 2:  # the first steps warm the allocator and the kernels
            seconds += time.perf_counter() - started
            tokens += int(lengths.sum())
    return tokens / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cells", default="lstm,gru")
    parser.add_argument("--texts", type=int, default=3000, help="IMDB TRAIN texts to cut chunks from")
    parser.add_argument("--kinds", default="sliced,torch,full", help=f"softmaxes to time, of {', '.join(KINDS)}")
    args = parser.parse_args()
    kinds = [name.strip() for name in args.kinds.split(",") if name.strip()]
    if not kinds or set(kinds) - set(KINDS):
        parser.error(f"--kinds: choose from {', '.join(KINDS)}")
    runtime.set_threads(args.threads)
    runtime.keep_freed_memory()
    train = TrainConfig(limit=args.texts, max_tokens=256)
    texts = gather_texts(TextSpec("imdb"), train.valid_fraction, train.limit)
    tokenizer = lm_tokenizer(texts, train, TokenizerConfig(), print)
    chunks = chunk_texts(_encode(tokenizer, texts.train), train.max_tokens)
    print(f"{len(chunks)} chunks of up to 256 tokens, batch {train.batch_size}, {args.threads} thread(s)")
    for cell in args.cells.split(","):
        config = ModelConfig(cell=cell, vocab_size=tokenizer.get_vocab_size(), dropout=0.1)
        rates = {name: tokens_per_second(KINDS[name], config, chunks, args.steps, train.batch_size) for name in kinds}
        for name, rate in rates.items():
            ratio = f" ({rate / rates['torch']:.2f}x torch's adaptive softmax)" if "torch" in rates else ""
            print(f"{cell} bidirectional {config.hidden}, {KINDS[name].__name__}: {rate:,.0f} training tokens/s{ratio}")


if __name__ == "__main__":
    main()
