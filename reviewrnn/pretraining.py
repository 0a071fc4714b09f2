"""`reviewrnn pretrain` as a pipeline step: gather text, learn the tokenizer, train the language model with
a checkpoint per epoch, and save a model directory that `train --init` starts a classifier from.

The directory has train's guarantees and files (artifacts.save_run): config.json (with a `pretrain`
section), tokenizer.json, model.safetensors (the epoch with the lowest held-out loss), history.json
and checkpoint/; the same lock, the same SIGINT/SIGTERM handling, and a bit-exact --resume.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from reviewrnn.artifacts import load_checkpoint, save_run
from reviewrnn.callbacks import Callbacks
from reviewrnn.config import ModelConfig, RunConfig, TokenizerConfig, TrainConfig
from reviewrnn.errors import ReviewRNNError
from reviewrnn.lmtexts import LMTexts, TextSpec, gather_texts
from reviewrnn.modellock import training_lock
from reviewrnn.runend import raise_if_unfinished
from reviewrnn.textprints import PRINTS_FILE, load_prints, prints_file
from reviewrnn.tokenizer import encode
from reviewrnn.trainstate import extend_run
from reviewrnn.transfer import Pretrained, init_info, lm_weights

ENCODE_CHUNK = 2000  # texts tokenized at once


@dataclass
class PretrainOutcome:
    directory: Path
    config: RunConfig
    best_epoch: int
    perplexity: float  # held-out, of the saved epoch
    stopped_early: bool
    seconds: float


@dataclass
class PreparedLM:
    """Everything pretraining needs before its first step."""

    config: RunConfig
    tokenizer: Tokenizer
    train_set: object  # data.EncodedSet of chunks
    held_out: object


def prepare_lm(
    texts: LMTexts, tokenizer: Tokenizer, model: ModelConfig, train: TrainConfig, tokenizer_config: TokenizerConfig
) -> PreparedLM:
    """Encode both parts and cut them into chunks of at most train.max_tokens tokens."""
    from reviewrnn.lm import check_shape
    from reviewrnn.lmtrain import chunk_texts
    from reviewrnn.runs import package_versions

    parts = [chunk_texts(_encode(tokenizer, part), train.max_tokens) for part in (texts.train, texts.held_out)]
    if len(parts[1]) == 0:
        raise ReviewRNNError("the held-out texts have no two-token chunk to measure perplexity on")
    model.vocab_size = tokenizer.get_vocab_size()
    check_shape(model)
    info = replace(
        texts.info, sizes=texts.info.sizes | {"chunks": len(parts[0]), "tokens": int(parts[0].lengths.sum())}
    )
    config = RunConfig(model, train, tokenizer_config, texts.corpus, package_versions(), pretrain=info)
    return PreparedLM(config, tokenizer, *parts)


def _encode(tokenizer: Tokenizer, texts: list[str]) -> list:
    import numpy as np

    rows = []
    for start in range(0, len(texts), ENCODE_CHUNK):
        rows.extend(np.asarray(ids, dtype=np.int64) for ids in encode(tokenizer, texts[start : start + ENCODE_CHUNK]))
    return rows


def pretrain_step(
    spec: TextSpec,
    model: ModelConfig,
    train: TrainConfig,
    tokenizer_config: TokenizerConfig,
    directory: Path,
    callbacks: Callbacks | None = None,
    start: Pretrained | None = None,
) -> PretrainOutcome:
    """Read, learn the tokenizer on the training texts only, pretrain, save.

    With `start` (pretrain --init), the model continues that language model with its tokenizer, its
    weights and its output order (ULMFiT's second stage: an LM adapted to the target reviews' text).
    """
    from reviewrnn.interrupts import StopOnSignals
    from reviewrnn.lm import check_shape

    check_shape(model)  # before any reading, tokenizing or encoding: a refused shape costs nothing
    callbacks = callbacks or Callbacks()
    with training_lock(directory), StopOnSignals() as stop:
        stage = stop.before_training(callbacks.stage)
        stage("reading texts")
        texts = gather_texts(spec, train.valid_fraction, train.limit)
        if start is None:
            tokenizer = lm_tokenizer(texts, train, tokenizer_config, stage)
        else:
            tokenizer = Tokenizer.from_file(str(start.tokenizer_path))
        stage("encoding texts")
        prepared = prepare_lm(texts, tokenizer, model, train, tokenizer_config)
        if start is not None:
            prepared.config.init = init_info(start, "all")
        prints = _prints(texts.train, prepared.config, directory, resumed=False)
        return _train_and_save(prepared, None, directory, stop, callbacks, prints)


def lm_tokenizer(texts: LMTexts, train: TrainConfig, config: TokenizerConfig, on_stage) -> Tokenizer:
    """The tokenizer learned from the training texts (never held-out or TEST), cached as `train` caches its
    own: WordPiece breaks ties differently from run to run, and the same text and seed should give the same LM."""
    from importlib import metadata

    from reviewrnn.tokenizing import cached_tokenizer

    info = texts.info
    key = {"tokenizers": metadata.version("tokenizers"), "lm": info.sources, "sha256": info.sha256}
    key |= {"text_column": info.text_column, "limit": train.limit, "valid_fraction": train.valid_fraction}
    key |= {"tokenizer": asdict(config), "corpus": texts.corpus.name, "corpus_text_column": texts.corpus.text_column}
    key |= {"near_copies_of_test": "left out"}  # since TRAIN's near copies of TEST were dropped: other texts
    if train.limit and len(info.sources) > 1:  # a limit takes texts from the sources in turn (lmtexts.in_turn)
        key |= {"texts_per_source": info.texts_per_source}
    return cached_tokenizer(key, texts.train, config, on_stage, None)


def resume_pretrain(directory: Path, callbacks: Callbacks | None = None, epochs: int | None = None) -> PretrainOutcome:
    """Continue an interrupted `reviewrnn pretrain` from its checkpoint, with the settings it started with.

    With `epochs`, a run (finished or not) goes on to that many epochs, as a run started with them would
    have (trainstate.extend_run): a longer LM without starting over.
    """
    from reviewrnn.interrupts import StopOnSignals

    callbacks = callbacks or Callbacks()
    with training_lock(directory), StopOnSignals() as stop:
        config, tokenizer, state, arrays = load_checkpoint(directory, "pretrain")
        if config.pretrain is None:
            raise ReviewRNNError(
                f"{directory}: a classifier's run; continue it with: reviewrnn train --resume {directory}"
            )
        if epochs is not None:
            extend_run(directory, config, state, epochs)
        elif state.get("done"):
            from reviewrnn.messages import already_finished

            early = state.get("waited", 0) >= config.train.patience
            raise ReviewRNNError(
                already_finished(directory, config.train.schedule, config.train.epochs, "pretrain", early)
            )
        stop.before_training(callbacks.stage)("reading texts")
        texts = gather_texts(
            TextSpec.of_run(config.pretrain, config.corpus), config.train.valid_fraction, config.train.limit
        )
        if texts.info.sha256 != config.pretrain.sha256:
            raise ReviewRNNError(
                f"{directory}: the pretraining text changed since this run started (sha256 differs); "
                "resuming would not reproduce the run"
            )
        saved = config.pretrain.texts_per_source
        older = not saved and config.train.limit and len(config.pretrain.sources) > 1  # before in_turn
        if older or (saved and saved != texts.info.texts_per_source):
            raise ReviewRNNError(
                f"{directory}: this version takes --limit's texts from the sources in turn, not the way the run "
                "started; resuming would train on other texts: start a new run"
            )
        prepared = prepare_lm(texts, tokenizer, config.model, config.train, config.tokenizer)
        prepared.config = config
        prints = _prints(texts.train, config, directory, resumed=True)
        return _train_and_save(prepared, (state, arrays), directory, stop, callbacks, prints)


def _prints(texts: list[str], config: RunConfig, directory: Path, resumed: bool) -> bytes | None:
    """PRINTS_FILE's bytes for this LM: its training texts' prints, with those of the LM it continues
    (pretrain --init: its weights learned from those texts too) and, resumed, those it saved before (its
    parent may have moved since). None where the set would be incomplete: a parent that keeps no prints
    (saved before LMs kept them) leaves the file out, so checks fall back to the file sha256s."""
    known = []
    previous = load_prints(directory)[0] if resumed else None
    if config.init is not None:
        parent = load_prints(Path(config.init.path))[0]
        if parent is None and previous is None:
            return None
        known += [array for array in (parent, previous) if array is not None]
    elif previous is not None:
        known.append(previous)
    return prints_file(texts, np.concatenate(known) if known else None)


def _train_and_save(
    prepared: PreparedLM, checkpoint, directory: Path, stop, callbacks: Callbacks, prints: bytes | None
) -> PretrainOutcome:
    """Train with a checkpoint after every epoch; after SIGINT/SIGTERM, save one at the next step and stop.
    Every save writes `prints`, the fingerprints of the training texts (textprints.py), beside the weights."""
    import torch

    from reviewrnn import runtime
    from reviewrnn.lm import LanguageModel
    from reviewrnn.lmtrain import LMTrainer, token_counts

    started = time.perf_counter()
    config = prepared.config
    device = runtime.resolve_device(config.train.device)
    rng = runtime.seed_everything(config.train.seed)
    model = LanguageModel(config.model)
    if config.init is not None and checkpoint is None:  # pretrain --init: every weight and the output order
        model.load_state_dict({name: torch.from_numpy(value) for name, value in lm_weights(config.init).items()})
    else:
        model.set_output_order(token_counts(prepared.train_set, config.model.vocab_size))
    trainer = LMTrainer(model, prepared.train_set, prepared.held_out, config.train, device, rng)
    if checkpoint is not None:
        trainer.restore(*checkpoint)
        callbacks.stage(f"resuming at epoch {trainer.state.epoch}, step {trainer.state.step}")
    tokenizer_json = prepared.tokenizer.to_str()

    def save(current: LMTrainer) -> None:
        best = None if current.best_state is None else {k: v.numpy() for k, v in current.best_state.items()}
        history = [history_row(epoch) for epoch in current.state.history]
        extra = {PRINTS_FILE: prints} if prints is not None else {}
        save_run(directory, config, tokenizer_json, history, best, current.checkpoint(), extra=extra)

    stop.before_training(callbacks.stage)(f"training on {len(prepared.train_set):,} chunks")
    result = trainer.run(callbacks, on_checkpoint=save, should_stop=stop)
    raise_if_unfinished(result, trainer, directory, stop, save, "pretrain")
    best = result.history[result.best_epoch - 1]
    seconds = time.perf_counter() - started
    return PretrainOutcome(
        directory, config, result.best_epoch, math.exp(best.valid_loss), result.stopped_early, seconds
    )


def history_row(report) -> dict:
    """An epoch of history.json, with the perplexities spelled out (the report's *_accuracy fields are 1/ppl)."""
    return report.to_dict() | {
        "train_perplexity": math.exp(report.train_loss),
        "valid_perplexity": math.exp(report.valid_loss),
    }
