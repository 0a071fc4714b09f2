"""What the lab commands (compare, probe, gradients, clipping, study) share: options, the chart checks (evaluate's
too), tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

PLOTS_HINT = "needs matplotlib, the plots extra: .venv/bin/pip install -e '.[plots]' in a clone"
PngOption = Annotated[Path | None, typer.Option("--png", help=f"Also draw a PNG chart here ({PLOTS_HINT}).")]


# Image files matplotlib writes by itself: not pgf (it needs LaTeX, and failed after the work), raw or rgba.
CHART_TYPES = {"png", "svg", "svgz", "pdf", "eps", "ps", "jpg", "jpeg", "webp", "tif", "tiff", "gif", "avif"}


def require_charts(png: Path | None) -> None:
    """Fail before any long computation when a PNG is asked for and matplotlib is missing or cannot
    write that kind of file."""
    if png is not None:
        from reviewrnn.lab.charts import pyplot

        pyplot()
        check_chart_type(png)


def check_chart_type(png: Path) -> None:
    """A usage error for a file type matplotlib cannot write (it failed only after the work was done),
    or for a name without one (matplotlib would write NAME.png, not the file we name)."""
    from matplotlib.backend_bases import FigureCanvasBase

    if Path(png).is_dir():
        hint = repr(str(Path(png) / "chart.png"))
        raise typer.BadParameter(f"{str(png)!r} is a folder; give a file name, e.g. {hint}", param_hint="'--png'")
    kind = Path(png).suffix.lower().removeprefix(".")
    if kind not in CHART_TYPES & set(FigureCanvasBase.get_supported_filetypes()):
        what = f"'.{kind}' files" if kind else "a file without a type"
        raise typer.BadParameter(
            f"{str(png)!r}: matplotlib cannot write {what}; end the name with .png, .svg or .pdf", param_hint="'--png'"
        )


def show_table(table) -> None:
    """A lab table (lab/rows.py) on stdout, its notes dim on stderr."""
    from reviewrnn.commands.common import err, out
    from reviewrnn.lab.rows import to_rich

    out.print(to_rich(table))
    for note in table.notes:
        err.print(note, style="dim")
