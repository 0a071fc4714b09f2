"""Pretraining speed: training tokens/s of the language model with the adaptive softmax it uses (lm.py), against a
full softmax tied to the embedding, on IMDB TRAIN chunks; per cell, one thread unless --threads says otherwise.

  python benchmarks/lm_softmax.py --steps 20 --threads 1
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
    args = parser.parse_args()
    runtime.set_threads(args.threads)
    runtime.keep_freed_memory()
    train = TrainConfig(limit=args.texts, max_tokens=256)
    texts = gather_texts(TextSpec("imdb"), train.valid_fraction, train.limit)
    tokenizer = lm_tokenizer(texts, train, TokenizerConfig(), print)
    chunks = chunk_texts(_encode(tokenizer, texts.train), train.max_tokens)
    print(f"{len(chunks)} chunks of up to 256 tokens, batch {train.batch_size}, {args.threads} thread(s)")
    for cell in args.cells.split(","):
        config = ModelConfig(cell=cell, vocab_size=tokenizer.get_vocab_size(), dropout=0.1)
        for kind in (LanguageModel, TiedFullSoftmax):
            rate = tokens_per_second(kind, config, chunks, args.steps, train.batch_size)
            print(f"{cell} bidirectional {config.hidden}, {kind.__name__}: {rate:,.0f} training tokens/s")


if __name__ == "__main__":
    main()
