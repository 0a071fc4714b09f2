"""`reviewrnn clipping`: runs that differ in --clip-norm, side by side, from their training history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reviewrnn.commands.common import JsonOption, err, friendly_errors, out
from reviewrnn.commands.lab_options import PngOption, require_charts, show_table


@friendly_errors
def clipping(
    models: Annotated[list[Path], typer.Argument(help="Model directories of runs to set side by side.")],
    png: PngOption = None,
    as_json: JsonOption = False,
) -> None:
    """Loss and pre-clip gradient norm per step, spikes and outcome for runs with and without clipping.

    Reads each model's history.json (and eval.json for the TEST accuracy, when present).

    \b
    Example:
      reviewrnn train --cell rnn --clip-norm 0 --seed 1 --name rnn-noclip
      reviewrnn train --cell rnn --clip-norm 1 --seed 1 --name rnn-clip1
      reviewrnn clipping models/rnn-noclip models/rnn-clip1 --png clipping.png
    """
    from reviewrnn.artifacts import require_model_directories
    from reviewrnn.lab.clipping import run_from_model
    from reviewrnn.lab.tables import clipping_table

    require_model_directories(models)
    require_charts(png)
    runs = [run_from_model(model).to_dict() for model in models]
    if png:
        from reviewrnn.lab.charts import clipping_chart

        err.print(f"saved {clipping_chart(runs, png)}")
    if as_json:
        out.print_json(json.dumps(runs))
        return
    show_table(clipping_table(runs))
