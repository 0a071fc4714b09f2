"""Training runs: prepare the data, train with checkpoints, resume, and run under torchrun.

One code path for one process and for every torchrun rank; only rank 0 locks, reports and writes.
Torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from tokenizers import Tokenizer

from reviewrnn.artifacts import (
    CONFIG_FILE,
    load_checkpoint,
    load_config,
)
from reviewrnn.callbacks import Callbacks
from reviewrnn.config import InitInfo, ModelConfig, RunConfig, TokenizerConfig, TrainConfig
from reviewrnn.errors import ReviewRNNError
from reviewrnn.modellock import training_lock
from reviewrnn.runend import raise_if_unfinished
from reviewrnn.runfiles import record_diverged_epoch, saver
from reviewrnn.source import CorpusSettings, open_source
from reviewrnn.tokenizer import load_tokenizer
from reviewrnn.tokenizing import cached_tokenizer

if TYPE_CHECKING:  # runtime imports torch; this module stays cheap to import
    from reviewrnn.interrupts import StopOnSignals
    from reviewrnn.runtime import Distributed

PACKAGES = ("reviewrnn", "torch", "tokenizers", "datasets", "numpy", "safetensors")


@dataclass
class TrainOutcome:
    directory: Path
    config: RunConfig
    best_epoch: int
    best_valid_accuracy: float
    stopped_early: bool
    seconds: float
    is_main: bool = True  # False on torchrun ranks other than 0, which print nothing
    valid_predicted: list[int] | None = None  # VALID reviews the best model gives each label
    valid_labelled: list[int] | None = None  # VALID reviews that have each label
    threshold_refit: str | None = None  # what became of a threshold saved before an extension (--resume --epochs)


def package_versions() -> dict[str, str]:
    """The versions that made a model, saved in its config.json."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclass
class PreparedRun:
    """Everything a training run needs before the first step: config, tokenizer and encoded data."""

    config: RunConfig
    tokenizer: Tokenizer
    train_set: object  # data.EncodedSet (imported lazily: it pulls numpy-only code, but keep start-up lean)
    valid_set: object


def prepare_run(
    settings: CorpusSettings,
    model_config: ModelConfig,
    train_config: TrainConfig,
    tokenizer_config: TokenizerConfig,
    tokenizer: Tokenizer | None = None,
    on_stage: Callable[[str], None] = lambda _: None,
    distributed=None,
) -> PreparedRun:
    """Read and split the corpus, train (or take) the tokenizer, encode TRAIN and VALID.

    `distributed` (runtime.Distributed under torchrun) makes every rank use rank 0's tokenizer.
    With `train_config.on_disk` the corpus and its token ids stay in memory-mapped Arrow files.
    """
    on_stage("reading corpus")
    source = open_source(settings, train_config.valid_fraction, train_config.on_disk, limit=train_config.limit)
    if tokenizer is None:
        key = {
            "tokenizers": metadata.version("tokenizers"),
            "corpus": source.info.sha256 or source.info.name,
            "text_column": source.info.text_column,
            "limit": train_config.limit,
            "valid_fraction": train_config.valid_fraction,
            "tokenizer": asdict(tokenizer_config),
        }
        if settings.label_map is not None:  # the map decides which TRAIN reviews the tokenizer reads
            key |= {"label_column": source.info.label_column, "label_map": settings.label_map.text}
        tokenizer = cached_tokenizer(key, source.train_texts, tokenizer_config, on_stage, distributed)
    on_stage("encoding reviews")
    train_set, valid_set = (
        source.encode(tokenizer, part, train_config.max_tokens, train_config.truncate) for part in ("train", "valid")
    )
    if len(valid_set) == 0:
        raise ReviewRNNError(f"{settings.spec}: no validation reviews; the corpus is too small to train on")
    model_config.vocab_size = tokenizer.get_vocab_size()
    model_config.num_classes = len(source.info.label_names)
    config = RunConfig(model_config, train_config, tokenizer_config, source.info, package_versions())
    return PreparedRun(config, tokenizer, train_set, valid_set)


def train_step(
    settings: CorpusSettings,
    model_config: ModelConfig,
    train_config: TrainConfig,
    tokenizer_config: TokenizerConfig,
    directory: Path,
    tokenizer_path: Path | None = None,
    callbacks: Callbacks | None = None,
    init: InitInfo | None = None,
) -> TrainOutcome:
    """Read, tokenize, train and save; the best epoch's weights are what lands in `directory`.

    Under torchrun every rank runs this same function; only rank 0 locks, reports and writes.
    With `init` (train --init), training starts from a language model's weights (transfer.py).
    """
    from reviewrnn.interrupts import StopOnSignals

    main, callbacks = _main_rank_only(callbacks)
    if tokenizer_path:
        callbacks.stage("loading tokenizer")
    tokenizer = load_tokenizer(tokenizer_path) if tokenizer_path else None
    with _lock_if(main, directory), StopOnSignals() as stop, _distributed(train_config.device) as distributed:
        prepared = prepare_run(
            settings,
            model_config,
            train_config,
            tokenizer_config,
            tokenizer,
            stop.before_training(callbacks.stage),
            distributed,
        )
        prepared.config.init = init
        return _train_and_save(prepared, None, _Session(directory, stop, distributed, callbacks))


def resume_step(directory: Path, callbacks: Callbacks | None = None, epochs: int | None = None) -> TrainOutcome:
    """Continue an interrupted run from `directory`/checkpoint with exactly the settings it started with.

    With `epochs`, a run (finished or not) goes on to that many epochs, as if it had been started with
    them: the same weights, bit for bit, as a run of `epochs` from the start (see trainstate.extend_run).
    """
    from reviewrnn.interrupts import StopOnSignals

    main, callbacks = _main_rank_only(callbacks)
    with _lock_if(main, directory), StopOnSignals() as stop:
        config, tokenizer, state, arrays = load_checkpoint(directory)
        if config.pretrain is not None:
            raise ReviewRNNError(
                f"{directory}: a language model's run; continue it with: reviewrnn pretrain --resume {directory}"
            )
        if (Path(directory) / CONFIG_FILE).is_file():  # the decision fitted when the run finished, if it did
            config.decision = load_config(directory).decision
        if epochs is not None:
            from reviewrnn.trainstate import extend_run

            extend_run(directory, config, state, epochs)
        elif state.get("done"):
            from reviewrnn.messages import already_finished

            early = state.get("waited", 0) >= config.train.patience
            raise ReviewRNNError(
                already_finished(directory, config.train.schedule, config.train.epochs, "train", early)
            )
        corpus = config.corpus
        settings = CorpusSettings.of_run(corpus)
        with _distributed(config.train.device) as distributed:
            stage = stop.before_training(callbacks.stage)
            prepared = prepare_run(settings, config.model, config.train, config.tokenizer, tokenizer, stage)
            if prepared.config.corpus.sha256 != corpus.sha256:
                raise ReviewRNNError(
                    f"{corpus.name}: the corpus changed since this run started (sha256 differs); "
                    "resuming would not reproduce the run"
                )
            prepared.config = config
            return _train_and_save(prepared, (state, arrays), _Session(directory, stop, distributed, callbacks))


@dataclass
class _Session:
    """Where this process trains to, and how it reports and is stopped."""

    directory: Path
    stop: StopOnSignals  # true once SIGINT/SIGTERM arrived; its exit_code says which
    distributed: Distributed
    callbacks: Callbacks


@contextlib.contextmanager
def _distributed(device_name: str):
    """This process's runtime.Distributed (rank 0 of 1 unless started by torchrun)."""
    from reviewrnn import runtime

    distributed = runtime.init_distributed(runtime.resolve_device(device_name))
    try:
        yield distributed
    except BaseException:
        runtime.close_distributed(distributed, together=False)
        raise
    runtime.close_distributed(distributed)


def _main_rank_only(callbacks: Callbacks | None) -> tuple[bool, Callbacks]:
    """(is rank 0, callbacks): other torchrun ranks train silently."""
    if int(os.environ.get("RANK", "0")) == 0:  # torchrun's rank, read here: runtime would import torch
        return True, callbacks or Callbacks()
    return False, Callbacks()


def _lock_if(main: bool, directory: Path):
    return training_lock(directory) if main else contextlib.nullcontext()


def _train_and_save(prepared: PreparedRun, checkpoint, session: _Session) -> TrainOutcome:
    """Train with a checkpoint after every epoch; after SIGINT/SIGTERM, save one at the next step and stop."""
    from reviewrnn import runtime
    from reviewrnn.model import RecurrentClassifier
    from reviewrnn.train import Trainer

    started = time.perf_counter()
    config, directory, distributed = prepared.config, session.directory, session.distributed
    device = runtime.resolve_device(config.train.device)
    rng = runtime.seed_everything(config.train.seed)
    model = RecurrentClassifier(config.model)
    if checkpoint is None and config.init is not None:  # a resumed run's weights come from its checkpoint
        from reviewrnn.transfer import load_initial

        load_initial(model, config.init)
    trainer = Trainer(model, prepared.train_set, prepared.valid_set, config.train, device, rng, distributed)
    if checkpoint is not None:
        trainer.restore(*checkpoint)
        session.callbacks.stage(f"resuming at epoch {trainer.state.epoch}, step {trainer.state.step}")
    save = saver(prepared.config, prepared.tokenizer.to_str(), directory, distributed, checkpoint)
    session.stop.before_training(session.callbacks.stage)("training")
    result = trainer.run(session.callbacks, on_checkpoint=save, should_stop=session.stop)
    on_diverged = None
    if distributed.is_main:  # history.json gets the epoch that diverged, for `reviewrnn clipping`
        on_diverged = functools.partial(record_diverged_epoch, directory, trainer, result.diverged)
    raise_if_unfinished(result, trainer, directory, session.stop, save, "train", on_diverged)
    seconds = time.perf_counter() - started
    valid_counts = (None, None, None)  # predicted, labelled; a saved threshold refitted
    if distributed.is_main:
        from reviewrnn.fitting import after_training

        valid_counts = after_training(directory, config, prepared.train_set, prepared.valid_set, session.callbacks)
    return TrainOutcome(
        directory,
        config,
        result.best_epoch,
        result.best_valid_accuracy,
        result.stopped_early,
        seconds,
        distributed.is_main,
        *valid_counts,
    )
