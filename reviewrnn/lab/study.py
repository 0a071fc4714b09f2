"""The whole long-dependency experiment, end to end: train every run with one budget, then measure.

Runs: rnn, gru and lstm (same embedding and hidden sizes, epochs, seed); the vanilla RNN again with
mean and max pooling (the short gradient path), with tail truncation (truncation against memory),
and without clipping over several seeds (with clipping for the same seeds). Then compare, both
probes, gradient flow and clipping; results.json, charts and REPORT.md land in one directory.

A run whose record (runs/NAME.json) matches the plan exactly is reused, so an interrupted study
picks up where it stopped. The plan is fixed before any result is seen; nothing here adapts to them.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from reviewrnn.callbacks import Callbacks
from reviewrnn.errors import ReviewRNNError, TrainingDiverged
from reviewrnn.lab.probe import FILLER_DISTANCES, SyntheticSettings

CELL_RUNS = ("rnn", "gru", "lstm")
PROBED_RUNS = ("rnn", "gru", "lstm", "rnn-mean", "rnn-max")  # probes and gradients look at these


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
            threads=threads,
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


def run_study(
    plan: StudyPlan, out: Path, callbacks: Callbacks | None = None, force: bool = False, charts: bool = True
) -> dict:
    """Train (or reuse) every run, measure, write results.json, the charts and REPORT.md; return the results."""
    from reviewrnn.lab.report import write_report

    callbacks = callbacks or Callbacks()
    out = Path(out)
    if charts:
        from reviewrnn.lab.charts import pyplot

        pyplot()  # fail now, not after an hour of training
    started, timings = time.perf_counter(), {}
    corpus = _study_corpus(plan, out, callbacks)
    tokenizer_path = _study_tokenizer(plan, corpus, out, force, callbacks)
    results: dict = {"plan": _plain(plan), "corpus": corpus, "machine": _machine(plan), "runs": {}}
    clock = time.perf_counter()
    for spec in run_specs(plan):
        results["runs"][spec.name] = _train_run(plan, spec, corpus, tokenizer_path, out, force, callbacks)
    timings["training"] = time.perf_counter() - clock
    models = {name: out / "models" / name for name, run in results["runs"].items() if run["saved"]}
    for stage, measure in (
        ("compare", _measure_lengths),
        ("filler", _measure_filler),
        ("synthetic", _measure_synthetic),
        ("gradients", _measure_gradients),
    ):
        callbacks.stage(f"measuring: {stage}")
        clock = time.perf_counter()
        results[stage] = measure(plan, models, callbacks)
        timings[stage] = time.perf_counter() - clock
    results["clipping"] = _clipping_runs(plan, results, out)
    results["timings"] = timings | {"total": time.perf_counter() - started}
    _write_json(out / "results.json", results)
    chart_files = _draw_charts(results, out) if charts else {}
    report = write_report(results, out / "REPORT.md", chart_files)
    callbacks.stage(f"wrote {report}")
    return results


# --- corpus, tokenizer, training ----------------------------------------------------------------------


def _study_corpus(plan: StudyPlan, out: Path, callbacks: Callbacks) -> dict:
    """The corpus spec every run uses: the plan's, or a seeded sample of it written beside the report."""
    from reviewrnn.corpus import load_corpus
    from reviewrnn.fetch import sha256_file

    if not plan.sample:
        return {"spec": plan.corpus, "sample": None}
    path = out / "corpus-sample.csv"
    callbacks.stage(f"sampling {plan.sample} reviews of {plan.corpus}")
    corpus = load_corpus(plan.corpus)
    rng = np.random.default_rng(plan.seed)
    chosen = np.sort(rng.permutation(len(corpus.examples))[: plan.sample])
    rows = [(corpus.examples.texts[i], corpus.label_names[corpus.examples.labels[i]]) for i in chosen]
    staged = path.with_suffix(".csv.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(staged, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("review", "sentiment"))
        writer.writerows(rows)
    staged.replace(path)
    return {"spec": str(path), "sample": plan.sample, "source": plan.corpus, "sha256": sha256_file(path)}


def _study_tokenizer(plan: StudyPlan, corpus: dict, out: Path, force: bool, callbacks: Callbacks) -> Path:
    """One tokenizer for every run (trained on TRAIN), so all models read the same tokens."""
    from reviewrnn.artifacts import atomic_write_bytes, atomic_write_json
    from reviewrnn.config import TokenizerConfig
    from reviewrnn.source import CorpusSettings
    from reviewrnn.tokenizing import tokenize_step

    path, stamp = out / "tokenizer.json", out / "tokenizer.plan.json"
    wanted = {"corpus": corpus, "vocab_size": plan.vocab_size}
    if not force and path.is_file() and _read_json(stamp) == wanted:
        return path
    callbacks.stage("training the study's tokenizer")
    config = TokenizerConfig(vocab_size=plan.vocab_size, min_frequency=2)
    tokenizer, _ = tokenize_step(CorpusSettings(corpus["spec"]), config, 0.1)
    atomic_write_bytes(path, tokenizer.to_str().encode("utf-8"))
    atomic_write_json(stamp, wanted)
    return path


def _configs(plan: StudyPlan, spec: RunSpec):
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


def _train_run(
    plan: StudyPlan, spec: RunSpec, corpus: dict, tokenizer: Path, out: Path, force: bool, callbacks: Callbacks
) -> dict:
    """Train one run (or reuse its record), keeping every step's loss and gradient norm."""
    from reviewrnn.lab.clipping import StepRecorder
    from reviewrnn.runs import train_step
    from reviewrnn.source import CorpusSettings

    model, train, tokenizer_config = _configs(plan, spec)
    identity = {
        "spec": asdict(spec),
        "model": asdict(model),
        "train": asdict(train) | {"threads": None},  # threads change speed, not results
        "corpus": corpus,
        "tokenizer": hashlib.sha256(tokenizer.read_bytes()).hexdigest(),
    }
    record_path, directory = out / "runs" / f"{spec.name}.json", out / "models" / spec.name
    identity = json.loads(json.dumps(identity))  # as it reads back from the record
    record = _read_json(record_path)
    if not force and record and record.get("identity") == identity and (directory.is_dir() or not record["saved"]):
        callbacks.stage(f"reusing {spec.name}")
        return record
    callbacks.stage(f"training {spec.name} ({spec.role})")
    recorder = StepRecorder(callbacks.step, callbacks.epoch)
    clock, diverged = time.perf_counter(), None
    try:
        train_step(
            CorpusSettings(corpus["spec"]), model, train, tokenizer_config, directory, tokenizer,
            callbacks=Callbacks(callbacks.stage, recorder.step, recorder.epoch),
        )  # fmt: skip
    except TrainingDiverged as error:
        if not recorder.losses:
            raise
        diverged = str(error)  # the run blew up: that is a result here, and the best epoch (if any) is saved
        callbacks.stage(f"{spec.name}: {diverged}")
    record = {
        "identity": identity,
        "saved": (directory / "config.json").is_file(),
        "diverged": diverged,
        "seconds": time.perf_counter() - clock,
        **recorder.record(),
    }
    _write_json(record_path, record)
    return record


# --- measurements -------------------------------------------------------------------------------------


def _measure_lengths(plan: StudyPlan, models: dict[str, Path], callbacks: Callbacks) -> list[dict]:
    from reviewrnn.lab.compare import compare_models

    return [m.to_dict() for m in compare_models(list(models.values()), device="cpu", threads=plan.threads)]


def _measure_filler(plan: StudyPlan, models: dict[str, Path], callbacks: Callbacks) -> dict:
    from reviewrnn import runtime
    from reviewrnn.lab.probe import probe_with_filler

    runtime.set_threads(plan.threads)
    try:
        curves = [
            probe_with_filler(models[name], plan.filler_distances, plan.filler_reviews, plan.short_max, plan.seed)
            for name in PROBED_RUNS
            if name in models
        ]
    except ReviewRNNError as error:  # a corpus without neutral sentences, say: the rest of the study stands
        return {"skipped": str(error), "curves": []}
    return {"skipped": None, "curves": [curve.to_dict() for curve in curves]}


def _measure_synthetic(plan: StudyPlan, models: dict[str, Path], callbacks: Callbacks) -> dict:
    from reviewrnn.lab.probe import PROTOCOLS, probe_synthetic

    settings = dataclasses.replace(plan.synthetic, seed=plan.seed, threads=plan.threads)
    results = {}
    for protocol in PROTOCOLS:
        curves = []
        for cell in CELL_RUNS:
            callbacks.stage(f"synthetic task, {protocol}: {cell}")
            curves.append(probe_synthetic(cell, settings, protocol).to_dict())
        results[protocol] = curves
    return results


def _measure_gradients(plan: StudyPlan, models: dict[str, Path], callbacks: Callbacks) -> list[dict]:
    from reviewrnn import runtime
    from reviewrnn.lab.gradients import measure_model

    runtime.set_threads(plan.threads)
    flows = []
    for name in PROBED_RUNS:
        if name in models:
            flows += [flow.to_dict() for flow in measure_model(models[name], plan.gradient_reviews, None, plan.seed)]
    return flows


def _clipping_runs(plan: StudyPlan, results: dict, out: Path) -> list[dict]:
    """The vanilla-RNN runs with and without clipping, with their recorded steps and TEST accuracy."""
    from reviewrnn.lab.clipping import ClipRun

    tested = {model["name"]: model["accuracy"] for model in results["compare"]}
    runs = []
    for seed in plan.clip_seeds:
        for clip in (0.0, 1.0):
            name = f"rnn-clip{clip:g}-seed{seed}" if (clip == 0.0 or seed != plan.seed) else "rnn"
            record = results["runs"][name]
            run = ClipRun(
                name, clip, seed, record["losses"], record["grad_norms"], record["valid_accuracy"],
                record["diverged"], tested.get(name),
            )  # fmt: skip
            runs.append(run.to_dict())
    return runs


# --- output -------------------------------------------------------------------------------------------


def _draw_charts(results: dict, out: Path) -> dict[str, str]:
    """Every chart of the report as a PNG beside it; returns {chart: file name}."""
    from reviewrnn.lab import charts
    from reviewrnn.lab.records import clip_runs, flows, length_models, probe_curves

    models = {model.name: model for model in length_models(results)}
    groups = {
        "length-cells": CELL_RUNS,
        "length-pooling": ("rnn", "rnn-mean", "rnn-max"),
        "length-truncation": ("rnn", "rnn-tail"),
    }
    titles = {
        "length-cells": "Test accuracy by review length, one budget per cell",
        "length-pooling": "Vanilla RNN: last state against mean and max pooling",
        "length-truncation": "Vanilla RNN: keeping the first (head) or last (tail) max_tokens",
    }
    drawn = {}
    for key, names in groups.items():
        chosen = [models[name] for name in names if name in models]
        if chosen:
            drawn[key] = charts.length_chart(chosen, out / f"{key}.png", titles[key])
    if results["filler"]["curves"]:
        curves = probe_curves(results["filler"]["curves"])
        drawn["probe-filler"] = charts.probe_chart(
            curves, out / "probe-filler.png", "Filler probe: short reviews + d neutral tokens"
        )
    for protocol, items in results["synthetic"].items():
        title = f"Synthetic task ({protocol}): one polarity token d steps before the end"
        drawn[f"probe-synthetic-{protocol}"] = charts.probe_chart(
            probe_curves(items), out / f"probe-synthetic-{protocol}.png", title
        )
    if results["gradients"]:
        drawn["gradients"] = charts.gradient_chart(flows(results["gradients"]), out / "gradients.png")
    if results["clipping"]:
        drawn["clipping"] = charts.clipping_chart(clip_runs(results["clipping"]), out / "clipping.png")
    return {key: path.name for key, path in drawn.items()}


def _machine(plan: StudyPlan) -> dict:
    import torch

    from reviewrnn import runtime

    return {
        "threads": plan.threads or runtime.default_threads(),
        "cpus": runtime.default_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _plain(plan: StudyPlan) -> dict:
    return asdict(plan)


def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value) -> None:
    from reviewrnn.artifacts import atomic_write_json

    atomic_write_json(path, value)
