"""Rich renderables for the CLI's human-readable output; plain values in, tables out, no printing."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

BAR_WIDTH = 20


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


def class_table(report: dict) -> Table:
    table = Table(title="Per class", title_justify="left")
    for column in ("class", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, scores in report["per_class"].items():
        table.add_row(
            name, f"{scores['precision']:.3f}", f"{scores['recall']:.3f}", f"{scores['f1']:.3f}", str(scores["support"])
        )
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


def corpus_table(summary: dict) -> Table:
    table = Table(title=f"Corpus {summary['name']}", title_justify="left")
    table.add_column("split")
    table.add_column("reviews", justify="right")
    for label in summary["label_names"]:
        table.add_column(label, justify="right")
    for column in ("median words", "p90 words", "p99 words"):
        table.add_column(column, justify="right")
    for name, part in summary["splits"].items():
        shares = [f"{share:.1%}" for share in part["class_share"]]
        quantiles = [f"{part['words'][key]:.0f}" for key in ("median", "p90", "p99")]
        table.add_row(name, str(part["count"]), *shares, *quantiles)
    return table
