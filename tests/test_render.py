"""render.py: bars, bucket names and the tables the CLI prints."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

import numpy as np
from rich.console import Console

from reviewrnn.metrics import classification_report
from reviewrnn.render import (
    bar,
    bucket_name,
    class_table,
    confusion_table,
    corpus_table,
    epoch_header,
    epoch_row,
    length_table,
    summary_line,
    threshold_table,
)


def text_of(renderable) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


REPORT = classification_report(
    np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), np.array([0, 1, 1]), ["negative", "positive"], np.array([5, 70, 3])
) | {"truncated": 1, "max_tokens": 64, "split": "test"}


def test_bar():
    assert bar(0.5, 10) == "█████·····"
    assert bar(0.0, 4) == "····" and bar(1.0, 4) == "████"
    assert bar(1.7, 4) == "████" and bar(-1, 4) == "····"


def test_bucket_name():
    assert bucket_name({"low": 64, "high": 128}) == "64-127"
    assert bucket_name({"low": 1024, "high": None}) == "1024+"


def test_length_table_shows_counts_and_intervals():
    text = text_of(length_table(REPORT["by_length"]))
    assert "0-63" in text and "64-127" in text and "1024+" in text
    assert "50.0%" in text and "100.0%" in text  # two reviews at 50%, one at 100%
    assert "-" in text  # empty buckets


def test_class_and_confusion_tables():
    classes = text_of(class_table(REPORT))
    assert "negative" in classes and "0.500" in classes and "0.667" in classes  # P(neg) 1/2, F1 2/3
    confusion = text_of(confusion_table(REPORT))
    assert "true \\ predicted" in confusion
    assert confusion.count("negative") == 2 and confusion.count("positive") == 2
    one_label = classification_report(  # every review called negative: positive's precision is undefined
        np.array([[0.9, 0.1], [0.8, 0.2]]), np.array([0, 1]), ["negative", "positive"], np.array([5, 7])
    )
    row = next(line for line in text_of(class_table(one_label)).splitlines() if "positive" in line)
    assert [cell.strip() for cell in row.split("│") if cell.strip()][:3] == ["positive", "–", "0.000"]


def test_summary_line():
    line = summary_line(REPORT).plain
    assert "accuracy 66.67%" in line and "reviews 3" in line and "truncated 1 (> 64 tokens)" in line


def test_epoch_rows_line_up_with_the_header():
    report = SimpleNamespace(
        epoch=2,
        train_loss=0.25,
        valid_accuracy=0.9,
        grad_norm_mean=0.5,
        grad_norm_max=1.5,
        clipped_share=0.25,
        seconds=3.0,
        tokens_per_s=12345.0,
    )
    row = epoch_row(report, best=True)
    assert row.endswith("*best") and "90.00%" in row and "12,345" in row and "25%" in row
    assert len(epoch_row(report, best=False)) == len(epoch_header())


def test_corpus_table():
    summary = {
        "name": "x.csv",
        "label_names": ["negative", "positive"],
        "splits": {
            "train": {"count": 10, "class_share": [0.4, 0.6], "words": {"median": 5, "p90": 9, "p99": 12}},
        },
    }
    text = text_of(corpus_table(summary))
    assert "Corpus x.csv" in text and "40.0%" in text and "60.0%" in text and "12" in text


def test_corpus_table_fits_80_columns_with_five_classes():
    labels = ["awful", "poor", "average", "good", "excellent"]
    part = {"count": 12500, "class_share": [0.2] * 5, "words": {"median": 174, "p90": 590, "p99": 1200}}
    summary = {"name": "stars.csv", "label_names": labels, "splits": {"train": part, "valid": part, "test": part}}
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(corpus_table(summary))
    text = console.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    assert re.search(r"┃\s+┃\s+train\s+┃\s+valid\s+┃\s+test\s+┃", text)
    for row in [*labels, "reviews", "median words", "p90 words", "p99 words"]:
        assert re.search(rf"│ {row}\s+│", text), row


def test_threshold_table_shows_a_dash_for_precision_where_nothing_is_called_positive():
    from reviewrnn.threshold import curve

    positive, labels = np.array([0.1, 0.3, 0.6, 0.7]), np.array([0, 1, 0, 1])
    rows = curve(positive, labels, chosen=0.5, step=0.25)  # 0.25, 0.5, 0.75: none is called positive at 0.75
    found = {"chosen": rows[1], "count": 4, "objective": "f1", "positive_label": "positive", "curve": rows}
    row = next(line for line in text_of(threshold_table(found)).splitlines() if "0.7500" in line)
    assert [cell.strip() for cell in row.split("│") if cell.strip()][:3] == ["0.7500", "–", "0.000"]
    assert rows[2]["precision"] == 0.0  # the JSON value is unchanged
