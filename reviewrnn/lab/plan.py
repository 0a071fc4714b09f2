"""The study's run plan: every setting and every training run, fixed before anything is measured.

Runs: rnn, gru and lstm (same embedding and hidden sizes, epochs, seed); the vanilla RNN again with
mean and max pooling (the short gradient path), with tail truncation (truncation against memory),
and without clipping over several seeds (with clipping for the same seeds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reviewrnn.lab.settings import FILLER_DISTANCES, SyntheticSettings

CELL_RUNS = ("rnn", "gru", "lstm")
POOLED_RUNS = ("rnn-mean", "rnn-max")
PROBED_RUNS = (*CELL_RUNS, *POOLED_RUNS)  # probes and gradients look at these
LENGTH_GROUPS = {  # the report's and the charts' side-by-side comparisons of accuracy by length
    "cells": CELL_RUNS,
    "pooling": ("rnn", *POOLED_RUNS),
    "truncation": ("rnn", "rnn-tail"),
}


@dataclass
class StudyPlan:
    """Every setting of the study, chosen before it runs; saved in results.json."""

    corpus: str = "imdb"
    sample: int | None = None  # use a seeded sample of this many reviews (the quick mode)
    embed: int = 128
    hidden: int = 128
    epochs: int = 4
    batch_size: int = 64
    lr: float = 2e-3
    schedule: str = "constant"  # plain Adam
    max_tokens: int = 400
    vocab_size: int = 20_000
    seed: int = 0
    clip_seeds: tuple[int, ...] = (0, 1, 2)
    threads: int | None = None
    filler_distances: tuple[int, ...] = FILLER_DISTANCES
    filler_reviews: int = 400
    short_max: int = 100
    gradient_reviews: int = 64
    synthetic: SyntheticSettings = field(default_factory=SyntheticSettings)

    @classmethod
    def quick(cls, threads: int | None = None, corpus: str = "imdb") -> StudyPlan:
        """A few minutes on one core: an 8,000-review sample, smaller networks, fewer epochs and seeds."""
        synthetic = SyntheticSettings(
            distances=(0, 2, 4, 8, 16, 32, 64, 128),
            train_size=2000,
            valid_size=400,
            test_per_distance=300,
            epochs=3,
        )
        return cls(
            corpus=corpus,
            sample=8000,
            embed=64,
            hidden=64,
            epochs=3,
            vocab_size=8000,
            clip_seeds=(0, 1),
            threads=threads,
            filler_reviews=200,
            gradient_reviews=32,
            synthetic=synthetic,
        )


@dataclass
class RunSpec:
    """One training run of the study: the vanilla RNN with everything at the plan's values unless named here."""

    name: str
    role: str  # cells, pooling, truncation or clipping
    cell: str = "rnn"
    pool: str = "last"
    truncate: str = "head"
    clip_norm: float = 1.0
    seed: int | None = None  # None: the plan's seed


def run_specs(plan: StudyPlan) -> list[RunSpec]:
    specs = [RunSpec(cell, "cells", cell=cell) for cell in CELL_RUNS]
    specs += [RunSpec(f"rnn-{pool}", "pooling", pool=pool) for pool in ("mean", "max")]
    specs += [RunSpec("rnn-tail", "truncation", truncate="tail")]
    for seed in plan.clip_seeds:
        specs.append(RunSpec(f"rnn-clip0-seed{seed}", "clipping", clip_norm=0.0, seed=seed))
        if seed != plan.seed:  # with the plan's seed, clipping at 1 is the plain "rnn" run
            specs.append(RunSpec(f"rnn-clip1-seed{seed}", "clipping", seed=seed))
    return specs


def run_configs(plan: StudyPlan, spec: RunSpec):
    from reviewrnn.config import ModelConfig, TokenizerConfig, TrainConfig

    # Every setting is spelled out, so a change of the tool's defaults never changes the study.
    model = ModelConfig(
        cell=spec.cell, embed=plan.embed, hidden=plan.hidden, layers=1, bidirectional=False, dropout=0.0, pool=spec.pool
    )
    train = TrainConfig(
        epochs=plan.epochs,
        batch_size=plan.batch_size,
        lr=plan.lr,
        schedule=plan.schedule,
        weight_decay=0.0,
        clip_norm=spec.clip_norm,
        max_tokens=plan.max_tokens,
        truncate=spec.truncate,
        seed=plan.seed if spec.seed is None else spec.seed,
        patience=plan.epochs,  # no early stop: every run gets the whole budget (the best epoch is still kept)
        limit=None,
        valid_fraction=0.1,
        threads=plan.threads,
        device="cpu",
    )
    return model, train, TokenizerConfig(vocab_size=plan.vocab_size, min_frequency=2)
