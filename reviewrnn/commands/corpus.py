"""`reviewrnn corpus` and `reviewrnn tokenize`: look at the data, learn the vocabulary."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated

import typer

from reviewrnn.commands.common import (
    CorpusOption,
    JsonOption,
    LabelColumnOption,
    LabelMapOption,
    TextColumnOption,
    err,
    friendly_errors,
    label_map_option,
    out,
)
from reviewrnn.config import TokenizerConfig, TrainConfig


@friendly_errors
def corpus(
    name: Annotated[str, typer.Argument(help="'imdb', a local file, or hub:DATASET_ID.")] = "imdb",
    text_column: TextColumnOption = None,
    label_column: LabelColumnOption = None,
    label_map: LabelMapOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch (if needed) and describe a corpus: cache path, split sizes, class balance, lengths.

    \b
    Example: reviewrnn corpus imdb --json | jq .splits.test.count
    Star ratings: reviewrnn corpus reviews.csv --label-column stars
      --label-map "1,2=negative 4,5=positive"
    """
    from reviewrnn.labelmap import dropped_values
    from reviewrnn.render import corpus_table
    from reviewrnn.source import CorpusSettings, corpus_summary

    summary = corpus_summary(CorpusSettings(name, text_column, label_column, label_map_option(label_map)))
    if as_json:
        out.print_json(json.dumps(summary))
        return
    out.print(corpus_table(summary))
    if summary["unmapped_values"]:
        out.print(f"label values the map dropped: {dropped_values(summary['unmapped_values'])}")
    out.print(f"file {summary['path'] or summary['name']}  sha256 {summary['sha256']}")
    out.print(
        f"cache {summary['cache_dir']}  rows {summary['rows']}  duplicates dropped {summary['duplicates_dropped']}"
    )


@friendly_errors
def tokenize(
    corpus: CorpusOption = "imdb",
    text_column: TextColumnOption = None,
    label_column: LabelColumnOption = None,
    label_map: LabelMapOption = None,
    vocab_size: Annotated[int, typer.Option(min=100, help="Subword vocabulary size.")] = TokenizerConfig.vocab_size,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Where to write tokenizer.json (default: models/tokenizer.json).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Train a WordPiece tokenizer on the TRAIN split only and report its statistics.

    \b
    Example: reviewrnn tokenize --vocab-size 16000 --out models/tok16k.json
    then:    reviewrnn train --tokenizer models/tok16k.json
    Star ratings: give the --label-column and --label-map that train will get,
    so it reads the TRAIN reviews train keeps (a missing rating is dropped).
    """
    from reviewrnn.artifacts import models_root
    from reviewrnn.atomic import atomic_write_bytes
    from reviewrnn.errors import ReviewRNNError
    from reviewrnn.source import CorpusSettings
    from reviewrnn.tokenizing import tokenize_step

    out_path = out_path or models_root() / "tokenizer.json"
    _refuse_model_directory(out_path)
    if out_path.is_dir():  # --force would not replace a folder with a file
        shown = shlex.quote(str(out_path / "tokenizer.json"))
        raise ReviewRNNError(f"{out_path} is a folder; --out takes a file name, e.g. --out {shown}")
    if out_path.exists() and not force:
        raise ReviewRNNError(f"{out_path} already exists; pass --force to replace it or choose another --out")
    settings = CorpusSettings(corpus, text_column, label_column, label_map_option(label_map))
    tokenizer, report = tokenize_step(settings, TokenizerConfig(vocab_size=vocab_size), TrainConfig.valid_fraction)
    atomic_write_bytes(out_path, tokenizer.to_str().encode("utf-8"))
    figures = {"path": str(out_path), **report.__dict__}
    if as_json:
        out.print_json(json.dumps(figures))
        return
    out.print(
        f"vocabulary {report.vocab_size} from {report.reviews:,} TRAIN reviews  "
        f"tokens per review: median {report.median_tokens:.0f}, "
        f"p90 {report.p90_tokens:.0f}, p99 {report.p99_tokens:.0f}  unknown {report.unknown_rate:.3%}  "
        f"time {report.seconds:.1f} s"
    )
    err.print(f"saved {out_path}")


def _refuse_model_directory(out_path: Path) -> None:
    """A trained model's tokenizer.json belongs to its weights: a new one broke the model, or, of the same
    size, made it read other tokens without a word (a trial's `--out models/NAME/tokenizer.json --force`)."""
    from reviewrnn.errors import ReviewRNNError
    from reviewrnn.outdir import is_model_directory

    for folder in (out_path, *out_path.absolute().parents):  # MODEL/checkpoint/tokenizer.json too: resume reads it
        if folder.is_dir() and any(folder.iterdir()) and is_model_directory(folder):
            raise ReviewRNNError(
                f"{folder} is a model directory, whose tokenizer belongs to its weights; give --out a file outside "
                "it, e.g. --out models/tokenizer-new.json"
            )
