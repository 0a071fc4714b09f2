"""The out-of-domain warning's figures for one model: how often it fires on its own TEST and on other text.

The score is domain.py's (share of a review's tokens rare in TRAIN), the rule is DomainWatch's: the
mean over the reviews read so far against DomainProfile.limit(n). Windows are consecutive runs of n
reviews, as predict sees an input of n lines. TEST is read for scoring only. Other text, offline:
Python's reference docs (pydoc_data) and the licences in /usr/share/common-licenses, in paragraphs
of 20+ words, and any --file given (one review per line).

  python benchmarks/doubt.py models/default
  python benchmarks/doubt.py models/default --file amazon.txt --json doubt.json
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from reviewrnn.artifacts import load_model
from reviewrnn.data import truncate
from reviewrnn.domain import MIN_REVIEWS
from reviewrnn.source import CorpusSettings, open_source
from reviewrnn.tokenizer import encode

WINDOWS = (MIN_REVIEWS, 20, 256)
LICENCES = Path("/usr/share/common-licenses")


def paragraphs(text: str) -> list[str]:
    """Blocks of 20+ words, mostly words (not code or tables), joined onto one line."""
    blocks = (" ".join(block.split()) for block in re.split(r"\n\s*\n", text))
    return [b for b in blocks if len(b.split()) >= 20 and sum(w.isalpha() for w in b.split()) > 0.7 * len(b.split())]


def other_texts(files: list[Path]) -> dict[str, list[str]]:
    import pydoc_data.topics

    texts = {"python docs": [p for topic in pydoc_data.topics.topics.values() for p in paragraphs(topic)]}
    if LICENCES.is_dir():
        licences = [
            p for f in sorted(LICENCES.iterdir()) if f.is_file() for p in paragraphs(f.read_text("utf-8", "replace"))
        ]
        texts["licences"] = licences
    for path in files:
        texts[path.name] = [line for line in path.read_text("utf-8", "replace").splitlines() if line.strip()]
    return texts


def figures(profile, scores: np.ndarray) -> dict:
    """Mean score, and the share of consecutive windows of n reviews whose mean passes limit(n)."""
    row = {
        "reviews": len(scores),
        "mean": float(scores.mean()),
        "whole_input_warns": bool(scores.mean() > profile.limit(len(scores))),
    }
    row["single_review_above_limit"] = float((scores > profile.limit(1)).mean())
    for n in WINDOWS:
        usable = len(scores) // n * n
        means = scores[:usable].reshape(-1, n).mean(axis=1) if usable else np.zeros(0)
        row[f"windows_{n}"] = int(len(means))
        row[f"fires_{n}"] = float((means > profile.limit(n)).mean()) if len(means) else None
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--file", type=Path, action="append", default=[], help="More text, one review per line.")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    loaded = load_model(args.model)
    profile, config = loaded.domain, loaded.config
    if profile is None:
        raise SystemExit(f"{args.model}: no domain.json; run `reviewrnn evaluate {args.model} --calibrate` first")
    corpus, train = config.corpus, config.train
    source = open_source(CorpusSettings.of_run(corpus), train.valid_fraction)
    rows = {}
    for part in ("valid", "test"):
        encoded = source.encode(loaded.tokenizer, part, train.max_tokens, train.truncate)
        rows[f"{corpus.name} {part.upper()}"] = figures(profile, profile.scores(list(encoded.ids)))
    for name, texts in other_texts(args.file).items():
        ids = [truncate(row, train.max_tokens, train.truncate) for row in encode(loaded.tokenizer, texts)]
        rows[name] = figures(profile, profile.scores(ids))
    table = Table(title=f"Out-of-domain warning, {args.model}: warns when the mean score of n reviews > limit(n)")
    for column in ("text", "reviews", "mean score", *(f"fires, n={n}" for n in WINDOWS), "whole input"):
        table.add_column(column, justify="left" if column == "text" else "right")
    for name, row in rows.items():
        shares = [("-" if row[f"fires_{n}"] is None else f"{row[f'fires_{n}']:.1%}") for n in WINDOWS]
        table.add_row(
            name, str(row["reviews"]), f"{row['mean']:.3f}", *shares, "warns" if row["whole_input_warns"] else "silent"
        )
    limits = ", ".join(f"limit({n}) = {profile.limit(n):.3f}" for n in (*WINDOWS, 10**6))
    console = Console()
    console.print(table)
    console.print(f"VALID mean {profile.valid_mean:.3f}, sd {profile.valid_std:.3f}; {limits}")
    if args.json:
        args.json.write_text(json.dumps({"limits": {n: profile.limit(n) for n in WINDOWS}, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
