"""Accuracy by length for several models side by side, each bucket with its count and 95% interval.

The buckets are split at every model's max_tokens, which separates two reasons for a drop on long
reviews: below the cut a model read the whole review, so only memory is tested; above it the model
never saw the rest of the review (truncation), so memory and missing text are mixed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from reviewrnn.config import DEFAULT_LENGTH_EDGES
from reviewrnn.metrics import difference_interval


@dataclass
class ModelLengths:
    """One model's test accuracy by review length, and the gap between its shortest and longest buckets."""

    name: str
    directory: str
    cell: str
    pool: str
    truncate: str
    max_tokens: int
    accuracy: float
    count: int
    truncated: int  # test reviews longer than max_tokens
    rows: list[dict]  # evaluate.accuracy_by_length rows, each with "cut": True when its reviews were truncated
    gap: dict | None  # shortest minus longest non-empty bucket
    gap_read_whole: dict | None  # the same among buckets whose reviews the model read whole
    warnings: list[str] = field(default_factory=list)  # evaluate's: the model's corpus file changed since training

    def to_dict(self) -> dict:
        return asdict(self)


def bucket_edges(max_tokens: Sequence[int], base: Sequence[int] = DEFAULT_LENGTH_EDGES) -> tuple[int, ...]:
    """`base` plus one edge just past each max_tokens: a bucket then holds only whole or only cut reviews."""
    return tuple(sorted(set(base) | {limit + 1 for limit in max_tokens}))


def length_gap(rows: list[dict]) -> dict | None:
    """Accuracy of the shortest non-empty bucket minus the longest, with a 95% interval (None if < 2 buckets)."""
    filled = [row for row in rows if row["count"]]
    if len(filled) < 2:
        return None
    short, long = filled[0], filled[-1]
    hits = [round(row["accuracy"] * row["count"]) for row in (short, long)]
    low, high = difference_interval(hits[0], short["count"], hits[1], long["count"])
    return {
        "short": {key: short[key] for key in ("low", "high", "count", "accuracy")},
        "long": {key: long[key] for key in ("low", "high", "count", "accuracy")},
        "difference": short["accuracy"] - long["accuracy"],
        "ci_low": low,
        "ci_high": high,
        "clear": low > 0 or high < 0,  # the interval excludes 0
    }


def read_saved_report(directory: Path, edges: Sequence[int], corpus: str) -> dict | None:
    """MODEL/eval.json when it scored the TEST split of the model's own corpus with these buckets."""
    path = Path(directory) / "eval.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        lows = [row["low"] for row in report["by_length"]]
        usable = report["split"] == "test" and report["corpus"] == corpus and lows == list(edges)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return report if usable else None


def compare_models(
    directories: Sequence[Path],
    base_edges: Sequence[int] = DEFAULT_LENGTH_EDGES,
    device: str = "auto",
    threads: int | None = None,
    evaluate: Callable[[Path, tuple[int, ...]], dict] | None = None,
) -> list[ModelLengths]:
    """Each model's TEST accuracy by length on shared buckets; eval.json is reused when it has them.

    `evaluate(directory, edges)` scores a model when no usable eval.json exists (default: the
    pipeline's evaluate_step, which also rewrites eval.json).
    """
    from reviewrnn.artifacts import load_config

    if evaluate is None:
        evaluate = functools.partial(_evaluate_with_pipeline, device=device, threads=threads)
    configs = [load_config(directory) for directory in directories]
    edges = bucket_edges([config.train.max_tokens for config in configs], base_edges)
    names = _short_names(directories)
    results = []
    for name, directory, config in zip(names, directories, configs):
        report = read_saved_report(directory, edges, config.corpus.name) or evaluate(Path(directory), edges)
        results.append(_lengths(name, Path(directory), config, report))
    return results


def _lengths(name: str, directory: Path, config, report: dict) -> ModelLengths:
    limit = config.train.max_tokens
    rows = [row | {"cut": row["low"] > limit} for row in report["by_length"]]
    whole = [row for row in rows if not row["cut"]]
    return ModelLengths(
        name=name,
        directory=str(directory),
        cell=config.model.cell,
        pool=config.model.pool,
        truncate=config.train.truncate,
        max_tokens=limit,
        accuracy=report["accuracy"],
        count=report["count"],
        truncated=report.get("truncated", sum(row["count"] for row in rows if row["cut"])),
        rows=rows,
        gap=length_gap(rows),
        gap_read_whole=length_gap(whole),
        warnings=list(report.get("corpus_changed", [])),
    )


def _short_names(directories: Sequence[Path]) -> list[str]:
    """Directory names, or whole paths where two models share a name."""
    names = [Path(directory).name for directory in directories]
    return [name if names.count(name) == 1 else str(directory) for name, directory in zip(names, directories)]


def _evaluate_with_pipeline(directory: Path, edges: tuple[int, ...], device: str, threads: int | None) -> dict:
    from reviewrnn.scoring import evaluate_step

    return evaluate_step(directory, None, "test", edges, device, threads)
