"""What the lab commands (compare, probe, gradients, clipping, study) share: options, the chart check, tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

PLOTS_HINT = "needs matplotlib, the plots extra: .venv/bin/pip install -e '.[plots]' in a clone"
PngOption = Annotated[Path | None, typer.Option("--png", help=f"Also draw a PNG chart here ({PLOTS_HINT}).")]


def require_charts(png: Path | None) -> None:
    """Fail before any long computation when a PNG is asked for and matplotlib is missing."""
    if png is not None:
        from reviewrnn.lab.charts import pyplot

        pyplot()


def show_table(table) -> None:
    """A lab table (lab/rows.py) on stdout, its notes dim on stderr."""
    from reviewrnn.commands.common import err, out
    from reviewrnn.lab.rows import to_rich

    out.print(to_rich(table))
    for note in table.notes:
        err.print(note, style="dim")
