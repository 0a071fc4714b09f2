"""`reviewrnn compare`: accuracy by length for several models side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reviewrnn.commands.common import DeviceOption, JsonOption, ThreadsOption, err, friendly_errors, out, parse_edges
from reviewrnn.commands.lab_options import PngOption, require_charts, show_table
from reviewrnn.config import DEFAULT_LENGTH_EDGES


@friendly_errors
def compare(
    models: Annotated[list[Path], typer.Argument(help="Model directories, e.g. models/rnn models/gru models/lstm.")],
    edges: Annotated[
        str, typer.Option(help="Length bucket edges in tokens; each model's max_tokens is added as a cut.")
    ] = ",".join(map(str, DEFAULT_LENGTH_EDGES)),
    png: PngOption = None,
    device: DeviceOption = "auto",
    threads: ThreadsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Test accuracy by review length for several models side by side, with counts and 95% intervals.

    Buckets are split at each model's max_tokens: ✂ marks buckets of reviews the model saw only in
    part, so the 'read whole' gap measures memory without truncation. MODEL/eval.json is reused when
    it has these buckets; otherwise the model is evaluated on TEST (which rewrites eval.json).

    \b
    Example: reviewrnn compare models/rnn models/gru models/lstm --png len.png
    """
    from reviewrnn.artifacts import require_model_directories
    from reviewrnn.lab.compare import compare_models
    from reviewrnn.lab.tables import gap_table, length_table

    require_model_directories(models)
    require_charts(png)
    results = [result.to_dict() for result in compare_models(models, parse_edges(edges), device, threads)]
    for warning in (warning for result in results for warning in result["warnings"]):
        err.print(f"warning: {warning}")
    if png:
        from reviewrnn.lab.charts import length_chart

        err.print(f"saved {length_chart(results, png)}")
    if as_json:
        out.print_json(json.dumps(results))
        return
    show_table(length_table(results))
    show_table(gap_table(results))
