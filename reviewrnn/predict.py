"""A Predictor rebuilt from a model directory alone, streaming over lines in constant memory.

It runs the numpy forward pass (inference.py), so predicting never imports torch or datasets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from reviewrnn.artifacts import load_model
from reviewrnn.data import length_grouped_batches, pad_batch, truncate
from reviewrnn.inference import NumpyClassifier
from reviewrnn.tokenizer import encode

CHUNK_LINES = 256  # lines read, predicted and written together when streaming
BATCH_SIZE = 64
MAX_CHARS_PER_TOKEN = 64  # a line is cut to max_tokens * this many characters before tokenizing
SURROGATE = re.compile("[\ud800-\udfff]")  # not valid Unicode: tokenizers refuses a str holding one


@dataclass
class Prediction:
    """The predicted label and its probability; both None for an empty or blank line."""

    label: str | None
    probability: float | None
    probabilities: dict[str, float] | None
    tokens: int


class Predictor:
    def __init__(self, directory: Path):
        loaded = load_model(directory)
        self.directory = loaded.directory
        self.config = loaded.config
        self.tokenizer = loaded.tokenizer
        self.classifier = NumpyClassifier(loaded.config.model, loaded.weights)
        self.label_names = loaded.config.corpus.label_names
        self.max_tokens = loaded.config.train.max_tokens
        self.keep = loaded.config.train.truncate
        self.max_chars = self.max_tokens * MAX_CHARS_PER_TOKEN  # the most of a line that can matter

    def predict(self, texts: list[str]) -> list[Prediction]:
        """One Prediction per text, in order."""
        cut = self.max_chars
        clipped = [text[:cut] if self.keep == "head" else text[-cut:] for text in texts]
        try:
            token_ids = encode(self.tokenizer, clipped)
        except TypeError:  # a lone surrogate (argv undecodable as UTF-8, say): read it as U+FFFD
            token_ids = encode(self.tokenizer, [SURROGATE.sub("\ufffd", text) for text in clipped])
        results: list[Prediction | None] = [None] * len(texts)
        live = [i for i, ids in enumerate(token_ids) if ids]
        for i, ids in enumerate(token_ids):
            if not ids:
                results[i] = Prediction(None, None, None, 0)
        sequences = [truncate(token_ids[i], self.max_tokens, self.keep) for i in live]
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        for batch in length_grouped_batches(lengths, BATCH_SIZE):
            ids, batch_lengths = pad_batch([sequences[j] for j in batch])
            for j, row in zip(batch, self.classifier.probabilities(ids, batch_lengths)):
                results[live[j]] = self._prediction(row, len(token_ids[live[j]]))
        return results  # type: ignore[return-value]

    def _prediction(self, row: np.ndarray, tokens: int) -> Prediction:
        best = int(row.argmax())
        named = {name: float(p) for name, p in zip(self.label_names, row)}
        return Prediction(self.label_names[best], float(row[best]), named, tokens)

    def stream(self, lines: Iterable[str], chunk_lines: int = CHUNK_LINES) -> Iterator[tuple[str, Prediction]]:
        """(line, prediction) pairs in input order, reading at most `chunk_lines` lines ahead."""
        iterator = iter(lines)
        while chunk := list(islice(iterator, chunk_lines)):
            yield from zip(chunk, self.predict(chunk))
