"""`reviewrnn evaluate`: score a saved model, with accuracy by sequence length."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from reviewrnn.commands.common import (
    JsonOption,
    LabelColumnOption,
    LabelMapOption,
    TextColumnOption,
    friendly_errors,
    label_map_option,
    out,
)
from reviewrnn.config import DEFAULT_LENGTH_EDGES, Device


def parse_edges(value: str) -> tuple[int, ...]:
    try:
        edges = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: give increasing integers separated by commas, e.g. 0,64,128,256"
        ) from None
    if not edges or edges[0] != 0 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise typer.BadParameter(f"{value!r}: edges must start at 0 and increase, e.g. 0,64,128,256")
    return edges


@friendly_errors
def evaluate(
    models: Annotated[
        list[Path],
        typer.Argument(
            help="A model directory, e.g. models/lstm-20261125-120000; several: their averaged probabilities "
            "are scored (an ensemble).",
            metavar="MODEL",
        ),
    ],
    corpus: Annotated[str | None, typer.Option(help="Evaluate on another corpus (default: the model's own).")] = None,
    text_column: TextColumnOption = None,
    label_column: LabelColumnOption = None,
    label_map: LabelMapOption = None,
    split: Annotated[Literal["train", "valid", "test"], typer.Option(help="Which canonical split to score.")] = "test",
    edges: Annotated[str, typer.Option(help="Length bucket edges in tokens.")] = ",".join(
        map(str, DEFAULT_LENGTH_EDGES)
    ),
    device: Annotated[Device, typer.Option()] = "auto",
    threads: Annotated[int | None, typer.Option(min=1)] = None,
    as_json: JsonOption = False,
) -> None:
    """Accuracy, macro-F1, balanced accuracy, P/R/F1, confusion, log loss and accuracy by length;
    saved to MODEL/eval.json.

    Examples:
      reviewrnn evaluate models/gru-imdb --json | jq .by_length
      reviewrnn evaluate models/stars --corpus other.csv   (another file, read with the model's --label-map)
      reviewrnn evaluate models/wide-0 models/wide-1 models/wide-2   (an ensemble; no eval.json written)
    """
    from reviewrnn.render import class_table, confusion_table, length_table, summary_line, unmapped_line
    from reviewrnn.scoring import evaluate_step
    from reviewrnn.source import CorpusSettings

    if label_map is not None and corpus is None:
        raise typer.BadParameter("goes with --corpus; the model's own corpus is read with its own map")
    settings = CorpusSettings(corpus, text_column, label_column, label_map_option(label_map)) if corpus else None
    report = evaluate_step(models, settings, split, parse_edges(edges), device, threads)
    if as_json:
        out.print_json(json.dumps(report))
        return
    out.print(summary_line(report))
    if "label_map" in report:
        out.print(unmapped_line(report["corpus"], report["label_map"], {split: report["unmapped"]}))
    out.print(class_table(report))
    out.print(confusion_table(report))
    out.print(length_table(report["by_length"]))
