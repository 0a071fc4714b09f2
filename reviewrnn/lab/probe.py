"""The memory-span probes: accuracy as the evidence moves d tokens away from the end of the sequence.

Review length changes many things at once (topic, style, how much evidence there is); here only the
distance changes. (a) filler: short TEST reviews a model gets right, followed by d tokens of neutral
text from the corpus; (b) synthetic: a network trained from scratch on sequences whose only evidence
is one token d steps before the end. The span is the largest d up to which accuracy stays at or
above SPAN_ACCURACY; chance, the first d whose 95% interval contains chance. The filler probe also
reports both for its memory measure (lab/memory.py), which takes out the filler's own pull.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from reviewrnn.data import EncodedSet
from reviewrnn.errors import ReviewRNNError
from reviewrnn.lab.memory import MEMORY_CHANCE, memory_row, memory_rows, review_evidence
from reviewrnn.lab.settings import FILLER_DISTANCES, SYNTHETIC_DISTANCES, SyntheticSettings  # noqa: F401 (re-exported)
from reviewrnn.metrics import wilson_interval

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
    memory_span: int | None = None  # filler probe: the same rules on rows' "memory" (lab/memory.py)
    memory_chance: int | None = None

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
    found = ProbeCurve(name, kind, rows, memory_span(rows), chance_distance(rows, 1.0 / classes), settings)
    if rows and "memory" in rows[0]:
        memory = memory_rows(rows)
        found.memory_span, found.memory_chance = memory_span(memory), chance_distance(memory, MEMORY_CHANCE)
    return found


# --- (a) the filler probe on a trained review model ---------------------------------------------------


def probe_with_filler(
    directory: Path,
    distances: tuple[int, ...] = FILLER_DISTANCES,
    reviews: int = 400,
    short_max: int = 100,
    seed: int = 0,
    name: str | None = None,
) -> ProbeCurve:
    """Short TEST reviews the model classifies correctly, each followed by d tokens of neutral TRAIN sentences.

    Each row has the accuracy and, under "memory", the review's own effect with the filler's pull
    taken out (lab/memory.py); the curve has a span and a chance distance for each.
    """
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
    rows = filler_rows(lambda ids: _log_probabilities(model, ids), chosen.ids, chosen.labels, fillers, distances)
    for row in rows:
        lengths = chosen.full_lengths + row["distance"]
        row["longer_than_trained"] = float(np.mean(lengths > config.train.max_tokens))
    settings = {
        "reviews": len(chosen.labels),
        "short_max": short_max,
        "seed": seed,
        "neutral_sentences": len(pool),
        "max_tokens": config.train.max_tokens,
        "label_names": config.corpus.label_names,
    }
    return curve(name or Path(directory).name, "filler", rows, classes, settings)


def filler_rows(
    score: Callable[[list[np.ndarray]], np.ndarray],
    reviews: list[np.ndarray],
    labels: np.ndarray,
    fillers: list[np.ndarray],
    distances,
) -> list[dict]:
    """Per distance: accuracy on review + filler, the filler alone, and the memory measure (lab/memory.py).

    `score` maps id sequences to (N, K) log-probabilities: a model, or in tests a constructed one.
    """
    base = review_evidence(score(reviews), None, labels)
    rows = []
    for distance in distances:
        with_review = score([np.concatenate([review, filler[:distance]]) for review, filler in zip(reviews, fillers)])
        alone = score([filler[:distance] for filler in fillers]) if distance else None
        row = score_row(distance, np.exp(with_review), labels)
        row["filler_alone"] = None if alone is None else dict(enumerate(np.exp(alone).mean(0).tolist()))
        row["memory"] = memory_row(review_evidence(with_review, alone, labels), base, labels)
        rows.append(row)
    return rows


def _torch_model(loaded):
    import torch

    from reviewrnn.model import RecurrentClassifier

    model = RecurrentClassifier(loaded.config.model)
    model.load_state_dict({key: torch.from_numpy(value) for key, value in loaded.weights.items()})
    return model.eval()


def _log_probabilities(model, ids: list[np.ndarray]) -> np.ndarray:
    """(N, K) log-probabilities in the order of `ids`, computed in length-grouped batches."""
    import torch

    from reviewrnn.data import iterate_batches

    encoded = EncodedSet(ids, np.array([len(row) for row in ids]), np.zeros(len(ids), dtype=np.int64))
    output = np.zeros((len(ids), model.config.num_classes))
    with torch.inference_mode():
        for indices, batch, lengths, _ in iterate_batches(encoded, PREDICT_BATCH):
            logits = model(torch.from_numpy(batch), torch.from_numpy(lengths))  # (B, K)
            output[indices] = torch.log_softmax(logits.double(), dim=1).numpy()
    return output


def _probabilities(model, ids: list[np.ndarray]) -> np.ndarray:
    return np.exp(_log_probabilities(model, ids))


def _short_correct_reviews(model, test: EncodedSet, short_max: int, count: int, classes: int, rng) -> EncodedSet:
    """Up to count / classes reviews of each class, at most short_max tokens long, that the model gets right."""
    short = np.flatnonzero(test.full_lengths <= short_max)
    if not len(short):
        raise ReviewRNNError(f"no TEST review is {short_max} tokens or shorter; raise --short-max")
    labels = test.labels[short]
    correct = _probabilities(model, [test.ids[i] for i in short]).argmax(1) == labels
    picked = []
    for label in range(classes):
        candidates = short[correct & (labels == label)]
        picked.extend(rng.permutation(candidates)[: count // classes])
    if not picked:
        raise ReviewRNNError("the model gets none of the short TEST reviews right; nothing to probe")
    picked = np.sort(np.asarray(picked))
    return EncodedSet([test.ids[i] for i in picked], test.full_lengths[picked], test.labels[picked])


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
            rows.append(score_row(d, _probabilities(model, test.ids), test.labels))
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
        embed_init=1.0,
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
