"""Where a command's reviews come from: the corpus settings, the split checked for empty parts, a summary.

Every command that reads a corpus goes through here, so the split rules and checks live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from reviewrnn.config import TrainConfig
from reviewrnn.corpus import Corpus, Split, load_corpus, split_corpus
from reviewrnn.errors import ReviewRNNError

SPLITS = ("train", "valid", "test")


@dataclass
class CorpusSettings:
    """How to find and read the corpus (`--corpus`, `--text-column`, `--label-column`)."""

    spec: str = "imdb"
    text_column: str | None = None
    label_column: str | None = None


def read_split(
    settings: CorpusSettings, valid_fraction: float, label_names: list[str] | None = None
) -> tuple[Corpus, Split]:
    corpus = load_corpus(settings.spec, settings.text_column, settings.label_column, label_names)
    split = split_corpus(corpus.examples, valid_fraction)
    for part, size in split.sizes().items():
        if size == 0 and part != "valid":
            raise ReviewRNNError(
                f"{settings.spec}: the {part} split is empty after de-duplication; the corpus needs more reviews"
            )
    return corpus, split


def corpus_summary(settings: CorpusSettings, valid_fraction: float = TrainConfig.valid_fraction) -> dict:
    """What `reviewrnn corpus` shows: where it lives, split sizes, class balance, length quantiles in words."""
    from reviewrnn.fetch import cache_dir
    from reviewrnn.tokenizer import quantile

    corpus, split = read_split(settings, valid_fraction)
    parts = {}
    for name in SPLITS:
        part = getattr(split, name)
        words = sorted(len(text.split()) for text in part.texts)
        counts = [part.labels.count(k) for k in range(len(corpus.label_names))]
        parts[name] = {
            "count": len(part),
            "class_share": [count / max(len(part), 1) for count in counts],
            "words": {"median": quantile(words, 0.5), "p90": quantile(words, 0.9), "p99": quantile(words, 0.99)},
        }
    return {
        "name": corpus.name,
        "path": str(corpus.path) if corpus.path else None,
        "sha256": corpus.sha256,
        "cache_dir": str(cache_dir()),
        "rows": len(corpus.examples),
        "duplicates_dropped": split.duplicates_dropped,
        "text_column": corpus.text_column,
        "label_column": corpus.label_column,
        "label_names": corpus.label_names,
        "splits": parts,
    }
