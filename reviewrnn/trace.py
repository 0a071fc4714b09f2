"""Watch the memory at work: the prediction after every token of one review.

numpy only (inference.NumpyClassifier), so `reviewrnn predict --trace` stays as quick to start as
`reviewrnn predict`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from reviewrnn.calibration import apply_temperature
from reviewrnn.inference import softmax
from reviewrnn.predict import MAX_CHARS_PER_TOKEN, Predictor, kept_text

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Trace:
    """Tokens as the model read them and its class probabilities after each one."""

    text: str
    tokens: list[str]
    offsets: list[tuple[int, int]]  # each token's characters in `text`
    label_names: list[str]
    probabilities: np.ndarray  # (T, K): row t is the prediction for the first t + 1 tokens
    prior: np.ndarray  # (K,): the head's output for a zero pooled state, i.e. before reading anything
    dropped: int  # tokens the model's max_tokens cut off (not traced)
    threshold: float | None = None  # the saved or --threshold decision, as predict applies it (two classes)

    @property
    def traced(self) -> int:
        """The class whose probability the picture follows: 'positive' for two classes, else the final choice."""
        if len(self.label_names) == 2:
            return 1
        return int(self.probabilities[-1].argmax()) if len(self.tokens) else 0

    def moves(self) -> np.ndarray:
        """(T,) how much each token changed the traced probability (the first one against the prior)."""
        series = np.concatenate([[self.prior[self.traced]], self.probabilities[:, self.traced]])
        return np.diff(series)

    def to_record(self) -> dict:
        """JSON-ready: tokens and, per class, the probability after each token; the label as predict gives it
        (a trial's trace said 'negative' where predict, with the model's threshold, said 'positive')."""
        final = self.probabilities[-1] if len(self.tokens) else None
        chosen = None
        if final is not None:
            chosen = int(final.argmax()) if self.threshold is None else int(final[1] >= self.threshold)
        return {
            "text": self.text,
            "label": self.label_names[chosen] if final is not None else None,
            "probability": float(final[chosen]) if final is not None else None,
            "threshold": self.threshold,
            "tokens": self.tokens,
            "probabilities": {
                name: [round(float(p), 6) for p in self.probabilities[:, k]] for k, name in enumerate(self.label_names)
            },
            "dropped_tokens": self.dropped,
        }


def trace_text(predictor: Predictor, text: str) -> Trace:
    """Tokenize as `predict` does (same truncation), then one forward pass for every prefix."""
    head = predictor.keep == "head"
    # A lone surrogate (argv that was not UTF-8) is not valid Unicode: read it as U+FFFD, as predict does.
    text = LONE_SURROGATE.sub("\ufffd", text)
    kept, start = kept_text(text, predictor.max_tokens * MAX_CHARS_PER_TOKEN, predictor.keep)
    encoding = predictor.tokenizer.encode(kept, add_special_tokens=False)
    ids, tokens = encoding.ids, encoding.tokens
    offsets = [(a + start, b + start) for a, b in encoding.offsets]
    kept = slice(0, predictor.max_tokens) if head else slice(max(0, len(ids) - predictor.max_tokens), len(ids))
    dropped = len(ids) - len(ids[kept])
    ids, tokens, offsets = ids[kept], tokens[kept], offsets[kept]
    classifier = predictor.classifier
    prior = softmax(classifier.w["head.bias"][None, :])[0]
    classes = len(predictor.label_names)
    probabilities = classifier.step_probabilities(np.asarray(ids)) if ids else np.zeros((0, classes))
    temperature = predictor.decision.temperature  # as predict calibrates them (calibration.py)
    probabilities, prior = apply_temperature(probabilities, temperature), apply_temperature(prior[None], temperature)[0]
    names, threshold = list(predictor.label_names), predictor.decision.threshold
    return Trace(text, list(tokens), offsets, names, probabilities, prior, dropped, threshold)
