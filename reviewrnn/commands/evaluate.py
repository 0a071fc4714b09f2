"""`reviewrnn evaluate`: score a saved model, with accuracy by sequence length."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from reviewrnn.commands.common import (
    DeviceOption,
    JsonOption,
    LabelColumnOption,
    LabelMapOption,
    TextColumnOption,
    ThreadsOption,
    conflict,
    err,
    friendly_errors,
    label_map_option,
    out,
    parse_edges,
)
from reviewrnn.config import DEFAULT_LENGTH_EDGES

ModelsArgument = Annotated[
    list[Path],
    typer.Argument(
        help="A model directory, e.g. models/lstm-20261125-120000; several: their averaged probabilities "
        "are scored (an ensemble).",
        metavar="MODEL",
    ),
]
OtherCorpusOption = Annotated[str | None, typer.Option(help="Evaluate on another corpus (default: the model's own).")]
SplitOption = Annotated[
    Literal["train", "valid", "test", "all"],
    typer.Option(help="Which canonical split to score; all: every review of a --corpus file never trained on."),
]
EdgesOption = Annotated[str, typer.Option(help="Length bucket edges in tokens.")]
ObjectiveOption = Annotated[
    str | None,
    typer.Option(
        help="Choose the decision threshold on VALID and save it: f1, balanced-accuracy, precision=X or recall=X; "
        "none removes a saved one.",
        metavar="OBJECTIVE",
    ),
]
CalibrateOption = Annotated[
    bool, typer.Option("--calibrate", help="Refit the temperature and domain profile on VALID, and save them.")
]
NO_THRESHOLD = "none"  # --find-threshold none: remove a saved threshold
PngOption = Annotated[Path | None, typer.Option(help="Also draw the reliability bins (and threshold curve) here.")]


@friendly_errors
def evaluate(
    models: ModelsArgument,
    corpus: OtherCorpusOption = None,
    text_column: TextColumnOption = None,
    label_column: LabelColumnOption = None,
    label_map: LabelMapOption = None,
    split: SplitOption = "test",
    edges: EdgesOption = ",".join(map(str, DEFAULT_LENGTH_EDGES)),
    device: DeviceOption = "auto",
    threads: ThreadsOption = None,
    as_json: JsonOption = False,
    find_threshold: ObjectiveOption = None,
    calibrate: CalibrateOption = False,
    png: PngOption = None,
) -> None:
    """Accuracy, macro-F1, balanced accuracy, P/R/F1, confusion, log loss, ECE and accuracy by length;
    the model's own TEST report is saved to MODEL/eval.json (another --corpus or --split is not saved).

    \b
    Examples:
      reviewrnn evaluate models/gru-imdb --json | jq .by_length
      reviewrnn evaluate models/stars --corpus other.csv   # with its --label-map
      reviewrnn evaluate models/wide-0 models/wide-1 models/wide-2   # an ensemble
      reviewrnn evaluate models/shop --find-threshold precision=0.95 --png t.png
      reviewrnn evaluate models/old-model --calibrate   # fit a temperature

    An ensemble writes no eval.json. Input that reads unlike the model's training corpus gets one
    warning on stderr.
    """
    from reviewrnn.cleanscores import trained_on_file
    from reviewrnn.scoring import evaluate_step
    from reviewrnn.source import CorpusSettings

    _check_flags(corpus, label_map, split, find_threshold, png)
    found = _fit_decision(models, calibrate, find_threshold, device, threads)
    if found and found["warning"]:
        err.print(f"warning: {found['warning']}")
    settings = CorpusSettings(corpus, text_column, label_column, label_map_option(label_map)) if corpus else None
    report = evaluate_step(models, settings, split, parse_edges(edges), device, threads)
    _warn(report)
    if settings is not None and split != "all" and not trained_on_file(models[0], report["corpus"]):
        err.print(
            f"note: scored the {split} part of {corpus} by its hash split ({report['count']:,} reviews); "
            "--split all scores every review of a file the model never trained on"
        )
    if png is not None:
        from reviewrnn.calibration_chart import decision_chart

        err.print(f"wrote {decision_chart(report['calibration'], found, png)}")
    if as_json:
        out.print_json(json.dumps(report | ({"threshold_search": found} if found else {})))
    else:
        _print_report(report, found)


def _check_flags(corpus, label_map, split: str, find_threshold, png) -> None:
    """Flags that do not go together, a misspelt objective, a chart that cannot be drawn: before any model is
    read, and before _fit_decision saves anything into it."""
    if label_map is not None and corpus is None:
        raise conflict("--label-map goes with --corpus; the model's own corpus is read with its own map")
    if split == "all" and corpus is None:
        raise conflict("--split all goes with --corpus FILE: every review of a labelled file the model never saw")
    if find_threshold is not None:
        _check_objective(find_threshold)
    if png is not None:
        from reviewrnn.calibration_chart import check_chart_possible
        from reviewrnn.commands.lab_options import check_chart_type

        check_chart_type(png)  # first: a refused name leaves no folder behind
        check_chart_possible(png)


def _print_report(report: dict, found: dict | None) -> None:
    """The human report: summary, classes, confusion, accuracy by length, then the decision."""
    from reviewrnn.render import class_table, confusion_table, length_table, summary_line, unmapped_line

    out.print(summary_line(report))
    if "label_map" in report:
        unmapped = {report["split"]: report["unmapped"]}
        out.print(unmapped_line(report["corpus"], report["label_map"], unmapped, report["unmapped_values"]))
    out.print(class_table(report))
    out.print(confusion_table(report))
    out.print(length_table(report["by_length"]))
    _print_decision(report, found)


def _warn(report: dict) -> None:
    """On stderr: input unlike the training corpus; familiarity files that could not be read; scores that
    are not clean because a model trained on some of the reviews, or its language model read them."""
    if report["domain"] and report["domain"]["warning"]:
        err.print(f"warning: {report['domain']['warning']}")
    if report.get("familiarity") and "unreadable" in report["familiarity"]:
        err.print(f"warning: no familiarity: {report['familiarity']['unreadable']}")
    for reason in report.get("not_clean", []) + report.get("corpus_changed", []):
        err.print(f"warning: {reason}")
    for reason in report.get("unchecked", []):
        err.print(f"note: {reason}")
    if report.get("unused_thresholds"):
        from reviewrnn.messages import unused_thresholds

        err.print(f"note: {unused_thresholds(report['unused_thresholds'], 'evaluate')}")
    if why := report.get("eval_json_not_saved"):
        err.print(f"note: {report['model']}/eval.json not saved: {why}")


def _check_objective(objective: str) -> None:
    """A misspelt objective is a usage error (exit 2), found before any model is read."""
    from reviewrnn.errors import ReviewRNNError
    from reviewrnn.threshold import parse_objective

    if objective == NO_THRESHOLD:
        return
    try:
        parse_objective(objective)
    except ReviewRNNError as error:
        said = str(error).removeprefix(f"--find-threshold {objective!r}: ")
        raise typer.BadParameter(f"{said}; or none, to remove a saved one", param_hint="'--find-threshold'") from None


def _fit_decision(models: list[Path], calibrate: bool, objective: str | None, device: str, threads) -> dict | None:
    """--calibrate and --find-threshold, on VALID, saved into the one model directory; the threshold curve."""
    if not (calibrate or objective):
        return None
    if len(models) > 1:
        raise conflict("--calibrate and --find-threshold fit one model: give a single MODEL")
    from reviewrnn import runtime
    from reviewrnn.fitting import calibrate_step, threshold_step

    runtime.set_threads(threads)
    if calibrate:
        fitted = calibrate_step(models[0], device_name=device)
        temperature = "none" if fitted["temperature"] is None else f"{fitted['temperature']:.3f}"
        err.print(
            f"calibrated on VALID: temperature {temperature}, ECE {fitted['valid_ece_before']:.4f} -> "
            f"{fitted['valid_ece_after']:.4f}; domain profile and TRAIN/VALID fingerprints saved"
        )
    if objective == NO_THRESHOLD:
        from reviewrnn.fitting import clear_threshold

        removed = clear_threshold(models[0])
        said = "no threshold was saved" if removed is None else f"removed the saved threshold {removed:.4f}"
        err.print(f"{said}: the most probable label decides")
        return None
    return threshold_step(models[0], objective, device) if objective else None


def _print_decision(report: dict, found: dict | None) -> None:
    from reviewrnn.render import calibration_line, familiarity_line, reliability_table, threshold_table

    out.print(calibration_line(report))
    out.print(reliability_table(report["calibration"]))
    if report.get("familiarity") and "median" in report["familiarity"]:
        out.print(familiarity_line(report["familiarity"]))
    if found:
        out.print(threshold_table(found))
