"""Fine-tuning recipes from a pretrained LM at N labels: VALID accuracy (best epoch) per recipe and seed,
TEST only with --test. The screen behind README's "Pretraining (issue 13)" table.

Each run is `train --limit N --seed S` with the LM's tokenizer and shape, the pooling the recipe names,
and its initial weights (none, the LM's embedding, or the whole LM); at least --min-steps optimiser steps
(as bench-labels). Results accumulate in --out (JSON); a recipe and seed already there is skipped.

  python benchmarks/recipes.py --lm models/pretrained/imdb-lm --n 1000 --recipes lm-emb-mean,scratch-mean \\
      --seeds 0,1,2 --test --out recipes.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from reviewrnn import runtime
from reviewrnn.config import ModelConfig, TokenizerConfig, TrainConfig
from reviewrnn.transfer import adopt, init_info, open_pretrained

RECIPES = {  # name: (init part or None, pooling)
    "scratch": (None, "max"),
    "lm": ("all", "max"),
    "lm-emb": ("embedding", "max"),
    "scratch-mean": (None, "mean"),
    "lm-mean": ("all", "mean"),
    "lm-emb-mean": ("embedding", "mean"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", type=Path, required=True, help="a `reviewrnn pretrain` directory")
    parser.add_argument("--n", type=int, default=1000, help="labelled TRAIN reviews (the first N)")
    parser.add_argument("--recipes", default="scratch,lm,lm-emb", help=f"comma-separated, of {', '.join(RECIPES)}")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds")
    parser.add_argument("--min-steps", type=int, default=300, help="at least this many optimiser steps")
    parser.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    parser.add_argument("--test", action="store_true", help="also score TEST (choose recipes on VALID first)")
    parser.add_argument("--models-dir", type=Path, default=Path("models/recipes"), help="where the models go")
    parser.add_argument("--out", type=Path, required=True, help="results JSON, rewritten after each run")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.recipes.split(",")) - set(RECIPES))
    if unknown:
        parser.error(f"unknown recipe {unknown[0]!r}; choose from {', '.join(RECIPES)}")
    return args


def train_one(args: argparse.Namespace, name: str, seed: int) -> dict:
    from reviewrnn.runs import train_step
    from reviewrnn.source import CorpusSettings

    part, pool = RECIPES[name]
    lm = open_pretrained(args.lm)
    model, tokenizer = ModelConfig(pool=pool), TokenizerConfig()
    adopt(lm, model, tokenizer, given=set())
    defaults = TrainConfig()
    epochs = max(defaults.epochs, math.ceil(args.min_steps * defaults.batch_size / args.n))
    patience = max(defaults.patience, epochs // defaults.epochs)
    train = TrainConfig(limit=args.n, seed=seed, threads=args.threads, epochs=epochs, patience=patience)
    runtime.set_threads(train.threads)
    directory = args.models_dir / f"n{args.n}-{name}-s{seed}"
    started = time.perf_counter()
    init = init_info(lm, part, model) if part else None
    outcome = train_step(CorpusSettings("imdb"), model, train, tokenizer, directory, lm.tokenizer_path, None, init)
    row = {"recipe": name, "seed": seed, "n": args.n, "valid": outcome.best_valid_accuracy}
    row |= {"best_epoch": outcome.best_epoch, "epochs": epochs, "seconds": time.perf_counter() - started}
    if args.test:
        row["test"] = test_accuracy(directory)
    return row


def test_accuracy(directory: Path) -> float:
    from reviewrnn.scoring import evaluate_step

    return evaluate_step(directory, split_name="test")["accuracy"]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = json.loads(args.out.read_text()) if args.out.exists() else []
    for name in args.recipes.split(","):
        for seed in map(int, args.seeds.split(",")):
            if any(r["recipe"] == name and r["seed"] == seed and r["n"] == args.n for r in results):
                continue
            results.append(train_one(args, name, seed))
            print(json.dumps(results[-1]), flush=True)
            args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
