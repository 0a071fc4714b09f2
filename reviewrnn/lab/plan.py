"""The study's run plan: every setting and every training run, fixed before anything is measured.

Runs: rnn, gru and lstm reading whole reviews (no truncation), each from every seed of the plan;
the vanilla RNN again with mean and max pooling (the short gradient path); reading only the first or
the last `cut_tokens` (truncation against memory); and without clipping over several seeds (the
clipped runs of those seeds are the cell runs themselves).

Budget (issue 15: the full study pinned to one core in <= 75 min). Training throughput measured on
this project's AMD EPYC (AVX-512), `taskset -c 1`, 1 thread, cores shared, 60 length-grouped
batches of 64 whole IMDB reviews (tokens per second, forward + backward + Adam):

    hidden   rnn      gru      lstm      one epoch of TRAIN read whole (6.34 M tokens): rnn/gru/lstm
    128      179 k     74 k     48 k     35 s /  86 s / 131 s
    64       435 k    207 k    138 k     15 s /  31 s /  46 s

Read whole, TRAIN has 1.20x the tokens it has cut at 400 (6.34 M against 5.29 M; the longest TRAIN
review has 2,809 tokens, the longest TEST one 3,176). 3 seeds x 3 cells x 4 epochs at hidden 128
would take ~50 min of training at the rates above, and the last full run trained ~2x slower than
they say (other work on the machine), so the plan uses hidden 64 and 3 epochs. In the last run
(4 epochs, hidden 128) the order of the cells by validation accuracy was the same after 2, 3 and 4.

Measured for this plan on all of IMDB (same machine, `taskset -c 1`, 1 thread, cores shared): the
tokenizer 41 s and every review's length 39 s; one lstm epoch read whole 94 s with the run's own
corpus reading, encoding and validation (~30 s of that once per run); TEST scoring of that lstm read
whole 32 s; its sentence move (300 reviews) 34 s; its gradients (trained and init, the 32 longest
TEST reviews) 25 s. Estimated from those: training ~34 min (9 cell runs ~23 min, 7 others ~11 min),
scoring 15 models ~5 min, the sentence move ~4 min, filler ~3 min, synthetic ~5 min, gradients
~2 min: ~55 min in all, inside the 75-minute budget with ~25% to spare. `--quick` took 3.7 min.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reviewrnn.lab.settings import FILLER_DISTANCES, SyntheticSettings

CELL_RUNS = ("rnn", "gru", "lstm")  # the seed-0 names; other seeds are "rnn-seed1" and so on
POOLED_RUNS = ("rnn-mean", "rnn-max")
PROBED_RUNS = (*CELL_RUNS, *POOLED_RUNS)  # the filler probe and gradients look at these
CUT_RUNS = ("rnn-head", "rnn-tail")
LENGTH_GROUPS = {  # the report's and the charts' side-by-side comparisons of accuracy by length
    "cells": CELL_RUNS,
    "pooling": ("rnn", *POOLED_RUNS),
    "truncation": ("rnn", *CUT_RUNS),
}
# Throughput of one training thread by cell at hidden 64 (tokens/s, the table above): the progress estimate.
TRAIN_RATES = {"rnn": 435_000, "gru": 207_000, "lstm": 138_000}


@dataclass
class StudyPlan:
    """Every setting of the study, chosen before it runs; saved in results.json."""

    corpus: str = "imdb"
    sample: int | None = None  # use a seeded sample of this many reviews (the quick mode)
    embed: int = 64
    hidden: int = 64
    epochs: int = 3
    batch_size: int = 64
    lr: float = 2e-3
    schedule: str = "constant"  # plain Adam
    max_tokens: int = 0  # 0: read whole, i.e. max_tokens = the longest TRAIN/VALID/TEST review (found at run time)
    cut_tokens: int = 400  # what the truncation runs keep (the head or the tail)
    vocab_size: int = 20_000
    seed: int = 0  # the first seed; the probes' seed
    seeds: tuple[int, ...] = (0, 1, 2)  # every cell is trained from each
    clip_seeds: tuple[int, ...] = (0, 1, 2)
    threads: int | None = None
    filler_distances: tuple[int, ...] = FILLER_DISTANCES
    filler_reviews: int = 300
    short_max: int = 100
    move_reviews: int = 300  # TEST reviews per model for the sentence move
    gradient_reviews: int = 32  # the longest TEST reviews, cut to the shortest of them
    synthetic: SyntheticSettings = field(default_factory=lambda: SyntheticSettings(train_size=6000, epochs=5))

    @classmethod
    def quick(cls, threads: int | None = None, corpus: str = "imdb") -> StudyPlan:
        """A few minutes on one core: a 6,000-review sample, small networks, 2 epochs, 2 seeds (the full plan has 3)."""
        synthetic = SyntheticSettings(
            distances=(0, 4, 16, 64), train_size=1200, valid_size=200, test_per_distance=150, epochs=2
        )
        return cls(
            corpus=corpus, sample=6000, embed=32, hidden=32, epochs=2, vocab_size=8000, seeds=(0, 1),
            clip_seeds=(0, 1), threads=threads, filler_distances=(0, 64, 256, 1024), filler_reviews=100,
            move_reviews=90, gradient_reviews=8, synthetic=synthetic,
        )  # fmt: skip


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
    max_tokens: int | None = None  # None: the plan's reading (whole reviews unless plan.max_tokens says otherwise)


def seed_name(cell: str, seed: int, plan: StudyPlan) -> str:
    """The run of this cell and seed: 'rnn' for the plan's seed, 'rnn-seed1' for another."""
    return cell if seed == plan.seed else f"{cell}-seed{seed}"


def run_specs(plan: StudyPlan) -> list[RunSpec]:
    seeds = (plan.seed, *(seed for seed in plan.seeds if seed != plan.seed))
    specs = [
        RunSpec(seed_name(cell, seed, plan), "cells", cell=cell, seed=seed) for seed in seeds for cell in CELL_RUNS
    ]
    specs += [RunSpec(f"rnn-{pool}", "pooling", pool=pool) for pool in ("mean", "max")]
    specs += [
        RunSpec(f"rnn-{keep}", "truncation", truncate=keep, max_tokens=plan.cut_tokens) for keep in ("head", "tail")
    ]
    for seed in plan.clip_seeds:
        specs.append(RunSpec(f"rnn-clip0-seed{seed}", "clipping", clip_norm=0.0, seed=seed))
        if seed not in seeds:  # with a cell seed, clipping at 1 is that seed's plain rnn run
            specs.append(RunSpec(f"rnn-clip1-seed{seed}", "clipping", seed=seed))
    return specs


def clipped_name(plan: StudyPlan, seed: int) -> str:
    """The run with clipping at 1 for a clipping seed (a cell run when the seed is one of the plan's seeds)."""
    return seed_name("rnn", seed, plan) if seed in (plan.seed, *plan.seeds) else f"rnn-clip1-seed{seed}"


def estimated_seconds(plan: StudyPlan, spec: RunSpec, tokens: int, whole_tokens: int) -> float:
    """A rough training time for the progress line: epochs x TRAIN tokens / the measured rate, scaled by size."""
    scale = (plan.hidden / 64) ** 1.5 if plan.hidden > 64 else 1.0
    share = 1.0 if spec.max_tokens is None else min(1.0, spec.max_tokens / max(whole_tokens, 1)) ** 0.3
    return plan.epochs * tokens * share * scale / TRAIN_RATES.get(spec.cell, TRAIN_RATES["lstm"])


def run_configs(plan: StudyPlan, spec: RunSpec, whole_tokens: int):
    """The run's model, training and tokenizer configs; `whole_tokens` is the longest review (read whole)."""
    from reviewrnn.config import ModelConfig, TokenizerConfig, TrainConfig

    reading = spec.max_tokens or plan.max_tokens or whole_tokens
    # Every setting is spelled out, so a change of the tool's defaults never changes the study.
    model = ModelConfig(
        cell=spec.cell,
        embed=plan.embed,
        embed_init=1.0,  # torch's own, as the study was measured
        hidden=plan.hidden,
        layers=1,
        bidirectional=False,
        dropout=0.0,
        pool=spec.pool,
    )
    train = TrainConfig(
        epochs=plan.epochs,
        batch_size=plan.batch_size,
        lr=plan.lr,
        schedule=plan.schedule,
        weight_decay=0.0,
        clip_norm=spec.clip_norm,
        max_tokens=reading,
        truncate=spec.truncate,
        seed=plan.seed if spec.seed is None else spec.seed,
        patience=plan.epochs,  # no early stop: every run gets the whole budget (the best epoch is still kept)
        limit=None,
        valid_fraction=0.1,
        threads=plan.threads,
        device="cpu",
    )
    return model, train, TokenizerConfig(vocab_size=plan.vocab_size, min_frequency=2)
