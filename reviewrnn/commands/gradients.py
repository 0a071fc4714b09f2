"""`reviewrnn gradients`: how much loss gradient reaches each hidden state, trained and at initialisation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reviewrnn.commands.common import JsonOption, ThreadsOption, err, friendly_errors, out
from reviewrnn.commands.lab_options import PngOption, require_charts, show_table


@friendly_errors
def gradients(
    models: Annotated[list[Path], typer.Argument(help="Unidirectional model directories.")],
    reviews: Annotated[int, typer.Option(min=1, help="How many long TEST reviews in the batch.")] = 64,
    length: Annotated[
        int | None, typer.Option(min=2, help="Tokens per review (default: the model's max_tokens).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Picks the reviews and the initial weights.")] = 0,
    png: PngOption = None,
    threads: ThreadsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Norm of dLoss/dh_t against distance from the last token, for each model trained and freshly initialised.

    Reports the mean decay per step (exp of the slope of log-norm against distance) and the distance
    at which the gradient falls below 1e-3 of its value at the last token.

    \b
    Example: reviewrnn gradients models/rnn models/gru models/lstm --png g.png
    """
    from reviewrnn import runtime
    from reviewrnn.artifacts import require_model_directories
    from reviewrnn.lab.gradients import check_measurable, measure_model
    from reviewrnn.lab.tables import gradient_table

    require_model_directories(models)
    for model in models:  # every one before any is measured
        check_measurable(model)
    require_charts(png)
    runtime.set_threads(threads)
    flows = [flow.to_dict() for model in models for flow in measure_model(model, reviews, length, seed)]
    if png:
        from reviewrnn.lab.charts import gradient_chart

        err.print(f"saved {gradient_chart(flows, png)}")
    if as_json:
        out.print_json(json.dumps(flows))
        return
    show_table(gradient_table(flows))
