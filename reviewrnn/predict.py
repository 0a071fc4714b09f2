"""A Predictor rebuilt from a model directory alone, streaming over lines in constant memory.

It runs the numpy forward pass (fastforward.py), so predicting never imports torch or datasets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

import numpy as np

from reviewrnn.artifacts import load_model
from reviewrnn.data import truncate
from reviewrnn.decision import Decision, Prediction
from reviewrnn.errors import ReviewRNNError
from reviewrnn.fastforward import FastClassifier
from reviewrnn.inference import NumpyClassifier
from reviewrnn.tokenizer import encode

# Lines read, predicted and written together when input is abundant (the command also stops a chunk
# at 2 MB, about 1,500 IMDB reviews, and at whatever has arrived when input trickles in): enough
# groups of fastforward.BLOCK_ROWS blocks for every core, sorted by length so that they pad little.
# Measured on 3,000 IMDB reviews: 4 MB chunks were no faster and peaked at 286 MB RSS (2 MB: 225 MB).
CHUNK_LINES = 2048
MAX_CHARS_PER_TOKEN = 64  # a line is cut to max_tokens * this many characters before tokenizing
SURROGATE = re.compile("[\ud800-\udfff]")  # not valid Unicode: tokenizers refuses a str holding one
BLANKS = " \t\n\r\x0b\x0c"  # the whitespace lines.py drops at a long line's ends (bytes.strip()'s)


class _Streaming:
    """stream() over predict(): lines in, (line, prediction) out, one chunk at a time."""

    def predict(self, texts: list[str]) -> list[Prediction]:
        raise NotImplementedError

    def stream(self, lines: Iterable[str], chunk_lines: int = CHUNK_LINES) -> Iterator[tuple[str, Prediction]]:
        """(line, prediction) pairs in input order, reading at most `chunk_lines` lines ahead."""
        iterator = iter(lines)
        while chunk := list(islice(iterator, chunk_lines)):
            yield from zip(chunk, self.predict(chunk))


def kept_text(text: str, cut: int, keep: str) -> tuple[str, int]:
    """(the part of `text` that can matter: its first or last `cut` characters after the whitespace at its
    ends, so padding cannot crowd out words; where that part starts in `text`)."""
    start = len(text) - len(text.lstrip(BLANKS))
    stripped = text.strip(BLANKS)
    if keep == "head" or len(stripped) <= cut:
        return stripped[:cut], start
    return stripped[-cut:], start + len(stripped) - cut


class Predictor(_Streaming):
    def __init__(
        self, directory: Path, threshold: float | None = None, familiarity: bool = False, threads: int | None = None
    ):
        loaded = load_model(directory)
        self.decision = Decision(
            loaded.config.corpus.label_names, loaded.config.decision, loaded.domain, threshold, directory
        )
        self.directory = loaded.directory
        self.config = loaded.config
        self.tokenizer = loaded.tokenizer
        self.engine = FastClassifier(loaded.config.model, loaded.weights, threads)  # what predict() runs
        self.classifier = NumpyClassifier(loaded.config.model, loaded.weights)  # plain equations, for --trace
        self.label_names = loaded.config.corpus.label_names
        self.text_column = loaded.config.corpus.text_column  # a table's --file is read through it first
        self.max_tokens = loaded.config.train.max_tokens
        self.keep = loaded.config.train.truncate
        self.max_chars = self.max_tokens * MAX_CHARS_PER_TOKEN  # the most of a line that can matter
        self.familiarity = _familiarity(loaded.directory, threads) if familiarity else None

    def predict(self, texts: list[str]) -> list[Prediction]:
        """One Prediction per text, in order."""
        clipped = [kept_text(text, self.max_chars, self.keep)[0] for text in texts]
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
        for j, (i, row) in enumerate(zip(live, self.engine.score(sequences))):
            results[i] = self.decision(row, len(token_ids[i]), sequences[j])
        if self.familiarity is not None:
            for i, percentile in zip(live, self.familiarity.percentiles(self.familiarity.losses(sequences))):
                results[i].familiarity = None if np.isnan(percentile) else round(float(percentile), 1)
        return results  # type: ignore[return-value]


def _familiarity(directory: Path, threads: int | None):
    from reviewrnn.familiarity import load_familiarity

    found = load_familiarity(directory, threads)
    if found is None:
        raise ReviewRNNError(
            f"{directory}: no language model kept beside this model, so no familiarity; "
            "train with --init LM_DIR (reviewrnn pretrain) to get one"
        )
    return found


class EnsemblePredictor(_Streaming):
    """Several models answering together: each reads the text its own way, their probabilities are averaged.

    Models trained alike from different seeds disagree on the reviews they get wrong, so the mean
    of their probabilities is right more often than any one of them (see README, "Accuracy against
    peers"). The members must name the same labels and cut long lines from the same end.
    """

    def __init__(self, directories: list[Path], threshold: float | None = None, threads: int | None = None):
        if not directories:
            raise ReviewRNNError("no model to ensemble; give --model DIR once per model")
        # each applies its temperature
        self.members = [Predictor(directory, threads=threads) for directory in directories]
        first = self.members[0]
        for member in self.members[1:]:
            if member.label_names != first.label_names:
                raise ReviewRNNError(
                    f"{member.directory}: labels {member.label_names} differ from {first.directory}'s "
                    f"{first.label_names}; ensemble only models trained on the same labels"
                )
            if member.keep != first.keep:
                raise ReviewRNNError(
                    f"{member.directory}: keeps the {member.keep} of long reviews, {first.directory} the "
                    f"{first.keep}; ensemble only models trained with the same --truncate"
                )
        self.directory = first.directory
        self.label_names, self.keep, self.text_column = first.label_names, first.keep, first.text_column
        self.max_chars = max(member.max_chars for member in self.members)
        self.decision = Decision(first.label_names, threshold=threshold, directory=first.directory)
        # A member's saved threshold was fitted to its own probabilities, not to the members' mean.
        self.unused_thresholds = {
            member.directory: member.decision.threshold
            for member in self.members
            if threshold is None and member.decision.threshold is not None
        }

    def predict(self, texts: list[str]) -> list[Prediction]:
        """One Prediction per text, in order: the members' mean probabilities (blank lines stay blank).

        A line that some member's tokenizer reads as empty is averaged over the members that read it.
        """
        answers = [member.predict(texts) for member in self.members]
        results = []
        for per_member in zip(*answers, strict=True):
            scored = [p for p in per_member if p.probabilities is not None]
            if not scored:
                results.append(per_member[0])
                continue
            mean = np.mean([[p.probabilities[name] for name in self.label_names] for p in scored], axis=0)
            results.append(self.decision(mean, scored[0].tokens))
        return results


def load_predictor(
    directories: list[Path], threshold: float | None = None, familiarity: bool = False, threads: int | None = None
) -> Predictor | EnsemblePredictor:
    """One model's Predictor, or the ensemble of several; `threshold` overrides a saved one (binary models).
    `familiarity`: also measure each review against the model's language model (one model only).
    `threads`: the forward pass's workers (default: every core this process may run on)."""
    if not directories:
        raise ReviewRNNError("no model given; name one with --model DIR")
    if len(directories) == 1:
        return Predictor(directories[0], threshold, familiarity, threads)
    return EnsemblePredictor(directories, threshold, threads)
