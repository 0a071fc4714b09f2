"""Train, save, load and apply the subword tokenizer (Hugging Face `tokenizers`, WordPiece).

Normalisation: Unicode NFKC, HTML tags such as `<br />` removed, lowercase; punctuation is kept
as tokens. `[PAD]` is id 0 (the embedding's padding index) and `[UNK]` id 1.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, trainers
from tokenizers.models import WordPiece

from reviewrnn.config import PAD_ID, PAD_TOKEN, UNK_TOKEN, TokenizerConfig
from reviewrnn.errors import ReviewRNNError, brief

HTML_TAG = r"<[^>]{0,200}>"
TRAIN_CHUNK = 1000


@dataclass
class TokenizerReport:
    """What `reviewrnn tokenize` prints: size, lengths and how much falls outside the vocabulary."""

    vocab_size: int
    reviews: int  # the TRAIN reviews it learned from (with a label map, only those the map keeps)
    median_tokens: float
    p90_tokens: float
    p99_tokens: float
    unknown_rate: float
    seconds: float


def build_untrained() -> Tokenizer:
    tokenizer = Tokenizer(WordPiece(unk_token=UNK_TOKEN))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Replace(Regex(HTML_TAG), " "), normalizers.Lowercase()]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.decoder = decoders.WordPiece()
    return tokenizer


def train_tokenizer(texts: list[str], config: TokenizerConfig) -> Tokenizer:
    """Learn a WordPiece vocabulary from TRAIN texts only (never VALID or TEST)."""
    if not texts:
        raise ReviewRNNError("cannot train a tokenizer on no texts")
    tokenizer = build_untrained()
    trainer = trainers.WordPieceTrainer(
        vocab_size=config.vocab_size,
        min_frequency=config.min_frequency,
        special_tokens=[PAD_TOKEN, UNK_TOKEN],
        show_progress=False,
    )
    tokenizer.train_from_iterator(_chunks(texts), trainer=trainer, length=len(texts))
    assert tokenizer.token_to_id(PAD_TOKEN) == PAD_ID
    return tokenizer


def _chunks(texts: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(texts), TRAIN_CHUNK):
        yield texts[start : start + TRAIN_CHUNK]


def encode(tokenizer: Tokenizer, texts: Iterable[str]) -> list[list[int]]:
    """Token ids per text, without special tokens; an empty text gives an empty list."""
    batch = list(texts)
    encodings = tokenizer.encode_batch_fast(batch, add_special_tokens=False)
    return [encoding.ids for encoding in encodings]


def save_tokenizer(tokenizer: Tokenizer) -> str:
    """The tokenizer as one JSON string (written by artifacts.py)."""
    return tokenizer.to_str()


def load_tokenizer(path: Path) -> Tokenizer:
    # tokenizers reports a missing file as a generic Exception, so look first.
    if not Path(path).is_file():
        raise ReviewRNNError(f"{path}: no tokenizer file; train one with `reviewrnn tokenize`")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:
        detail = brief(error)
        raise ReviewRNNError(
            f"{path}: not a valid tokenizer.json ({detail}); retrain it with `reviewrnn tokenize`"
        ) from None
    if tokenizer.token_to_id(PAD_TOKEN) != PAD_ID or tokenizer.token_to_id(UNK_TOKEN) is None:
        raise ReviewRNNError(f"{path}: tokenizer must have {PAD_TOKEN} as id 0 and an {UNK_TOKEN} token")
    return tokenizer


def describe(tokenizer: Tokenizer, texts: list[str], seconds: float = 0.0) -> TokenizerReport:
    """Length quantiles and unknown-token rate of `texts` under `tokenizer`."""
    started = time.perf_counter()
    ids = encode(tokenizer, texts)
    unk = tokenizer.token_to_id(UNK_TOKEN)
    lengths = sorted(len(row) for row in ids) or [0]
    total = sum(lengths)
    unknown = sum(row.count(unk) for row in ids)
    return TokenizerReport(
        vocab_size=tokenizer.get_vocab_size(),
        reviews=len(texts),
        median_tokens=statistics.median(lengths),
        p90_tokens=quantile(lengths, 0.9),
        p99_tokens=quantile(lengths, 0.99),
        unknown_rate=unknown / total if total else 0.0,
        seconds=seconds + (time.perf_counter() - started),
    )


def quantile(sorted_values: list[int] | list[float], q: float) -> float:
    """Nearest-rank quantile of an already sorted list."""
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return float(sorted_values[rank])
