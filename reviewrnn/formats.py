"""Prediction rows as text, one line each: tsv, csv or jsonl. Each format escapes what would split its row."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable

TSV_BREAKS = re.compile(r"[\t\n\r]")  # in an echoed text these would split a TSV row: they become spaces

RowWriter = Callable[[str, int, str, object], str]  # (source, line number, text, prediction) -> one row


def row_writer(output_format: str, echo_text: bool, familiarity: bool = False) -> RowWriter:
    """The row function for `output_format`; with `echo_text` the input text is the last column (field).
    With `familiarity` every JSON line has the field, null where it could not be measured.

    The label is the one the model's decision chose, its threshold included; the probability is that label's.
    """

    def tsv(source, number, text, p):
        columns = [TSV_BREAKS.sub(" ", _label(p)), _probability(p)] + ([TSV_BREAKS.sub(" ", text)] if echo_text else [])
        return "\t".join(columns) + "\n"

    def csv_row(source, number, text, p):
        buffer = io.StringIO()
        # csv quotes a field holding "\n" (our line end) but not a lone "\r", which readers also end a row on.
        quoting = csv.QUOTE_ALL if "\r" in text else csv.QUOTE_MINIMAL
        row = [_label(p), _probability(p)] + ([text] if echo_text else [])
        csv.writer(buffer, lineterminator="\n", quoting=quoting).writerow(row)
        return buffer.getvalue()

    def jsonl(source, number, text, p):
        record = {
            "source": source,
            "line": number,
            "label": p.label,
            "probability": p.probability,
            "probabilities": p.probabilities,
            "tokens": p.tokens,
            "threshold": p.threshold,  # P(second label) at or above which it was chosen; null: the most probable
            "ood": p.ood,  # share of tokens rare in the model's TRAIN (domain.py)
        }
        if familiarity:  # predict --familiarity (familiarity.py); null for a review under 2 tokens
            record["familiarity"] = p.familiarity
        return json_line(record | ({"text": text} if echo_text else {}))

    return {"tsv": tsv, "csv": csv_row, "jsonl": jsonl}[output_format]


def json_line(record: dict) -> str:
    """One JSON object on one line: json escapes every line break inside a string."""
    return json.dumps(record, ensure_ascii=False) + "\n"


def _label(p) -> str:
    return "" if p.label is None else p.label


def _probability(p) -> str:
    return "" if p.probability is None else f"{p.probability:.4f}"
