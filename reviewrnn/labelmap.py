"""Labels from ratings: `--label-map "1,2=negative 4,5=positive"` turns star values into classes.

A value the map does not name (3 stars, a missing rating) is dropped and counted per split; both
corpus backends apply the map through LabelMap.encode, so they keep and drop the same rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reviewrnn.errors import FlagError, ReviewRNNError

UNMAPPED = -1  # the label of a row the map drops
EXAMPLE = '"1,2=negative 4,5=positive" (ranges too: "1-2=negative 4-5=positive")'
_NUMBER = r"-?\d+(?:\.\d+)?"
_RANGE = re.compile(rf"({_NUMBER})(?:-({_NUMBER}))?")


class LabelMapError(FlagError):
    """A --label-map that cannot be read: the CLI reports it as a usage error (exit 2)."""


@dataclass(frozen=True)
class LabelMap:
    """Numeric ranges (low, high, name) and exact text keys; `names` in the order the map gives them,
    except that negative/positive always come in that order (as for IMDB's labels)."""

    text: str  # the canonical spelling, saved in config.json
    ranges: tuple[tuple[float, float, str], ...]
    words: dict[str, str]
    names: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> LabelMap:
        """Read 'VALUES=NAME VALUES=NAME ...'; VALUES are comma-separated numbers, ranges LOW-HIGH or words."""
        spaced = re.sub(r"\s*([,=])\s*", r"\1", text.strip())
        if not spaced:
            raise LabelMapError(f"--label-map is empty; write VALUES=NAME pairs, e.g. {EXAMPLE}")
        ranges, words, names, entries = [], {}, [], []
        for entry in spaced.split():
            values, sep, name = entry.partition("=")
            if not sep or not name or "=" in name:
                raise LabelMapError(f"--label-map entry {entry!r}: write VALUES=NAME, name not empty, e.g. {EXAMPLE}")
            if name not in names:
                names.append(name)
            for value in values.split(","):
                _add_value(value, name, entry, ranges, words)
            entries.append(f"{values}={name}")
        if len(names) < 2:
            backwards = _number(names[0].lower()) is not None and words  # "negative=1": a word mapped to a rating
            hint = f"; is it backwards? write VALUES=NAME, e.g. {EXAMPLE}" if backwards else ""
            raise LabelMapError(f"--label-map names one class ({names[0]}); a classifier needs at least two{hint}")
        if set(names) == {"negative", "positive"}:
            names = ["negative", "positive"]
        return cls(" ".join(entries), tuple(ranges), words, tuple(names))

    def name_of(self, key: str) -> str | None:
        """The class of a label key (corpus.label_key's spelling), or None when the map drops it."""
        if key in self.words:
            return self.words[key]
        number = _number(key)
        if number is None:
            return None
        return next((name for low, high, name in self.ranges if low <= number <= high), None)

    def check_spelling(self) -> None:
        """Class names that differ only in case ("Negative" and "negative" made two classes without a word): an
        error for a map the user types, never for one a saved model already trained with."""
        folded = {}
        for name in self.names:
            if (other := folded.setdefault(name.casefold(), name)) != name:
                raise LabelMapError(
                    f"--label-map names {other!r} and {name!r}, which differ only in case; spell one class one way"
                )

    def encode(self, keys: list[str], label_names: list[str] | None, path) -> tuple[list[int], list[str]]:
        """Keys as class indices (UNMAPPED where dropped); `label_names` (a model's) must hold every mapped name."""
        names = list(label_names) if label_names is not None else list(self.names)
        for name in self.names:
            if name not in names:
                raise FlagError(
                    f"{path}: --label-map names {name!r}, which this model does not know (its labels: "
                    f"{', '.join(names)}); map onto those names"
                )
        index = {name: i for i, name in enumerate(names)}
        return [index.get(self.name_of(key), UNMAPPED) for key in keys], names

    def check_present(self, counts: list[int], path, column: str) -> None:
        """Training needs reviews of every class the map names (counts: reviews per class, in `names` order)."""
        for name, count in zip(self.names, counts):
            if count == 0:
                raise ReviewRNNError(
                    f"{path}: no review in column {column!r} maps to {name!r} with --label-map {self.text!r}; "
                    "fix the map (or --label-column) or drop that class"
                )


def _add_value(value: str, name: str, entry: str, ranges: list, words: dict) -> None:
    """One VALUE of an entry: a number, LOW-HIGH, or a word; a value mapped twice is an error."""
    if not value:
        raise LabelMapError(f"--label-map entry {entry!r} has an empty value; write e.g. {EXAMPLE}")
    match, key = _RANGE.fullmatch(value), value.lower()  # a word as corpus.label_key spells it
    if match is None and _number(key) is None:
        if key in words:
            raise LabelMapError(f"--label-map maps {value!r} twice; give each value one class")
        words[key] = name
        return
    low = float(match.group(1)) if match else float(key)
    high = float(match.group(2)) if match and match.group(2) is not None else low
    if high < low:
        raise LabelMapError(f"--label-map range {value!r} runs backwards; write it low-high, e.g. 1-2")
    for other_low, other_high, _ in ranges:
        if low <= other_high and other_low <= high:
            raise LabelMapError(f"--label-map maps {value!r} twice (it overlaps another value); map each value once")
    ranges.append((low, high, name))


def _number(key: str) -> float | None:
    try:
        number = float(key)
    except ValueError:
        return None
    return number if number == number else None  # NaN is no rating


SHOWN_VALUES = 6  # dropped label values named in a message; the rest are counted together


def dropped_values(values: dict[str, int]) -> str:
    """'3' 640, empty 12, 'five' 1, ...: the label values a --label-map dropped, the most frequent first."""
    named = [f"{value!r} {count}" if value else f"empty {count}" for value, count in values.items()]
    rest = len(named) - SHOWN_VALUES
    return ", ".join(named[:SHOWN_VALUES]) + (f", {rest} more" if rest > 0 else "")
