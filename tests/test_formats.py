"""The row formats: one row per prediction, whatever the text holds, in tsv, csv and jsonl."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

from reviewrnn.formats import json_line, row_writer
from reviewrnn.predict import Prediction

POSITIVE = Prediction("positive", 0.91234, {"negative": 0.08766, "positive": 0.91234}, 3)
BLANK = Prediction(None, None, None, 0)
AWKWARD = 'tab\there, "quoted", comma, cr\rlf\r\nend ünï €'


def test_tsv():
    assert row_writer("tsv", False)("-", 1, "great", POSITIVE) == "positive\t0.9123\n"
    assert row_writer("tsv", False)("-", 2, "", BLANK) == "\t\n"


def test_tsv_text_column_turns_row_breakers_into_spaces():
    row = row_writer("tsv", True)("-", 1, AWKWARD, POSITIVE)
    assert row.count("\n") == 1 and row.count("\t") == 2 and "\r" not in row
    assert row.split("\t")[2] == 'tab here, "quoted", comma, cr lf  end ünï €\n'


def test_csv_quotes_what_needs_it_and_reads_back():
    assert row_writer("csv", False)("-", 1, "great", POSITIVE) == "positive,0.9123\n"
    assert row_writer("csv", False)("-", 1, "", BLANK) == ",\n"
    row = row_writer("csv", True)("-", 1, AWKWARD, POSITIVE)
    assert row.startswith('"positive","0.9123",')  # a lone \r would end the row in many readers: all quoted
    assert list(csv.reader(io.StringIO(row, newline=""))) == [["positive", "0.9123", AWKWARD]]
    plain = row_writer("csv", True)("-", 1, 'say "hi", then go', POSITIVE)
    assert plain == 'positive,0.9123,"say ""hi"", then go"\n'


def test_jsonl_is_one_line_and_holds_everything():
    row = row_writer("jsonl", True)("reviews.txt", 7, AWKWARD, POSITIVE)
    assert row.endswith("\n") and row.count("\n") == 1 and "ünï €" in row  # not \u-escaped
    assert json.loads(row) == {
        "source": "reviews.txt",
        "line": 7,
        "label": "positive",
        "probability": 0.91234,
        "probabilities": {"negative": 0.08766, "positive": 0.91234},
        "tokens": 3,
        "threshold": None,
        "ood": None,
        "text": AWKWARD,
    }
    blank = json.loads(row_writer("jsonl", False)("-", 1, "", BLANK))
    assert blank["label"] is None and blank["probability"] is None and "text" not in blank


def test_jsonl_carries_the_threshold_and_the_ood_score_the_other_formats_the_chosen_label():
    chosen = Prediction("positive", 0.3, {"negative": 0.7, "positive": 0.3}, 3, threshold=0.25, ood=0.125)
    record = json.loads(row_writer("jsonl", False)("-", 1, "meh", chosen))
    assert (record["label"], record["threshold"], record["ood"]) == ("positive", 0.25, 0.125)
    assert row_writer("tsv", False)("-", 1, "meh", chosen) == "positive\t0.3000\n"
    assert row_writer("csv", False)("-", 1, "meh", chosen) == "positive,0.3000\n"


def test_json_line():
    assert json_line({"a": "x\ny", "b": "é"}) == '{"a": "x\\ny", "b": "é"}\n'


def test_a_label_with_a_tab_keeps_a_tsv_row_in_two_columns():
    """Labels come from the user's label column; one holding a tab or newline would split the row."""
    tabbed = replace(POSITIVE, label="very\tgood\n")
    assert row_writer("tsv", False)("-", 1, "great", tabbed) == "very good \t0.9123\n"
