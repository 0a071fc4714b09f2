"""One row model for every lab table, drawn by two back ends: a rich Table for the terminal, markdown for REPORT.md.

A table is built once from the results (lab/tables.py); the back ends only draw, so the terminal
and the report cannot disagree about a number, a label or a column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.table import Table as RichTable
from rich.text import Text


@dataclass
class Cell:
    text: str
    detail: str = ""  # the terminal shows it dim on a second line; markdown in brackets after the text
    strong: bool = False  # bold in both back ends
    style: str = ""  # a rich style for the terminal only (e.g. "bold red"); markdown has none


@dataclass
class Column:
    name: str
    left: bool = False  # numbers are right-aligned, names left
    terminal: bool = True  # False: a detail only the report has room for


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[list[Cell]]
    footer: list[list[Cell]] = field(default_factory=list)  # summary rows under a rule (span, chance)
    notes: list[str] = field(default_factory=list)  # how to read the cells


def cell(value) -> Cell:
    return value if isinstance(value, Cell) else Cell(str(value))


def to_rich(table: Table) -> RichTable:
    shown = [index for index, column in enumerate(table.columns) if column.terminal]
    drawn = RichTable(title=table.title, title_justify="left")
    for index in shown:
        drawn.add_column(table.columns[index].name, justify="left" if table.columns[index].left else "right")
    for row in table.rows:
        drawn.add_row(*(_rich_cell(row[index]) for index in shown))
    if table.footer:
        drawn.add_section()
        for row in table.footer:
            drawn.add_row(*(_rich_cell(row[index]) for index in shown))
    return drawn


def _rich_cell(item: Cell) -> Text:
    text = Text(item.text, style=" ".join(filter(None, ("bold" if item.strong else "", item.style))))
    if item.detail:
        text.append(f"\n{item.detail}", style="dim")
    return text


def to_markdown(table: Table, title: bool = True) -> str:
    """A pipe table; the title as an italic line above it and the notes below it."""
    lines = [f"*{table.title}*", ""] if title and table.title else []
    lines += ["| " + " | ".join(_escape(column.name) for column in table.columns) + " |"]
    lines += ["|" + "|".join(":---" if column.left else "---:" for column in table.columns) + "|"]
    lines += ["| " + " | ".join(_markdown_cell(item) for item in row) + " |" for row in table.rows + table.footer]
    if table.notes:
        lines += ["", *table.notes]
    return "\n".join(lines)


def _markdown_cell(item: Cell) -> str:
    text = _escape(item.text)
    text = f"**{text}**" if item.strong and text else text
    return f"{text} ({_escape(item.detail)})" if item.detail else text


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
