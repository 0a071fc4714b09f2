"""`reviewrnn train`: the CLI face of runs.train_step, with live progress on stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from reviewrnn.commands.common import (
    CorpusOption,
    DeviceOption,
    JsonOption,
    LabelColumnOption,
    LabelMapOption,
    TextColumnOption,
    TrainingThreadsOption,
    adopt_language_model,
    check_resume_flags,
    conflict,
    err,
    friendly_errors,
    given,
    label_map_option,
    model_name,
    note_stopped_early,
    out,
    output_path,
    process_settings,
)
from reviewrnn.commands.display import TrainingDisplay
from reviewrnn.config import (
    CELL_BATCH_SIZE,
    INIT_DEFAULTS,
    Cell,
    ClassWeights,
    InitPart,
    ModelConfig,
    Pool,
    Schedule,
    TokenizerConfig,
    TrainConfig,
    Truncation,
    configs_from_flags,
)
from reviewrnn.presets import PRESET_SUMMARY, PRESETS, Preset, apply_preset

M, T = ModelConfig, TrainConfig
UNSET_DEFAULTS = ("batch_size", "epochs", "schedule")


@friendly_errors
def train(
    context: typer.Context,
    corpus: CorpusOption = "imdb",
    text_column: TextColumnOption = None,
    label_column: LabelColumnOption = None,
    label_map: LabelMapOption = None,
    class_weights: Annotated[
        ClassWeights, typer.Option(help="balanced: weight the loss by inverse class frequency on TRAIN.")
    ] = T.class_weights,
    cell: Annotated[Cell, typer.Option(help="rnn (tanh Elman), gru or lstm.")] = M.cell,
    layers: Annotated[int, typer.Option(min=1, help="Stacked recurrent layers.")] = M.layers,
    hidden: Annotated[int, typer.Option(min=1, help="Hidden state size.")] = M.hidden,
    embed: Annotated[int, typer.Option(min=1, help="Embedding size.")] = M.embed,
    embed_init: Annotated[
        float, typer.Option(min=0.0, max=10.0, help="Std of the embedding's initial weights (torch's own: 1.0).")
    ] = M.embed_init,
    bidirectional: Annotated[bool, typer.Option(help="Also read each review backwards.")] = M.bidirectional,
    dropout: Annotated[
        float, typer.Option(min=0.0, max=0.99, help="Dropout on the embeddings and before the output layer.")
    ] = M.dropout,
    word_dropout: Annotated[
        float, typer.Option(min=0.0, max=0.99, help="Training only: drop each whole word with this probability.")
    ] = M.word_dropout,
    pool: Annotated[
        Pool,
        typer.Option(help="last state; mean or max over all states (mean from a whole --init LM); maxmean: both."),
    ] = M.pool,
    epochs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"Passes over TRAIN, the best by VALID kept (default {T.epochs}; "
            f"{INIT_DEFAULTS['epochs']} with --init).",
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Reviews per step, grouped by length (default: 128 for rnn/gru, 64 lstm).")
    ] = None,
    lr: Annotated[float, typer.Option(min=0.0, help="Adam learning rate.")] = T.lr,
    schedule: Annotated[
        Schedule | None,
        typer.Option(
            help=f"linear: decay the learning rate to 5% over all epochs (default: {T.schedule}; "
            f"{INIT_DEFAULTS['schedule']} with --init)."
        ),
    ] = None,
    clip_norm: Annotated[
        float, typer.Option(min=0.0, help="Clip the gradient norm to this; 0 turns clipping off.")
    ] = T.clip_norm,
    weight_decay: Annotated[
        float, typer.Option(min=0.0, help="L2 penalty added to every gradient (Adam's weight_decay); 0: off.")
    ] = T.weight_decay,
    ema: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.9999, help="Validate and save a moving average of the weights (e.g. 0.999); 0: off."
        ),
    ] = T.ema,
    max_tokens: Annotated[int, typer.Option(min=1, help="Truncate reviews to this many tokens.")] = T.max_tokens,
    truncate: Annotated[Truncation, typer.Option(help="Keep the head or the tail of a long review.")] = T.truncate,
    seed: Annotated[int, typer.Option(help="Same seed, data and machine: the same weights.")] = T.seed,
    patience: Annotated[
        int, typer.Option(min=1, help="Stop after this many epochs without a better validation accuracy.")
    ] = T.patience,
    limit: Annotated[int | None, typer.Option(min=1, help="Use only the first N training reviews.")] = None,
    valid_fraction: Annotated[
        float,
        typer.Option(
            min=0.01, max=0.49, help="Share of the non-TEST reviews kept for VALID (early stopping, calibration)."
        ),
    ] = T.valid_fraction,
    device: DeviceOption = T.device,
    threads: TrainingThreadsOption = None,
    on_disk: Annotated[
        bool, typer.Option("--on-disk", help="For corpora larger than memory: encode to a memory-mapped cache.")
    ] = T.on_disk,
    calibrate: Annotated[
        bool, typer.Option(help="After training, fit a temperature on VALID so probabilities match accuracy.")
    ] = T.calibrate,
    vocab_size: Annotated[
        int, typer.Option(min=100, help="WordPiece vocabulary trained on TRAIN.")
    ] = TokenizerConfig.vocab_size,
    tokenizer: Annotated[Path | None, typer.Option(help="Reuse a tokenizer.json instead of training one.")] = None,
    name: Annotated[
        str | None, typer.Option(callback=model_name, help="Model name under models/ (default: CELL-TIMESTAMP).")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", callback=output_path, help="Exact output directory (overrides --name).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing model directory (never another folder).")] = False,
    preset: Annotated[
        Preset | None,
        typer.Option(help=f"A named recipe ({PRESET_SUMMARY}); flags given explicitly still win."),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue an interrupted run in this model directory, with its own settings; "
            "with --epochs, train a run (finished or not) to that many epochs (constant learning rate only)."
        ),
    ] = None,
    init: Annotated[
        Path | None,
        typer.Option(help="Start from a language model (reviewrnn pretrain): its tokenizer, shape and weights."),
    ] = None,
    init_part: Annotated[
        InitPart, typer.Option(help="With --init: all (embedding and recurrent layers) or the embedding alone.")
    ] = "all",
    as_json: JsonOption = False,
) -> None:
    """Train a recurrent sentiment classifier and save it to models/NAME/.

    \b
    Example: reviewrnn train --cell gru --epochs 3 --name gru-imdb
    Quick smoke run: reviewrnn train --limit 500 --epochs 1
    Star ratings: reviewrnn train --corpus reviews.csv --label-column stars
      --label-map "1,2=negative 4,5=positive" --class-weights balanced
    From a language model: reviewrnn train --init models/pretrained/imdb-lm
    Ctrl-C saves a checkpoint; continue with: reviewrnn train --resume models/NAME
    More epochs: reviewrnn train --resume models/NAME --epochs 8
    """
    from reviewrnn.artifacts import load_checkpoint_config
    from reviewrnn.outdir import output_directory
    from reviewrnn.runs import resume_step, train_step
    from reviewrnn.source import CorpusSettings

    if resume is not None:
        check_resume_flags(context)
        process_settings(threads or load_checkpoint_config(resume).train.threads)  # the same bits on any count
        with TrainingDisplay() as display:
            return _report(resume_step(resume, display.callbacks(), epochs), as_json)
    # batch_size, epochs and schedule left out (None) are decided below, once the cell and --init are known.
    flags = {key: value for key, value in context.params.items() if value is not None or key not in UNSET_DEFAULTS}
    configs = configs_from_flags(flags)  # every flag named like a setting, given or default
    if preset is not None:
        explicit = {key for key in PRESETS.get(preset, {}) if given(context, key)}
        apply_preset(preset, configs, explicit)
    model_config, train_config, _ = configs
    mapping = label_map_option(label_map)
    tokenizer, start = _initial(context, init, init_part, configs) if init else (tokenizer, None)
    if batch_size is None:  # the cell is known now (a preset or --init may have set it)
        train_config.batch_size = CELL_BATCH_SIZE[model_config.cell]
    for key, value in INIT_DEFAULTS.items() if init is not None else ():
        if context.params.get(key) is None:
            setattr(train_config, key, value)
    directory = output_directory(name, out_dir, model_config.cell, force)
    process_settings(train_config.threads)
    with TrainingDisplay() as display:
        settings = CorpusSettings(corpus, text_column, label_column, mapping)
        outcome = train_step(settings, *configs, directory, tokenizer, display.callbacks(), start)
    _report(outcome, as_json)


def _initial(context: typer.Context, init: Path, part: str, configs) -> tuple[Path, object]:
    """(the LM's tokenizer, InitInfo) for --init; the LM's shape goes into the configs."""
    from reviewrnn.transfer import init_info, start_pooling

    if context.params.get("tokenizer") is not None:
        raise conflict("--init brings the language model's tokenizer; drop --tokenizer")
    if context.params.get("preset") is not None:
        raise conflict("--preset sets a shape and --init brings the language model's; drop --preset")
    lm = adopt_language_model(context, init, configs)
    start_pooling(configs[0], part, given(context, "pool"))
    return lm.tokenizer_path, init_info(lm, part, configs[0])


def _report(outcome, as_json: bool) -> None:
    if not outcome.is_main:
        return
    if as_json:
        out.print_json(json.dumps(_summary(outcome)))
    else:
        _print_saved(outcome)
    from reviewrnn.runadvice import run_warnings

    for warning in run_warnings(outcome):
        err.print(Text.assemble(("warning: ", "bold yellow"), warning))
    if not as_json:
        err.print(f"next: reviewrnn evaluate {outcome.directory}")


def _summary(outcome) -> dict:
    """train --json: the saved model, its best epoch and accuracy, what the map dropped, VALID's predictions."""
    corpus = outcome.config.corpus
    summary = {
        "model": str(outcome.directory),
        "best_epoch": outcome.best_epoch,
        "valid_accuracy": outcome.best_valid_accuracy,
        "stopped_early": outcome.stopped_early,
        "seconds": round(outcome.seconds, 1),
    }
    if corpus.label_map is not None:
        summary |= {"label_map": corpus.label_map, "unmapped": corpus.unmapped}
    if outcome.valid_predicted is not None:
        summary["valid_predicted"] = dict(zip(corpus.label_names, outcome.valid_predicted, strict=True))
    if outcome.threshold_refit:
        summary["threshold_refit"] = outcome.threshold_refit
    return summary


def _print_saved(outcome) -> None:
    corpus = outcome.config.corpus
    out.print(
        f"saved {outcome.directory} (best epoch {outcome.best_epoch}, validation accuracy "
        f"{outcome.best_valid_accuracy:.2%}, {outcome.seconds / 60:.1f} min)"
    )
    note_stopped_early(outcome, "validation accuracy")
    if outcome.threshold_refit:
        err.print(f"note: {outcome.threshold_refit}")
    if corpus.label_map is not None:
        from reviewrnn.render import unmapped_line

        out.print(unmapped_line(corpus.name, corpus.label_map, corpus.unmapped, corpus.unmapped_values))
