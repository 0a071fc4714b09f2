"""A star-rated, imbalanced corpus made from IMDB, for --label-map and --class-weights (README, "Your own reviews").

Every positive review is kept, a fixed fifth of the negatives (by a hash of the text, so the choice
never depends on row order); stars come from another hash: negatives 1 or 2, positives 4 or 5, and one
review in twenty gets 3 (which "1,2=negative 4,5=positive" drops). The canonical split still decides
TRAIN/VALID/TEST by the text alone, so TEST reviews stay TEST reviews: scoring only.

  python benchmarks/stars.py models/stars.csv
"""

from __future__ import annotations

import argparse
import csv
import hashlib
from pathlib import Path

from reviewrnn.corpus import load_corpus

NEGATIVES_KEPT = 0.2
THREE_STARS = 0.05


def fraction(text: str, salt: bytes) -> float:
    """A number in [0, 1) fixed by the text and the salt."""
    head = hashlib.sha256(salt + text.encode("utf-8")).digest()[:8]
    return int.from_bytes(head, "big") / 2**64


def stars(text: str, label: str) -> int | None:
    """The review's star rating, or None when the review is left out."""
    if label == "negative" and fraction(text, b"keep\0") >= NEGATIVES_KEPT:
        return None
    if fraction(text, b"three\0") < THREE_STARS:
        return 3
    low = 1 if label == "negative" else 4
    return low + (fraction(text, b"stars\0") >= 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    corpus = load_corpus("imdb")
    names = corpus.label_names
    rows = [(text, stars(text, names[label])) for text, label in zip(corpus.examples.texts, corpus.examples.labels)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("text", "stars"))
        writer.writerows(row for row in rows if row[1] is not None)


if __name__ == "__main__":
    main()
