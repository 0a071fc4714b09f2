"""The verdict moved: a review's decisive sentence put at its start, middle and end, the rest as the distance.

This is the filler probe with the review's own words as the distance. For TEST reviews a model gets
right, the decisive sentence is the one whose removal lowers the model's probability of the true
class most, kept only when that sentence alone is also classified right (the model gets the
polarity from it). The other sentences stay in their order; the distance is the number of tokens
after the moved sentence.

Sentences are split by a plain regex: after a run of . ! ? (and closing quotes or brackets)
followed by white space, and after IMDB's line breaks (<br />). Each sentence is tokenized on its
own and the ids are joined, so every variant holds exactly the review's own tokens.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from reviewrnn.metrics import wilson_interval

SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*\s+|(?:<br\s*/?>\s*)+")
POSITIONS = ("start", "middle", "end")
DISTANCE_EDGES = (0, 1, 64, 128, 256, 512, 1024)  # buckets of tokens between the sentence and the end
LENGTH_BANDS = (0, 256, 768)  # reviews are drawn evenly from these token-length bands, so distances reach far
MIN_SENTENCES = 3  # a middle needs a sentence on each side


def split_sentences(text: str) -> list[str]:
    """The review's sentences in order; joined back together they give the text exactly."""
    cuts = [0, *(match.end() for match in SENTENCE_END.finditer(text)), len(text)]
    return [text[a:b] for a, b in zip(cuts, cuts[1:]) if text[a:b].strip()] if text.strip() else []


def place(sentences: list[np.ndarray], chosen: int) -> dict[str, tuple[np.ndarray, int]]:
    """The review with sentence `chosen` at the start, the middle and the end: {position: (ids, distance)}."""
    others = [ids for index, ids in enumerate(sentences) if index != chosen]
    variants = {}
    for position, split in zip(POSITIONS, (0, len(others) // 2, len(others))):
        before, after = others[:split], others[split:]
        ids = np.concatenate([*before, sentences[chosen], *after])
        variants[position] = (ids, int(sum(len(part) for part in after)))
    return variants


def decisive_sentence(score, sentences: list[np.ndarray], label: int) -> tuple[int, bool]:
    """(the sentence whose removal lowers p(label) most, whether that sentence alone is classified right)."""
    without = [np.concatenate([ids for j, ids in enumerate(sentences) if j != i]) for i in range(len(sentences))]
    chosen = int(np.argmin(score(without)[:, label]))
    return chosen, bool(score([sentences[chosen]])[0].argmax() == label)


def distance_rows(distances: np.ndarray, correct: np.ndarray, edges=DISTANCE_EDGES) -> list[dict]:
    """Accuracy by distance bucket with a 95% Wilson interval (empty buckets kept, count 0); `high` is exclusive."""
    bounds = [*edges[1:], None]
    rows = []
    for low, high in zip(edges, bounds):
        inside = (distances >= low) & (distances < high if high is not None else True)
        hits, count = int(correct[inside].sum()), int(inside.sum())
        ci_low, ci_high = wilson_interval(hits, count)
        rows.append({"low": low, "high": high, "count": count,
                     "accuracy": hits / count if count else None, "ci_low": ci_low, "ci_high": ci_high})  # fmt: skip
    return rows


def distance_name(row: dict) -> str:
    """'0' for the bucket of the sentence at the very end, else the bucket as render.bucket_name writes it."""
    from reviewrnn.render import bucket_name

    return str(row["low"]) if row["high"] == row["low"] + 1 else bucket_name(row)


def candidates(test, rng, count: int) -> np.ndarray:
    """Up to 3 x count TEST indices drawn evenly from the length bands, in random order."""
    lengths = test.full_lengths
    bands = [*LENGTH_BANDS[1:], np.inf]
    picked = []
    for low, high in zip(LENGTH_BANDS, bands):
        band = np.flatnonzero((lengths >= low) & (lengths < high))
        picked.extend(rng.permutation(band)[: 3 * count // len(LENGTH_BANDS)])
    return rng.permutation(np.asarray(picked, dtype=np.int64))  # mixed, so a cap on reviews keeps every band


def move_probe(directory: Path, reviews: int = 300, seed: int = 0, name: str | None = None) -> dict:
    """Move each chosen review's decisive sentence; accuracy by position and by distance to the end."""
    from reviewrnn.artifacts import load_model
    from reviewrnn.data import encode_set
    from reviewrnn.lab.probe import _log_probabilities, _torch_model
    from reviewrnn.lab.sources import model_split
    from reviewrnn.tokenizer import encode

    loaded = load_model(directory)
    model = _torch_model(loaded)
    test = model_split(loaded.config).test
    encoded = encode_set(loaded.tokenizer, test.texts, test.labels, loaded.config.train.max_tokens, "head")
    pool = candidates(encoded, np.random.default_rng(seed), reviews)

    def score(ids):
        return np.exp(_log_probabilities(model, ids))

    right = pool[score([encoded.ids[i] for i in pool]).argmax(1) == encoded.labels[pool]]
    found = {"tried": 0, "alone_wrong": 0}
    moved = []  # (position, distance, correct, p(true))
    for index in right:
        sentences = [
            np.asarray(ids, dtype=np.int64) for ids in encode(loaded.tokenizer, split_sentences(test.texts[index]))
        ]
        sentences = [ids for ids in sentences if len(ids)]
        if len(sentences) < MIN_SENTENCES or len(moved) >= 3 * reviews:
            continue
        found["tried"] += 1
        label = int(encoded.labels[index])
        chosen, alone = decisive_sentence(score, sentences, label)
        if not alone:
            found["alone_wrong"] += 1
            continue
        variants = place(sentences, chosen)
        probabilities = score([ids for ids, _ in variants.values()])[:, label]
        moved += [(p, d, pr > 0.5, pr) for (p, (_, d)), pr in zip(variants.items(), probabilities)]
    return summarise(name or Path(directory).name, moved, found)


def summarise(name: str, moved: list[tuple], found: dict) -> dict:
    positions = np.array([m[0] for m in moved])
    distances = np.array([m[1] for m in moved], dtype=np.int64)
    correct = np.array([m[2] for m in moved], dtype=bool)
    by_position = {}
    for position in POSITIONS:
        inside = positions == position
        count, hits = int(inside.sum()), int(correct[inside].sum())
        low, high = wilson_interval(hits, count)
        mean_distance = float(distances[inside].mean()) if count else None
        by_position[position] = {
            "count": count, "accuracy": hits / count if count else None, "ci_low": low, "ci_high": high,
            "mean_distance": mean_distance,
        }  # fmt: skip
    reviews = len(moved) // len(POSITIONS)
    return {
        "name": name,
        "reviews": reviews,
        **found,
        "positions": by_position,
        "rows": distance_rows(distances, correct),
    }
