"""The canonical TRAIN/VALID/TEST split: exact duplicates dropped, then each review's part chosen by a hash
of its text alone, so the split never depends on row order and results compare with any other tool."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from reviewrnn.corpus import Examples
from reviewrnn.labelmap import UNMAPPED


@dataclass
class Split:
    """The canonical TRAIN/VALID/TEST split; TEST is never used for fitting or model selection."""

    train: Examples
    valid: Examples
    test: Examples
    duplicates_dropped: int
    unmapped: dict[str, int] = field(default_factory=dict)  # per part: rows --label-map dropped

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def is_test_text(text: str) -> bool:
    """The canonical rule: a review is TEST iff the sha256 of its raw text is odd."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % 2 == 1


def is_valid_text(text: str, fraction: float) -> bool:
    """A second, independent hash carves VALID out of TRAIN, so it never depends on row order."""
    head = hashlib.sha256(b"reviewrnn-valid\0" + text.encode("utf-8")).digest()[:8]
    return int.from_bytes(head, "big") / 2**64 < fraction


def split_corpus(examples: Examples, valid_fraction: float = 0.1) -> Split:
    """Drop exact duplicate texts (keep the first), then split TRAIN/VALID/TEST by hash.

    Rows labelled UNMAPPED (by a --label-map) are de-duplicated like any row, then counted and
    dropped: a kept review lands in the same part with or without the map. Where a text's first copy is
    one the map drops (a 3-star or unrated copy) and a later copy one it keeps, the first copy takes that
    label: a trial's 5-star copies had been lost to earlier unrated ones.
    """
    chosen: dict[str, int] = {}  # text -> its first copy's label, or its first mapped copy's
    for text, label in zip(examples.texts, examples.labels):
        if chosen.setdefault(text, label) == UNMAPPED:
            chosen[text] = label
    seen: set[str] = set()
    parts = {"train": Examples([], []), "valid": Examples([], []), "test": Examples([], [])}
    unmapped = dict.fromkeys(parts, 0)
    for text in examples.texts:
        if text in seen:
            continue
        seen.add(text)
        label = chosen[text]
        if is_test_text(text):
            name = "test"
        elif is_valid_text(text, valid_fraction):
            name = "valid"
        else:
            name = "train"
        if label == UNMAPPED:
            unmapped[name] += 1
            continue
        parts[name].texts.append(text)
        parts[name].labels.append(label)
    return Split(parts["train"], parts["valid"], parts["test"], len(examples) - len(seen), unmapped)
