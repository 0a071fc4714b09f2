"""`make bench-labels`: TEST accuracy when only the first N TRAIN reviews keep their labels.

All canonical TRAIN texts are available unlabeled: one language model is pretrained on them (`reviewrnn
pretrain`; never VALID for training, never TEST). Then, for each N, on the first N labelled TRAIN reviews:
reviewrnn from scratch, from the LM's embedding alone, and from the whole LM (`train --init`); TF-IDF+LR
and fastText bigrams as `make bench-accuracy` runs them (benchmarks/accuracy.py). The three reviewrnn
columns share the LM's tokenizer and shape, so only the initial weights differ. Every method makes its
choices (early stopping, C, fastText's lr and epochs) on the whole VALID split, as bench-accuracy does. At small N
the classifiers get at least --min-steps optimiser steps (train's 5 epochs of 500 reviews are only 40).
Cells are TEST accuracy with a 95% Wilson interval; the smallest N's run two seeds.

  python benchmarks/labels.py --json labels.json
  python benchmarks/labels.py --sizes 500 --limit 2000 --epochs 1 --lm-epochs 1 --threads 1   # smoke run
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy  # noqa: E402  (benchmarks/accuracy.py: the peers and the scoring bracket)

from reviewrnn import cpu, runtime  # noqa: E402
from reviewrnn.atomic import atomic_write_json  # noqa: E402
from reviewrnn.config import (  # noqa: E402
    INIT_DEFAULTS,
    PRETRAIN_DEFAULTS,
    ModelConfig,
    TokenizerConfig,
    TrainConfig,
)
from reviewrnn.corpus import load_corpus  # noqa: E402
from reviewrnn.runs import package_versions  # noqa: E402
from reviewrnn.splits import split_corpus  # noqa: E402

out, err = Console(width=160), Console(stderr=True)
DEFAULT_SIZES = "500,1000,2500,5000,all"
RECURRENT = {"reviewrnn, no pretraining": None, "reviewrnn, LM embedding": "embedding", "reviewrnn, LM": "all"}
PEERS = ("TF-IDF 1-2g + LR", "fastText bigrams")
# fastText with bigrams as bench-accuracy runs it, but with its epochs searched on VALID too: 5 epochs of
# 500 reviews leave it at chance (50.1% on TEST), where 50 passes learn.
COLUMN_KEYS = dict(zip(("scratch", "embedding", "lm", "tfidf", "fasttext"), (*RECURRENT, *PEERS)))  # for --only
FASTTEXT_FEW_LABELS = accuracy.FASTTEXT_BIGRAMS | {"epoch": (5, 20, 50)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes", default=DEFAULT_SIZES, help=f"label counts N, comma-separated (default {DEFAULT_SIZES})"
    )
    parser.add_argument("--two-seeds-up-to", type=int, default=1000, help="run seeds 0 and 1 for N up to this")
    parser.add_argument("--limit", type=int, help="use only the first N TRAIN texts, for pretraining too (smoke runs)")
    parser.add_argument("--epochs", type=int, help="classifier epochs (default: train's, or --min-steps' worth)")
    parser.add_argument("--min-steps", type=int, default=300, help="at least this many classifier steps at small N")
    parser.add_argument("--lm-epochs", type=int, default=PRETRAIN_DEFAULTS["epochs"], help="pretraining epochs")
    parser.add_argument("--lm", type=Path, help="reuse this pretrained LM directory instead of pretraining one")
    parser.add_argument("--threads", type=int, help="CPU threads for every method (default: all cores)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here (rewritten after each cell)")
    parser.add_argument("--models-dir", type=Path, help="keep models here (default: a temporary folder)")
    parser.add_argument("--only", help=f"run only these columns, comma-separated: {', '.join(COLUMN_KEYS)}")
    args = accuracy.check_positive(parser, parser.parse_args(argv), ("limit", "epochs", "threads"))
    unknown = sorted({key.strip() for key in (args.only or "").split(",") if key.strip()} - set(COLUMN_KEYS))
    if unknown:
        parser.error(f"--only: no column {', '.join(map(repr, unknown))}; the columns are {', '.join(COLUMN_KEYS)}")
    return args


def sizes(spec: str, available: int) -> list[int]:
    """The label counts to run, 'all' as the number of TRAIN reviews; counts above it are dropped."""
    chosen = [available if item.strip() == "all" else int(item) for item in spec.split(",") if item.strip()]
    return sorted({n for n in chosen if 0 < n <= available})


def pretrain(args: argparse.Namespace, root: Path) -> tuple[Path, dict]:
    """The LM on all TRAIN texts (or --lm's); its directory and what it cost."""
    if args.lm is not None:
        return args.lm, {"reused": str(args.lm)}
    return accuracy.pretrain_lm("imdb", root, args.lm_epochs, None, args.limit, args.threads)


def schedule(n: int, args: argparse.Namespace, from_lm: bool) -> dict:
    """Epochs, schedule and patience for N labels: train's (INIT_DEFAULTS' from an LM), with enough epochs
    for --min-steps optimiser steps (500 labels are 8 steps an epoch) and patience growing alike;
    --epochs fixes the epochs instead."""
    defaults = TrainConfig()
    rate = INIT_DEFAULTS["schedule"] if from_lm else defaults.schedule  # the learning-rate schedule
    if args.epochs:
        return {"epochs": args.epochs, "schedule": rate}
    base = INIT_DEFAULTS["epochs"] if from_lm else defaults.epochs
    epochs = max(base, math.ceil(args.min_steps * defaults.batch_size / n))
    return {"epochs": epochs, "schedule": rate, "patience": max(defaults.patience, epochs // base)}


def fit_recurrent(lm_dir: Path, part: str | None, n: int, seed: int, args, directory: Path) -> accuracy.Fitted:
    """`train --limit N --seed S [--init LM --init-part PART]` with the LM's tokenizer and shape."""
    from reviewrnn.predict import load_predictor
    from reviewrnn.runs import train_step
    from reviewrnn.source import CorpusSettings

    model, tokenizer = ModelConfig(), TokenizerConfig()
    tokenizer_path, init = accuracy.init_from_lm(lm_dir, part, model, tokenizer)
    train = TrainConfig(limit=n, seed=seed, threads=args.threads, **schedule(n, args, from_lm=part is not None))
    runtime.set_threads(train.threads)
    outcome = train_step(CorpusSettings("imdb"), model, train, tokenizer, directory, tokenizer_path, None, init)
    predictor = load_predictor([directory])
    index = {name: i for i, name in enumerate(predictor.label_names)}

    def predict(texts):
        import numpy as np

        return np.array([index.get(found.label, 0) for found in predictor.predict(texts)])

    settings = f"best epoch {outcome.best_epoch}/{train.epochs} (VALID {outcome.best_valid_accuracy:.2%})"
    return accuracy.Fitted(predict, settings, {"best_epoch": outcome.best_epoch, "seconds": outcome.seconds})


def methods_for(n: int, lm_dir: Path, split, args, root: Path, threads: int) -> list[tuple[str, int, object]]:
    """(column, seed, fit) for one label count: the reviewrnn columns per seed, the peers once."""
    train = accuracy.head(split.train, n)
    seeds = (0, 1) if n <= args.two_seeds_up_to else (0,)
    methods = [
        (name, seed, partial(fit_recurrent, lm_dir, part, n, seed, args, root / f"n{n}-{part or 'none'}-s{seed}"))
        for name, part in RECURRENT.items()
        for seed in seeds
    ]
    methods.append((PEERS[0], 0, partial(accuracy.fit_tfidf_lr, train, split.valid)))
    fasttext = partial(accuracy.fit_fasttext, train, split.valid, FASTTEXT_FEW_LABELS, threads, root)
    methods.append((PEERS[1], 0, fasttext))
    only = [COLUMN_KEYS[key.strip()] for key in args.only.split(",") if key.strip()] if args.only else None
    return [method for method in methods if only is None or method[0] in only]


def run(args: argparse.Namespace, root: Path, report: dict) -> None:
    corpus = load_corpus("imdb")
    split = split_corpus(corpus.examples, TrainConfig.valid_fraction)
    available = len(accuracy.head(split.train, args.limit))
    lm_dir, report["pretraining"] = pretrain(args, root)
    words = accuracy.word_counts(split.test.texts)
    threads = args.threads or runtime.default_threads()
    for n in sizes(args.sizes, available):
        for name, seed, fit in methods_for(n, lm_dir, split, args, root, threads):
            err.print(f"[bold]N={n:,}[/] {name} (seed {seed})")
            row = accuracy.measure(name, fit, split.test, words) | {"labels": n, "seed": seed}
            err.print(f"  test {row['test_accuracy']:.2%}, {row['train_seconds']:.0f} s")
            report["cells"].append(row)
            if args.json:
                atomic_write_json(args.json, report)


def cell_text(rows: list[dict]) -> str:
    """'88.1 [87.7, 88.5]' per seed (TEST accuracy and its 95% interval, in %), one seed per line."""
    return "\n".join(
        f"{100 * row['test_accuracy']:.1f} [{100 * row['test_ci95'][0]:.1f}, {100 * row['test_ci95'][1]:.1f}]"
        for row in rows
    )


def render(report: dict) -> Table:
    table = Table(title=report["title"], title_justify="left", caption_justify="left")
    columns = [*RECURRENT, *PEERS]
    table.add_column("labels N", justify="right")
    for name in columns:
        table.add_column(name, justify="right")
    for n in sorted({row["labels"] for row in report["cells"]}):
        cells = [[row for row in report["cells"] if row["labels"] == n and row["method"] == name] for name in columns]
        table.add_row(f"{n:,}", *(cell_text(rows) or "-" for rows in cells))
    table.caption = "\n".join(report["notes"])
    return table


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = {
        "title": "TEST accuracy, % [95% Wilson interval], with N labelled TRAIN reviews; all TRAIN texts unlabeled",
        "notes": [
            "Pretraining reads TRAIN texts only (VALID is its held-out text, TEST never). The reviewrnn columns share "
            "the LM's tokenizer and shape; choices on all of VALID for every method; two seeds: one line each.",
            accuracy.machine_text(),
        ],
        "threads": args.threads,
        "machine": cpu.identity(),
        "versions": package_versions(),
        "cells": [],
    }
    runtime.keep_freed_memory()
    with tempfile.TemporaryDirectory(prefix="bench-labels-") as scratch, accuracy.limit_threads(args.threads):
        root = args.models_dir or Path(scratch)
        try:
            run(args, root, report)
        except KeyboardInterrupt:
            err.print("[red]stopped[/] (Ctrl-C); the table holds the cells that finished")
    if report["cells"]:
        out.print(render(report))
    if args.json:
        atomic_write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
