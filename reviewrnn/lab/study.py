"""The whole long-dependency study, end to end: train every run of the plan (lab/plan.py), measure, write up.

results.json, the charts and REPORT.md land in one directory. A run whose record (runs/NAME.json)
matches the plan exactly is reused, so an interrupted study picks up where it stopped. The plan is
fixed before any result is seen; nothing here adapts to them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from reviewrnn.atomic import atomic_write_bytes, atomic_write_json
from reviewrnn.callbacks import Callbacks
from reviewrnn.errors import TrainingDiverged
from reviewrnn.lab import measure
from reviewrnn.lab.plan import RunSpec, StudyPlan, run_configs, run_specs
from reviewrnn.lab.progress import Progress


def run_study(
    plan: StudyPlan, out: Path, callbacks: Callbacks | None = None, force: bool = False, charts: bool = True
) -> dict:
    """Train (or reuse) every run, measure, write results.json, the charts and REPORT.md; return the results."""
    from reviewrnn.lab.charts import study_charts
    from reviewrnn.lab.report import write_report

    callbacks = callbacks or Callbacks()
    out = Path(out)
    if charts:
        from reviewrnn.lab.charts import pyplot

        pyplot()  # fail now, not after an hour of training
    started, timings = time.perf_counter(), {}
    corpus = _study_corpus(plan, out, callbacks)
    tokenizer_path = _study_tokenizer(plan, corpus, out, force, callbacks)
    whole = _review_lengths(corpus, tokenizer_path, out, callbacks)
    results: dict = {"plan": _plain(plan), "corpus": corpus, "machine": _machine(plan), "whole": whole, "runs": {}}
    clock = time.perf_counter()
    progress = Progress(plan, run_specs(plan), whole, callbacks.stage)
    for spec in progress.specs:
        note = progress.note(spec)
        results["runs"][spec.name] = _train_run(plan, spec, corpus, tokenizer_path, out, force, callbacks, whole, note)
        progress.finish(spec, results["runs"][spec.name])
    timings["training"] = time.perf_counter() - clock
    models = {name: out / "models" / name for name, run in results["runs"].items() if run["saved"]}
    stages = measure.STAGES
    for index, (stage, measurement) in enumerate(stages, 1):
        callbacks.stage(f"measuring {index}/{len(stages)}: {stage}")
        clock = time.perf_counter()
        results[stage] = measurement(plan, models, callbacks.stage, results)
        timings[stage] = time.perf_counter() - clock
    results["clipping"] = measure.clipping_runs(plan, results)
    results["seeds"] = measure.seed_summary(plan, results)
    results["timings"] = timings | {"total": time.perf_counter() - started}
    _write_json(out / "results.json", results)
    chart_files = study_charts(results, out) if charts else {}
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
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(("review", "sentiment"))
    writer.writerows(rows)
    atomic_write_bytes(path, table.getvalue().encode("utf-8"))  # a unique temporary name: two studies may race
    return {"spec": str(path), "sample": plan.sample, "source": plan.corpus, "sha256": sha256_file(path)}


def _study_tokenizer(plan: StudyPlan, corpus: dict, out: Path, force: bool, callbacks: Callbacks) -> Path:
    """One tokenizer for every run (trained on TRAIN), so all models read the same tokens."""
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


def _review_lengths(corpus: dict, tokenizer: Path, out: Path, callbacks: Callbacks) -> dict:
    """The longest TRAIN/VALID/TEST review in tokens (what "read whole" must keep), kept beside the tokenizer."""
    from reviewrnn.lab.whole import review_lengths

    stamp = out / "lengths.json"
    digest = hashlib.sha256(tokenizer.read_bytes()).hexdigest()
    known = _read_json(stamp)
    if known and known.get("tokenizer") == digest and known.get("corpus") == corpus:
        return known["lengths"]
    callbacks.stage("measuring every review's length in tokens")
    lengths = review_lengths(corpus["spec"], tokenizer)
    atomic_write_json(stamp, {"tokenizer": digest, "corpus": corpus, "lengths": lengths})
    return lengths


def _run_identity(spec: RunSpec, model, train, corpus: dict, tokenizer: Path) -> dict:
    """Everything a finished run's record must match to be reused, as it reads back from JSON."""
    identity = {
        "spec": asdict(spec),
        "model": asdict(model),
        "train": asdict(train) | {"threads": None},  # threads change speed, not results
        "corpus": corpus,
        "tokenizer": hashlib.sha256(tokenizer.read_bytes()).hexdigest(),
    }
    return json.loads(json.dumps(identity))


def _train_run(
    plan: StudyPlan,
    spec: RunSpec,
    corpus: dict,
    tokenizer: Path,
    out: Path,
    force: bool,
    callbacks: Callbacks,
    whole: dict,
    note: str = "",
) -> dict:
    """Train one run (or reuse its record), keeping every step's loss and gradient norm."""
    from reviewrnn.lab.clipping import StepRecorder
    from reviewrnn.runs import train_step
    from reviewrnn.source import CorpusSettings

    model, train, tokenizer_config = run_configs(plan, spec, whole["longest"])
    identity = _run_identity(spec, model, train, corpus, tokenizer)
    record_path, directory = out / "runs" / f"{spec.name}.json", out / "models" / spec.name
    record = _read_json(record_path)
    if not force and record and record.get("identity") == identity and (directory.is_dir() or not record["saved"]):
        callbacks.stage(f"reusing {spec.name}")
        return record
    callbacks.stage(f"training {spec.name} ({spec.role}){note}")
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


# --- output -----------------------------------------------------------------------------------------


def _machine(plan: StudyPlan) -> dict:
    import torch

    from reviewrnn import kernels, runtime

    facts = kernels.machine()  # machines differ between sessions: every figure names its CPU
    return {
        "cpu": facts["cpu"],
        "vector": facts["vector"],
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
    atomic_write_json(path, value)
