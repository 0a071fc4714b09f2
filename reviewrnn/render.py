"""Rich renderables for the CLI's human-readable output (tables, token traces): plain values in, no printing."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from reviewrnn.calibration import bound_note
from reviewrnn.labelmap import dropped_values

BAR_WIDTH = 20
SPARKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 100  # longer traces are sampled down to this many characters
MOVE_STYLES = (  # (smallest |change| of the traced probability, style when it rises, when it falls)
    (0.15, "bold white on dark_green", "bold white on red3"),
    (0.05, "bold green", "bold red"),
    (0.01, "green", "red"),
)


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return "█" * filled + "·" * (width - filled)


def bucket_name(row: dict) -> str:
    return f"{row['low']}-{row['high'] - 1}" if row["high"] is not None else f"{row['low']}+"


def length_table(rows: list[dict], title: str = "Accuracy by length (tokens)") -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("tokens", "reviews", "accuracy", "95% interval", ""):
        table.add_column(column, justify="left" if column in ("tokens", "") else "right")
    for row in rows:
        if not row["count"]:
            table.add_row(bucket_name(row), "0", "-", "-", "")
            continue
        interval = f"{row['ci_low']:.1%}-{row['ci_high']:.1%}"
        table.add_row(bucket_name(row), str(row["count"]), f"{row['accuracy']:.1%}", interval, bar(row["accuracy"]))
    return table


def precision_cell(precision: float, called: float) -> str:
    """A precision, or "–" where it is undefined because nothing was called that class (its JSON value is 0)."""
    return f"{precision:.3f}" if called > 0 else "–"


def class_table(report: dict) -> Table:
    table = Table(title="Per class", title_justify="left")
    for column in ("class", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    called = [sum(column) for column in zip(*report["confusion"]["matrix"], strict=True)]  # predicted per class
    for (name, scores), count in zip(report["per_class"].items(), called, strict=True):
        precision = precision_cell(scores["precision"], count)
        table.add_row(name, precision, f"{scores['recall']:.3f}", f"{scores['f1']:.3f}", str(scores["support"]))
    return table


def confusion_table(report: dict) -> Table:
    labels = report["confusion"]["labels"]
    table = Table(title="Confusion (rows: true, columns: predicted)", title_justify="left")
    table.add_column("true \\ predicted")
    for label in labels:
        table.add_column(label, justify="right")
    for label, counts in zip(labels, report["confusion"]["matrix"]):
        table.add_row(label, *(str(count) for count in counts))
    return table


def summary_line(report: dict) -> Text:
    return Text.assemble(
        ("accuracy ", "bold"),
        (f"{report['accuracy']:.2%}", "bold green"),
        f"  macro-F1 {report['macro_f1']:.3f}  balanced accuracy {report['balanced_accuracy']:.2%}",
        f"  log loss {report['log_loss']:.4f}  reviews {report['count']}  "
        f"truncated {report['truncated']} (> {report['max_tokens']} tokens)  split {report['split']}",
    )


EPOCH_COLUMNS = (
    "epoch",
    "train loss",
    "valid acc",
    "grad norm mean",
    "grad norm max",
    "clipped",
    "seconds",
    "tokens/s",
)


def epoch_header() -> str:
    return "  ".join(f"{name:>14}" for name in EPOCH_COLUMNS)


def epoch_row(report, best: bool) -> str:
    values = (
        f"{report.epoch}",
        f"{report.train_loss:.4f}",
        f"{report.valid_accuracy:.2%}",
        f"{report.grad_norm_mean:.3f}",
        f"{report.grad_norm_max:.3f}",
        f"{report.clipped_share:.0%}",
        f"{report.seconds:.1f}",
        f"{report.tokens_per_s:,.0f}",
    )
    return "  ".join(f"{value:>14}" for value in values) + ("  *best" if best else "")


def unmapped_line(corpus: str, label_map: str, unmapped: dict[str, int], values: dict[str, int] | None = None) -> str:
    """How many reviews of each split a --label-map dropped, for train's and evaluate's reports, and (where
    the reader counted them) which label values, so that a typo shows beside the ratings left out on purpose."""
    counts = ", ".join(f"{part} {count}" for part, count in unmapped.items())
    dropped = f"unmapped reviews dropped: {counts}" if any(unmapped.values()) else "it maps every review"
    if values and any(unmapped.values()):
        dropped += f" (values in the file: {dropped_values(values)})"
    return f"label map {label_map!r} on {corpus}: {dropped}"


def corpus_table(summary: dict) -> Table:
    """Splits across, figures down: as narrow at 80 columns with five classes as with two."""
    parts = summary["splits"].values()
    table = Table(title=f"Corpus {summary['name']}", title_justify="left")
    table.add_column("")
    for name in summary["splits"]:
        table.add_column(name, justify="right")
    table.add_row("reviews", *(str(part["count"]) for part in parts))
    if summary.get("label_map"):  # reviews whose rating --label-map does not map
        table.add_row("unmapped, dropped", *(str(part["unmapped"]) for part in parts))
    table.add_section()
    for index, label in enumerate(summary["label_names"]):
        table.add_row(label, *(f"{part['class_share'][index]:.1%}" for part in parts))
    table.add_section()
    for key in ("median", "p90", "p99"):
        table.add_row(f"{key} words", *(f"{part['words'][key]:.0f}" for part in parts))
    return table


def sparkline(values: np.ndarray, width: int = SPARK_WIDTH) -> str:
    """Probabilities in [0, 1] as block characters; at most `width` of them."""
    values = np.asarray(values, dtype=float)
    if len(values) > width:
        values = values[np.linspace(0, len(values) - 1, width).round().astype(int)]
    levels = np.clip((values * len(SPARKS)).astype(int), 0, len(SPARKS) - 1)
    return "".join(SPARKS[level] for level in levels)


def move_style(change: float) -> str:
    for smallest, rising, falling in MOVE_STYLES:
        if abs(change) >= smallest:
            return rising if change > 0 else falling
    return ""


def trace_view(trace, top: int = 5) -> Group:
    """The review coloured by how each token moved the prediction, a sparkline, and the biggest moves."""
    if not trace.tokens:
        return Group(Text("(no tokens: nothing to trace)", style="dim"))
    moves = trace.moves()
    body, position = Text(), 0
    for (start, end), change in zip(trace.offsets, moves):
        body.append(trace.text[position:start])
        body.append(trace.text[start:end], style=move_style(float(change)))
        position = end
    body.append(trace.text[position:] if not trace.dropped else " …")
    name = trace.label_names[trace.traced]
    series = trace.probabilities[:, trace.traced]
    final = trace.to_record()
    line = Text.assemble(
        (f"P({name}) ", "bold"),
        sparkline(series),
        f"  {trace.prior[trace.traced]:.2f} → {series[-1]:.2f}   ",
        (f"{final['label']} {final['probability']:.1%}", "bold"),
    )
    order = np.argsort(-np.abs(moves))[:top]
    biggest = Text("moved most: ", style="dim")
    for rank, index in enumerate(order):
        biggest.append(" · " if rank else "")
        biggest.append(f"{trace.tokens[index]} {moves[index]:+.2f}", style=move_style(float(moves[index])))
    if trace.dropped:
        biggest.append(f"   ({trace.dropped} tokens past the model's max_tokens not read)", style="dim")
    return Group(body, line, biggest)


def trace_legend(name: str) -> Text:
    return Text(f"green raised P({name}), red lowered it; the stronger the colour, the larger the change", style="dim")


def familiarity_line(familiarity: dict) -> Text:
    """The median familiarity and the share under 5 (about 5% for reviews like TRAIN's; see familiarity.py)."""
    sampled = "" if familiarity["reviews"] == familiarity["of"] else f", {familiarity['reviews']:,} sampled"
    return Text.assemble(
        ("Familiarity ", "bold"),
        f"median {familiarity['median']:.1f} (TRAIN reviews: about 50), {familiarity['below_5']:.1%} under 5 "
        f"(TRAIN: about 5%){sampled} of {familiarity['of']:,} reviews",
    )


def calibration_line(report: dict) -> Text:
    """ECE before and after the model's temperature, and the threshold in use."""
    calibration = report["calibration"]
    temperature = calibration["temperature"]
    shown = "none" if temperature is None else (f"{temperature:.3f}" if isinstance(temperature, float) else "each")
    threshold = report.get("threshold")
    note = bound_note(temperature) if isinstance(temperature, float) else ""
    return Text.assemble(
        ("ECE ", "bold"),
        f"{calibration['ece']:.4f} (uncalibrated {calibration['ece_uncalibrated']:.4f}, temperature {shown}{note})  "
        f"threshold {'none (most probable label)' if threshold is None else f'{threshold:.4f}'}",
    )


def reliability_table(calibration: dict) -> Table:
    """One row per bin of the top probability: mean confidence against accuracy."""
    table = Table(title=f"Reliability (10 bins of the top probability; ECE {calibration['ece']:.4f})")
    table.title_justify = "left"
    for column in ("top probability", "reviews", "confidence", "accuracy", "gap"):
        table.add_column(column, justify="left" if column == "top probability" else "right")
    for row in calibration["bins"]:
        if not row["count"]:
            continue
        gap = row["accuracy"] - row["confidence"]
        table.add_row(
            f"{row['low']:.1f}-{row['high']:.1f}",
            str(row["count"]),
            f"{row['confidence']:.3f}",
            f"{row['accuracy']:.3f}",
            f"{gap:+.3f}",
        )
    return table


def threshold_table(found: dict) -> Table:
    """The curve on VALID: precision, recall and F1 of the positive label and balanced accuracy per threshold."""
    chosen = found["chosen"]
    title = (
        f"Threshold on VALID ({found['count']} reviews) for {found['objective']}: "
        f"{found['positive_label']} when P >= {chosen['threshold']:.4f}"
    )
    table = Table(title=title, title_justify="left")
    for column in ("threshold", "precision", "recall", "F1", "balanced acc", "called positive", ""):
        table.add_column(column, justify="right")
    for row in found["curve"]:
        table.add_row(
            f"{row['threshold']:.4f}",
            precision_cell(row["precision"], row["positive_share"]),
            f"{row['recall']:.3f}",
            f"{row['f1']:.3f}",
            f"{row['balanced_accuracy']:.3f}",
            f"{row['positive_share']:.1%}",
            "← chosen" if row["chosen"] else "",
            style="bold" if row["chosen"] else None,
        )
    return table
