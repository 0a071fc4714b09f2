"""How fast the default recipe leaves the chance-level plateau: N optimiser steps, then VALID accuracy.

With torch's N(0, 1) embeddings the default LSTM sat near a loss of 0.69 for ~150 steps; this is the
probe that chose train's --embed-init 0.1 (README, "Embedding scale"). Each variant changes one thing
from the defaults; everything else (data, tokenizer, batches, seed) is what `reviewrnn train` uses.

  python benchmarks/takeoff.py                                  # torch's scale against 0.1, seeds 1 and 0
  python benchmarks/takeoff.py --variants 1.0,0.3,0.1,0.03 --seeds 1
  python benchmarks/takeoff.py --steps 20 --limit 2000 --variants 1.0,0.1 --seeds 0   # smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from reviewrnn import kernels, runtime  # noqa: E402
from reviewrnn.callbacks import Callbacks  # noqa: E402
from reviewrnn.config import ModelConfig, TokenizerConfig, TrainConfig  # noqa: E402
from reviewrnn.model import RecurrentClassifier  # noqa: E402
from reviewrnn.runs import prepare_run  # noqa: E402
from reviewrnn.source import CorpusSettings  # noqa: E402
from reviewrnn.train import Trainer, _validate  # noqa: E402

console = Console(width=None if sys.stdout.isatty() else 132)


def cpu_name() -> str:
    """The CPU's model and vector extensions, printed beside every figure (machines differ)."""
    found = kernels.machine()
    return f"{found['cpu']} ({', '.join(found['vector']) or 'no vector extensions'}), {found['threads']} threads"


def variant(text: str) -> tuple[str, dict, dict]:
    """'0.1' (an embedding std) or '0.1@4e-3' (with that learning rate) -> (label, model changes, train changes)."""
    scale, _, lr = text.partition("@")
    return text, {"embed_init": float(scale)}, ({"lr": float(lr)} if lr else {})


def probe(prepared, scale_changes: dict, train_changes: dict, seed: int, steps: int) -> dict:
    """Train `steps` steps from the defaults with the changes; VALID accuracy and the loss every 50 steps."""
    model_config = dataclasses.replace(prepared.config.model, **scale_changes)
    train_config = dataclasses.replace(prepared.config.train, seed=seed, **train_changes)
    rng = runtime.seed_everything(seed)
    model = RecurrentClassifier(model_config)
    trainer = Trainer(model, prepared.train_set, prepared.valid_set, train_config, torch.device("cpu"), rng)
    losses: list[float] = []
    started = time.perf_counter()
    trainer.run(Callbacks(step=lambda report: losses.append(report.loss)), should_stop=lambda: len(losses) >= steps)
    seconds = time.perf_counter() - started
    accuracy, _ = _validate(model, prepared.valid_set, train_config, torch.device("cpu"))
    loss = np.array(losses)
    return {
        "valid": accuracy,
        "losses": [float(loss[i : i + 50].mean()) for i in range(0, len(loss), 50)],
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=250, help="optimiser steps per probe (an epoch is ~347)")
    parser.add_argument("--variants", default="1.0,0.1", help="embedding stds, each optionally @LR")
    parser.add_argument("--seeds", default="1,0")
    parser.add_argument("--limit", type=int, help="only the first N TRAIN reviews (smoke runs)")
    args = parser.parse_args(argv)
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    prepared = prepare_run(CorpusSettings(), ModelConfig(), TrainConfig(limit=args.limit), TokenizerConfig())
    seeds = [int(seed) for seed in args.seeds.split(",")]
    table = Table(title=f"Take-off: VALID accuracy after {args.steps} steps ({cpu_name()})", title_justify="left")
    for column in ("embedding std @ lr", "seed", "VALID", "mean loss per 50 steps", "seconds"):
        table.add_column(column, justify="left" if column.startswith("mean") else "right")
    for label, scale_changes, train_changes in map(variant, args.variants.split(",")):
        for seed in seeds:
            found = probe(prepared, scale_changes, train_changes, seed, args.steps)
            losses = " ".join(f"{loss:.3f}" for loss in found["losses"])
            table.add_row(label, str(seed), f"{found['valid']:.2%}", losses, f"{found['seconds']:.0f}")
    console.print(table)


if __name__ == "__main__":
    main()
