"""A tokenizer for a corpus, trained on its TRAIN split only: once for `reviewrnn tokenize`, cached for runs.

TEST texts never reach a tokenizer: both paths take TRAIN from the canonical split.
"""

from __future__ import annotations

import hashlib
import json
import time

from tokenizers import Tokenizer

from reviewrnn.config import TokenizerConfig
from reviewrnn.source import CorpusSettings, read_split
from reviewrnn.tokenizer import TokenizerReport, describe, load_tokenizer, train_tokenizer


def tokenize_step(
    settings: CorpusSettings, tokenizer_config: TokenizerConfig, valid_fraction: float
) -> tuple[Tokenizer, TokenizerReport]:
    """Train a tokenizer on TRAIN only and describe it on TRAIN."""
    _, split = read_split(settings, valid_fraction)
    started = time.perf_counter()
    tokenizer = train_tokenizer(split.train.texts, tokenizer_config)
    return tokenizer, describe(tokenizer, split.train.texts, time.perf_counter() - started)


def cached_tokenizer(key: dict, texts, config: TokenizerConfig, on_stage, distributed) -> Tokenizer:
    """The tokenizer for this corpus and these settings, trained once and then reused from the cache.

    The `tokenizers` WordPiece trainer breaks ties between equally frequent merges in an order that
    changes from process to process, so training twice can give two vocabularies. Caching it (and
    giving every torchrun rank rank 0's) makes the same seed and data give the same weights.
    """
    from reviewrnn.atomic import atomic_write_bytes
    from reviewrnn.fetch import cache_dir

    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()[:32]
    path = cache_dir() / "tokenizers" / f"{digest}.json"
    text = None
    if distributed is None or distributed.is_main:
        if path.is_file():
            on_stage("loading cached tokenizer")
            text = load_tokenizer(path).to_str()
        else:
            on_stage("training tokenizer")
            text = train_tokenizer(texts, config).to_str()
            atomic_write_bytes(path, text.encode("utf-8"))
    if distributed is not None:
        text = distributed.share_text(text)
    return Tokenizer.from_str(text)
