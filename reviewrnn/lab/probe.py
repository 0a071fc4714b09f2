"""The memory-span probes: accuracy as the evidence moves d tokens away from the end of the sequence.

Review length changes many things at once (topic, style, how much evidence there is); here only the
distance changes. (a) filler: short TEST reviews a model gets right, followed by d tokens of neutral
text from the corpus; (b) synthetic: a network trained from scratch on sequences whose only evidence
is one token d steps before the end. The memory span is the largest d up to which accuracy stays at
or above SPAN_ACCURACY.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from reviewrnn.data import EncodedSet
from reviewrnn.errors import ReviewRNNError
from reviewrnn.evaluate import wilson_interval
from reviewrnn.lab.settings import FILLER_DISTANCES, SYNTHETIC_DISTANCES, SyntheticSettings  # noqa: F401 (re-exported)

SPAN_ACCURACY = 0.9
PREDICT_BATCH = 128


@dataclass
class ProbeCurve:
    """Accuracy per distance for one model (filler probe) or one cell (synthetic probe)."""

    name: str
    kind: str  # "filler" or "synthetic"
    rows: list[dict]  # per distance: distance, count, accuracy, ci_low, ci_high, confidence, ...
    span: int | None  # largest d with accuracy >= SPAN_ACCURACY at every distance up to it
    chance: int | None  # smallest d whose 95% interval contains chance (1 / classes)
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def memory_span(rows: list[dict], level: float = SPAN_ACCURACY) -> int | None:
    """The largest distance up to which every row's accuracy is at least `level` (None if the first misses)."""
    span = None
    for row in rows:
        if row["accuracy"] < level:
            break
        span = row["distance"]
    return span


def chance_distance(rows: list[dict], chance: float) -> int | None:
    """The first distance whose 95% interval includes chance: from there on the evidence may as well be gone."""
    return next((row["distance"] for row in rows if row["ci_low"] <= chance <= row["ci_high"]), None)


def score_row(distance: int, probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy (95% interval), mean probability of the true class, and accuracy per true class."""
    correct = probabilities.argmax(1) == labels
    hits = int(correct.sum())
    low, high = wilson_interval(hits, len(labels))
    per_class = {int(k): float(correct[labels == k].mean()) for k in np.unique(labels)}
    return {
        "distance": int(distance),
        "count": int(len(labels)),
        "accuracy": hits / len(labels),
        "ci_low": low,
        "ci_high": high,
        "confidence": float(probabilities[np.arange(len(labels)), labels].mean()),
        "per_class": per_class,
    }


def curve(name: str, kind: str, rows: list[dict], classes: int, settings: dict) -> ProbeCurve:
    return ProbeCurve(name, kind, rows, memory_span(rows), chance_distance(rows, 1.0 / classes), settings)


# --- (a) the filler probe on a trained review model ---------------------------------------------------


def probe_with_filler(
    directory: Path,
    distances: tuple[int, ...] = FILLER_DISTANCES,
    reviews: int = 400,
    short_max: int = 100,
    seed: int = 0,
    name: str | None = None,
) -> ProbeCurve:
    """Short TEST reviews the model classifies correctly, each followed by d tokens of neutral TRAIN sentences."""
    from reviewrnn.artifacts import load_model
    from reviewrnn.data import encode_set
    from reviewrnn.lab.filler import filler_sequences, neutral_sentences
    from reviewrnn.lab.sources import model_split

    loaded = load_model(directory)
    config, model = loaded.config, _torch_model(loaded)
    classes = config.model.num_classes
    split = model_split(config)
    test = encode_set(loaded.tokenizer, split.test.texts, split.test.labels, short_max, config.train.truncate)
    rng = np.random.default_rng(seed)
    chosen = _short_correct_reviews(model, test, short_max, reviews, classes, rng)
    pool = neutral_sentences(loaded.tokenizer, split.train.texts, split.train.labels, classes)
    if not pool:
        raise ReviewRNNError(f"{config.corpus.name}: no neutral sentences found in TRAIN; the filler probe needs some")
    fillers = filler_sequences(pool, len(chosen.labels), max(distances), rng)
    rows = []
    for distance in distances:
        padded = [np.concatenate([review, filler[:distance]]) for review, filler in zip(chosen.ids, fillers)]
        probabilities = _probabilities(model, padded, chosen.labels)
        row = score_row(distance, probabilities, chosen.labels)
        row["longer_than_trained"] = float(np.mean([len(ids) > config.train.max_tokens for ids in padded]))
        row["filler_alone"] = _filler_alone(model, [filler[:distance] for filler in fillers], chosen.labels)
        rows.append(row)
    settings = {
        "reviews": len(chosen.labels),
        "short_max": short_max,
        "seed": seed,
        "neutral_sentences": len(pool),
        "max_tokens": config.train.max_tokens,
        "label_names": config.corpus.label_names,
    }
    return curve(name or Path(directory).name, "filler", rows, classes, settings)


def _torch_model(loaded):
    import torch

    from reviewrnn.model import RecurrentClassifier

    model = RecurrentClassifier(loaded.config.model)
    model.load_state_dict({key: torch.from_numpy(value) for key, value in loaded.weights.items()})
    return model.eval()


def _probabilities(model, ids: list[np.ndarray], labels: np.ndarray) -> np.ndarray:
    import torch

    from reviewrnn.train import predict_probabilities

    encoded = EncodedSet(ids, np.array([len(row) for row in ids]), labels)
    return predict_probabilities(model, encoded, PREDICT_BATCH, torch.device("cpu"))


def _short_correct_reviews(model, test: EncodedSet, short_max: int, count: int, classes: int, rng) -> EncodedSet:
    """Up to count / classes reviews of each class, at most short_max tokens long, that the model gets right."""
    short = np.flatnonzero(test.full_lengths <= short_max)
    if not len(short):
        raise ReviewRNNError(f"no TEST review is {short_max} tokens or shorter; raise --short-max")
    labels = test.labels[short]
    correct = _probabilities(model, [test.ids[i] for i in short], labels).argmax(1) == labels
    picked = []
    for label in range(classes):
        candidates = short[correct & (labels == label)]
        picked.extend(rng.permutation(candidates)[: count // classes])
    if not picked:
        raise ReviewRNNError("the model gets none of the short TEST reviews right; nothing to probe")
    picked = np.sort(np.asarray(picked))
    return EncodedSet([test.ids[i] for i in picked], test.full_lengths[picked], test.labels[picked])


def _filler_alone(model, fillers: list[np.ndarray], labels: np.ndarray) -> dict | None:
    """How the model reads the filler by itself: the mean probability it gives each class."""
    if not len(fillers[0]):
        return None
    probabilities = _probabilities(model, fillers, labels)
    return {int(k): float(p) for k, p in enumerate(probabilities.mean(0))}


# --- (b) the synthetic task, trained from scratch per cell --------------------------------------------


PROTOCOLS = ("per-distance", "mixed")


def probe_synthetic(
    cell: str, settings: SyntheticSettings, protocol: str = "per-distance", on_epoch=None
) -> ProbeCurve:
    """Train `cell` networks on the synthetic task with train.train_model and score each distance.

    per-distance: a fresh network for each d, trained and tested at that d only: can the cell *learn*
    to bridge d steps, where the gradient must travel d steps back? (the minimal-time-lag protocol).
    mixed: one network trained on all distances together: once it has learned to keep the token from
    the short ones, does it *hold* it over the long ones?
    """
    from reviewrnn.lab.synthetic import SyntheticTask, make_set

    if protocol not in PROTOCOLS:
        raise ReviewRNNError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    task, grid = SyntheticTask(), np.asarray(settings.distances)
    rows, epochs = [], []
    groups = [[d] for d in grid] if protocol == "per-distance" else [list(grid)]
    for group in groups:
        data_rng = np.random.default_rng([settings.seed, *group[:1], len(group)])  # same sequences for every cell
        train = make_set(task, data_rng.choice(group, size=settings.train_size), data_rng)
        valid = make_set(task, data_rng.choice(group, size=settings.valid_size), data_rng)
        model, result = _train_synthetic(cell, task, settings, train, valid, on_epoch)
        epochs.append(result.best_epoch)
        for d in group:
            test = make_set(task, np.full(settings.test_per_distance, d), data_rng)
            rows.append(score_row(d, _probabilities(model, test.ids, test.labels), test.labels))
            rows[-1]["diverged"] = result.diverged
    details = asdict(settings) | {"protocol": protocol, "best_epochs": epochs}
    return curve(cell, "synthetic", rows, 2, details)


def _train_synthetic(cell: str, task, settings: SyntheticSettings, train: EncodedSet, valid: EncodedSet, on_epoch):
    """One network from the seed, trained on `train` for the whole budget; returns it with its best weights."""
    import torch

    from reviewrnn import runtime
    from reviewrnn.config import ModelConfig, TrainConfig
    from reviewrnn.model import RecurrentClassifier
    from reviewrnn.train import train_model

    rng = runtime.seed_everything(settings.seed)
    model_config = ModelConfig(  # every setting spelled out: the tool's defaults may change, the probe must not
        cell=cell,
        vocab_size=task.vocab_size,
        num_classes=2,
        embed=settings.embed,
        hidden=settings.hidden,
        layers=1,
        bidirectional=False,
        dropout=0.0,
        pool="last",
    )
    train_config = TrainConfig(
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        lr=settings.lr,
        schedule="constant",
        weight_decay=0.0,
        clip_norm=settings.clip_norm,
        max_tokens=int(train.lengths.max()),
        seed=settings.seed,
        patience=settings.epochs,  # no early stop: every cell gets the whole budget
        device="cpu",
    )
    model = RecurrentClassifier(model_config)
    result = train_model(model, train, valid, train_config, torch.device("cpu"), rng, on_epoch=on_epoch)
    if result.best_state is not None:
        model.load_state_dict(result.best_state)
    return model, result
