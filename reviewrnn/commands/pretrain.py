"""`reviewrnn pretrain`: the CLI face of pretraining.pretrain_step, with live progress on stderr."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from reviewrnn.commands.common import (
    CorpusOption,
    DeviceOption,
    JsonOption,
    TrainingThreadsOption,
    adopt_language_model,
    check_resume_flags,
    conflict,
    err,
    friendly_errors,
    given,
    model_name,
    note_stopped_early,
    out,
    output_path,
    process_settings,
)
from reviewrnn.commands.display import TrainingDisplay
from reviewrnn.config import Cell, ModelConfig, Schedule, TokenizerConfig, pretrain_configs
from reviewrnn.config import configs_from_flags as _configs
from reviewrnn.errors import ReviewRNNError

# The LM recipe where no flag is given: the same helper a bench uses to measure this command's LM.
LM_MODEL, LM_TRAIN = pretrain_configs()
PRETRAINED_DIR = "pretrained"  # models/pretrained/NAME: beside, not among, the classifiers predict picks from


@friendly_errors
def pretrain(
    context: typer.Context,
    corpus: CorpusOption = "imdb",
    corpus_texts: Annotated[
        bool, typer.Option(help="Learn from the corpus's TRAIN texts (labels ignored); its TEST texts never.")
    ] = True,
    unlabeled: Annotated[
        list[Path] | None,
        typer.Option(help="More text: one review per line, or a CSV/TSV/JSONL/Parquet text column. Repeatable."),
    ] = None,
    text_column: Annotated[str | None, typer.Option(help="Text column of --unlabeled tables.")] = None,
    corpus_column: Annotated[str | None, typer.Option(help="Text column of a --corpus file.")] = None,
    label_column: Annotated[
        str | None,
        typer.Option(help="Not read: a file's split depends on its texts alone (accepted as train takes it)."),
    ] = None,
    label_map: Annotated[
        str | None,
        typer.Option(help="Not read either: accepted so that a train command's corpus flags can be copied."),
    ] = None,
    cell: Annotated[Cell, typer.Option(help="rnn, gru or lstm: the classifier's cell.")] = LM_MODEL.cell,
    layers: Annotated[
        int, typer.Option(min=1, help="Stacked recurrent layers (1 if bidirectional).")
    ] = LM_MODEL.layers,
    hidden: Annotated[int, typer.Option(min=1, help="Hidden state size.")] = LM_MODEL.hidden,
    embed: Annotated[int, typer.Option(min=1, help="Embedding size.")] = LM_MODEL.embed,
    bidirectional: Annotated[bool, typer.Option(help="Train a forward and a backward LM.")] = LM_MODEL.bidirectional,
    dropout: Annotated[
        float, typer.Option(min=0.0, max=0.99, help="Dropout on the states, before the softmax.")
    ] = LM_MODEL.dropout,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the text.")] = LM_TRAIN.epochs,
    batch_size: Annotated[int, typer.Option(min=1, help="Chunks per step.")] = LM_TRAIN.batch_size,
    lr: Annotated[float, typer.Option(min=0.0, help="Adam learning rate.")] = LM_TRAIN.lr,
    schedule: Annotated[Schedule, typer.Option(help="linear: decay the learning rate to 5%.")] = LM_TRAIN.schedule,
    clip_norm: Annotated[float, typer.Option(min=0.0, help="Clip the gradient norm; 0: off.")] = LM_TRAIN.clip_norm,
    max_tokens: Annotated[
        int, typer.Option(min=2, help="Cut reviews into chunks of this many tokens (backpropagation length).")
    ] = LM_TRAIN.max_tokens,
    seed: Annotated[int, typer.Option(help="Same seed, text and machine: the same weights.")] = LM_TRAIN.seed,
    patience: Annotated[
        int, typer.Option(min=1, help="Stop after this many epochs without a lower loss.")
    ] = LM_TRAIN.patience,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Use only N texts, taken from the sources in turn (quick runs).")
    ] = None,
    device: DeviceOption = LM_TRAIN.device,
    threads: TrainingThreadsOption = None,
    vocab_size: Annotated[
        int, typer.Option(min=100, help="WordPiece vocabulary learned from the training texts.")
    ] = TokenizerConfig.vocab_size,
    name: Annotated[str | None, typer.Option(callback=model_name, help="Saved as models/pretrained/NAME.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", callback=output_path, help="Exact output directory (overrides --name).")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Replace an existing language model directory (never another folder).")
    ] = False,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue an interrupted pretraining run in this directory, with its own settings; with --epochs, "
            "pretrain a run (finished or not) to that many epochs (constant learning rate only)."
        ),
    ] = None,
    init: Annotated[
        Path | None,
        typer.Option(
            help="Start from this language model (its tokenizer, shape and weights) and go on learning "
            "from the given text: adapt it to your own reviews."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Pretrain the embedding and recurrent layers as a language model on unlabeled reviews.

    \b
    Example: reviewrnn pretrain --name imdb-lm
      then:  reviewrnn train --init models/pretrained/imdb-lm
    Your own reviews (and IMDB's TRAIN texts):
      reviewrnn pretrain --unlabeled shop.txt --name shop-lm
    Yours alone: add --no-corpus-texts
    Adapt an LM to them: reviewrnn pretrain --init models/pretrained/imdb-lm
      --no-corpus-texts --unlabeled shop.txt --name shop-lm
    Quick smoke run: reviewrnn pretrain --limit 500 --epochs 1
    Ctrl-C saves a checkpoint; continue with: reviewrnn pretrain --resume DIR
    More epochs: reviewrnn pretrain --resume DIR --epochs 6
    """
    from reviewrnn.artifacts import load_checkpoint_config, models_root
    from reviewrnn.lmtexts import TextSpec
    from reviewrnn.outdir import output_directory
    from reviewrnn.pretraining import pretrain_step, resume_pretrain

    if resume is not None:
        check_resume_flags(context)
        process_settings(threads or load_checkpoint_config(resume, "pretrain").train.threads)
        more = epochs if given(context, "epochs") else None
        with LMDisplay() as display:
            return _report(resume_pretrain(resume, display.callbacks(), more), as_json)
    if not corpus_texts and not unlabeled:
        raise conflict("--no-corpus-texts leaves no text to pretrain on; give --unlabeled FILE or drop it")
    configs = _configs(context.params)
    configs[0].embed_init = LM_MODEL.embed_init
    if init is None:
        _refuse_leaking_shape(configs[0])
    start = adopt_language_model(context, init, configs) if init is not None else None
    cell = configs[0].cell  # the language model's, with --init
    stamp = name or f"{cell}-lm-{datetime.now():%Y%m%d-%H%M%S}"
    directory = output_directory(None, out_dir or models_root() / PRETRAINED_DIR / stamp, cell, force, True)
    process_settings(threads)
    spec = TextSpec(corpus, corpus_texts, list(unlabeled or []), text_column, corpus_column, label_column)
    with LMDisplay() as display:
        outcome = pretrain_step(spec, *configs, directory, display.callbacks(), start)
    _report(outcome, as_json)


def _refuse_leaking_shape(model: ModelConfig) -> None:
    """--layers 2 with the default bidirectional LM is a clash of flags: a usage error (exit 2), in lm.py's words."""
    from reviewrnn.lm import check_shape

    try:
        check_shape(model)
    except ReviewRNNError as error:
        raise conflict(str(error)) from None


def _report(outcome, as_json: bool) -> None:
    info = outcome.config.pretrain
    if as_json:
        sizes = info.sizes
        summary = {
            "model": str(outcome.directory),
            "best_epoch": outcome.best_epoch,
            "held_out_perplexity": outcome.perplexity,
            "texts": sizes.get("texts"),
            "texts_per_source": dict(zip(info.sources, info.texts_per_source, strict=False)),
            "tokens": sizes.get("tokens"),
            "test_texts_dropped": sizes.get("test_dropped"),
            "train_near_test_dropped": sizes.get("train_near_test"),
            "stopped_early": outcome.stopped_early,
            "seconds": round(outcome.seconds, 1),
        }
        out.print_json(json.dumps(summary))
    else:
        _print_report(outcome)


def _print_report(outcome) -> None:
    """The saved LM, its texts by source, and what was left out of them for TEST's sake."""
    info = outcome.config.pretrain
    sizes, per_source = info.sizes, dict(zip(info.sources, info.texts_per_source, strict=False))
    out.print(
        f"saved {outcome.directory} (best epoch {outcome.best_epoch}, held-out perplexity "
        f"{outcome.perplexity:.1f}, {sizes.get('tokens', 0):,} tokens, {outcome.seconds / 60:.1f} min)"
    )
    note_stopped_early(outcome, "held-out perplexity")
    if per_source:
        out.print("training texts: " + ", ".join(f"{source} {count:,}" for source, count in per_source.items()))
    from reviewrnn.lmtexts import NO_CORPUS

    corpus = outcome.config.corpus.name
    if corpus != NO_CORPUS and any(source != f"{corpus}:train" for source in info.sources):  # files were checked
        dropped = sizes.get("test_dropped", 0)  # said when 0 too: the check ran
        out.print(f"left out {dropped:,} --unlabeled texts that are TEST reviews or near copies (TEST only scores)")
    if near := sizes.get("train_near_test"):  # the split keeps exact duplicates of TEST out of TRAIN, not near ones
        out.print(f"left out {near:,} of {corpus}'s TRAIN texts that are near copies of its TEST reviews")
    err.print(f"next: reviewrnn train --init {outcome.directory}")


class LMDisplay(TrainingDisplay):
    """train's display with a language model's numbers: loss and perplexity instead of accuracy."""

    def step_stats(self, report) -> str:
        return f"loss {report.loss:.3f} ppl {math.exp(min(report.loss, 50)):.1f} {report.tokens_per_s:,.0f} tok/s"

    def epoch(self, report) -> None:
        self.end_bar()
        best = "  *best" if report.improved else ""
        self.progress.console.print(
            f"epoch {report.epoch}: train loss {report.train_loss:.3f}, held-out perplexity "
            f"{math.exp(report.valid_loss):.1f}, {report.seconds:.0f} s, {report.tokens_per_s:,.0f} tok/s{best}"
        )
