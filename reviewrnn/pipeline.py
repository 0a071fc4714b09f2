"""The steps behind each command: corpus -> tokenizer -> training -> saved model -> evaluation.

Each step takes what it needs as arguments and returns values; the CLI only parses and renders.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tokenizers import Tokenizer

from reviewrnn.artifacts import write_eval
from reviewrnn.config import DEFAULT_LENGTH_EDGES, TokenizerConfig, TrainConfig
from reviewrnn.corpus import Corpus, Split, load_corpus, split_corpus
from reviewrnn.errors import ReviewRNNError
from reviewrnn.tokenizer import TokenizerReport, describe, train_tokenizer

SPLITS = ("train", "valid", "test")
PACKAGES = ("reviewrnn", "torch", "tokenizers", "datasets", "numpy", "safetensors")


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


def tokenize_step(
    settings: CorpusSettings, tokenizer_config: TokenizerConfig, valid_fraction: float
) -> tuple[Tokenizer, TokenizerReport]:
    """Train a tokenizer on TRAIN only and describe it on TRAIN."""
    _, split = read_split(settings, valid_fraction)
    started = time.perf_counter()
    tokenizer = train_tokenizer(split.train.texts, tokenizer_config)
    return tokenizer, describe(tokenizer, split.train.texts, time.perf_counter() - started)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def evaluate_step(
    models: Path | list[Path],
    settings: CorpusSettings | None = None,
    split_name: str = "test",
    edges: tuple[int, ...] = DEFAULT_LENGTH_EDGES,
    device_name: str = "auto",
    threads: int | None = None,
) -> dict:
    """Score a saved model on a split of its corpus (or another one); one model also gets MODEL/eval.json.

    Several models are scored as an ensemble: the mean of their probabilities, and no file is
    written. All read the same corpus (the first model's unless `settings` names another), each
    with its own tokenizer and length limit. Lengths, labels and the truncation count come from
    the first. The models are checked against each other before anything is scored.
    """
    directories = [models] if isinstance(models, Path) else list(models)
    report = _score_models(directories, settings, split_name, edges, device_name, threads)
    if len(directories) == 1:
        write_eval(directories[0], report)
    return report


def _score_models(directories, settings, split_name, edges, device_name, threads) -> dict:
    from reviewrnn import runtime
    from reviewrnn.artifacts import load_model
    from reviewrnn.evaluate import classification_report

    if split_name not in SPLITS:
        raise ReviewRNNError(f"--split must be one of {', '.join(SPLITS)}; got {split_name!r}")
    if not directories:
        raise ReviewRNNError("no model to evaluate; give at least one model directory")
    loaded = [load_model(directory) for directory in directories]
    _check_members(loaded, split_name)
    first = loaded[0].config
    settings = settings or CorpusSettings(first.corpus.name, first.corpus.text_column, first.corpus.label_column)
    runtime.set_threads(threads)
    device = runtime.resolve_device(device_name)
    started = time.perf_counter()
    encoded = None
    total = None
    for model in loaded:
        split, probabilities = _model_probabilities(model, settings, split_name, device)
        if encoded is None:
            encoded = split
        elif len(split.labels) != len(encoded.labels) or (split.labels != encoded.labels).any():
            raise ReviewRNNError(f"{model.directory}: read another {split_name} split than {directories[0]}")
        total = probabilities if total is None else total + probabilities
    report = classification_report(
        total / len(loaded), encoded.labels, first.corpus.label_names, encoded.full_lengths, edges
    )
    report |= {
        "model": str(directories[0]) if len(directories) == 1 else [str(d) for d in directories],
        "corpus": settings.spec,
        "split": split_name,
        "seconds": time.perf_counter() - started,
        "max_tokens": first.train.max_tokens,
        "truncated": int((encoded.full_lengths > first.train.max_tokens).sum()),
    }
    return report


def _check_members(loaded: list, split_name: str) -> None:
    """Models averaged together must name the same labels and, for TRAIN/VALID, split alike."""
    first = loaded[0]
    for other in loaded[1:]:
        if other.config.corpus.label_names != first.config.corpus.label_names:
            raise ReviewRNNError(
                f"{other.directory}: labels {other.config.corpus.label_names} differ from {first.directory}'s "
                f"{first.config.corpus.label_names}; ensemble only models trained on the same labels"
            )
        # TEST is chosen by a hash of the text alone; TRAIN and VALID also depend on the valid fraction.
        if split_name != "test" and other.config.train.valid_fraction != first.config.train.valid_fraction:
            raise ReviewRNNError(
                f"{other.directory}: trained with --valid-fraction {other.config.train.valid_fraction}, "
                f"{first.directory} with {first.config.train.valid_fraction}; their {split_name} splits differ "
                "(score --split test, or ensemble models trained alike)"
            )


def _model_probabilities(loaded, settings: CorpusSettings, split_name: str, device):
    """(the encoded split, class probabilities (N, K)) for one loaded model."""
    import torch

    from reviewrnn.model import RecurrentClassifier
    from reviewrnn.train import predict_probabilities

    config = loaded.config
    encoded = _encoded_split(settings, split_name, loaded.tokenizer, config)
    model = RecurrentClassifier(config.model)
    model.load_state_dict({name: torch.from_numpy(value) for name, value in loaded.weights.items()})
    model.to(device)
    return encoded, predict_probabilities(model, encoded, 256, device)


def _encoded_split(settings: CorpusSettings, split_name: str, tokenizer: Tokenizer, config):
    """One split of the corpus encoded as the model was trained: in memory, or through the Arrow cache."""
    train = config.train
    if train.on_disk:
        from reviewrnn.ondisk import encode_on_disk, load_disk_corpus

        corpus = load_disk_corpus(
            settings.spec, settings.text_column, settings.label_column, train.valid_fraction, config.corpus.label_names
        )
        return encode_on_disk(corpus, corpus.indices(split_name), tokenizer, train.max_tokens, train.truncate)
    from reviewrnn.data import encode_set

    _, split = read_split(settings, train.valid_fraction, config.corpus.label_names)
    part = getattr(split, split_name)
    return encode_set(tokenizer, part.texts, part.labels, train.max_tokens, train.truncate)


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
