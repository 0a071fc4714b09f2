"""Reading whole reviews: every review's length in tokens, so a run's max_tokens can keep all of it.

data.truncate keeps ids[:max_tokens]; with max_tokens at least the longest review of every split,
nothing is cut. The lengths are measured once per study with the study's own tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

LONGEST_KEPT = 256  # how many of the longest TEST lengths results.json keeps (the gradient probe picks from them)


def review_lengths(corpus_spec: str, tokenizer_path: Path) -> dict:
    """The longest review of each split in tokens, the token totals, and the longest TEST lengths in order."""
    from reviewrnn.source import CorpusSettings, read_split
    from reviewrnn.tokenizer import encode, load_tokenizer

    tokenizer = load_tokenizer(tokenizer_path)
    _, split = read_split(CorpusSettings(corpus_spec), 0.1)
    parts = {"train": split.train, "valid": split.valid, "test": split.test}
    lengths = {name: np.array([len(ids) for ids in encode(tokenizer, part.texts)]) for name, part in parts.items()}
    return lengths_summary(lengths)


def lengths_summary(lengths: dict[str, np.ndarray]) -> dict:
    summary = {f"{name}_longest": int(values.max(initial=0)) for name, values in lengths.items()}
    summary |= {f"{name}_tokens": int(values.sum()) for name, values in lengths.items()}
    summary["longest"] = max(1, *(summary[f"{name}_longest"] for name in lengths))
    summary["test_top"] = sorted(map(int, lengths["test"]), reverse=True)[:LONGEST_KEPT]
    return summary


def gradient_length(whole: dict, reviews: int) -> int:
    """The length the gradient probe cuts to: that of the `reviews`-th longest TEST review, so `reviews` reach it."""
    top = whole["test_top"]
    return max(1, top[min(reviews, len(top)) - 1]) if top else 1
