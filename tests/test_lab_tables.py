"""rows/tables: one table, two back ends that draw the same cells; the tables' labels."""

from __future__ import annotations

import io

from rich.console import Console

from reviewrnn.lab import tables
from reviewrnn.lab.rows import Cell, Column, Table, to_markdown, to_rich


def drawn(table: Table, width: int = 200) -> str:
    console = Console(width=width, file=io.StringIO())
    console.print(to_rich(table))
    return console.file.getvalue()


def test_both_back_ends_draw_the_same_cells():
    table = Table(
        "title",
        [Column("name", left=True), Column("value"), Column("wide", terminal=False)],
        [[Cell("a|b"), Cell("1.0%", "0.5%–2.0%", strong=True), Cell("x")]],
        footer=[[Cell("span"), Cell("16"), Cell("-")]],
        notes=["a note"],
    )
    markdown = to_markdown(table)
    assert markdown.splitlines() == [
        "*title*",
        "",
        "| name | value | wide |",
        "|:---|---:|---:|",
        "| a\\|b | **1.0%** (0.5%–2.0%) | x |",
        "| span | 16 | - |",
        "",
        "a note",
    ]
    terminal = drawn(table)
    assert "title" in terminal and "a|b" in terminal and "0.5%–2.0%" in terminal and "span" in terminal
    assert "wide" not in terminal and "a note" not in terminal  # notes go to stderr, wide columns to the report


def test_length_table_leaves_out_empty_buckets_and_marks_cut_ones():
    def row(low, high, count, cut):
        return {"low": low, "high": high, "count": count, "accuracy": 0.5, "ci_low": 0.4, "ci_high": 0.6, "cut": cut}

    model = {"name": "m", "rows": [row(0, 8, 10, False), row(8, 16, 0, False), row(16, None, 4, True)]}
    table = tables.length_table([model])
    assert [[c.text for c in r] for r in table.rows] == [["0-7", "50.0%"], ["16+", "50.0% ✂"]]
    assert table.rows[1][1].detail == "40.0%–60.0% · n=4"
