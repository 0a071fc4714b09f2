"""`reviewrnn probe filler|synthetic`: the memory-span probes, evidence at a known distance from the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from reviewrnn.commands.common import JsonOption, ThreadsOption, err, friendly_errors, out
from reviewrnn.commands.lab_options import PngOption, require_charts, show_table
from reviewrnn.config import CELLS
from reviewrnn.lab.settings import FILLER_DISTANCES, SYNTHETIC_DISTANCES, SyntheticSettings

probe = typer.Typer(
    help="Memory-span probes: how far back can a model still use the evidence?\n\n"
    "\b\nExamples: reviewrnn probe filler models/rnn models/lstm\n          reviewrnn probe synthetic --cell all",
    no_args_is_help=True,
)
S = SyntheticSettings


def parse_distances(value: str) -> tuple[int, ...]:
    try:
        distances = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: give increasing integers separated by commas, e.g. 0,16,64", param_hint="'--distances'"
        ) from None
    if distances[0] < 0 or any(b <= a for a, b in zip(distances, distances[1:])):
        raise typer.BadParameter(
            f"{value!r}: distances must be >= 0 and increase, e.g. 0,16,64", param_hint="'--distances'"
        )
    return distances


def _show(curves: list[dict], title: str, png: Path | None, as_json: bool) -> None:
    from reviewrnn.lab.tables import probe_table

    if png:
        from reviewrnn.lab.charts import probe_chart

        err.print(f"saved {probe_chart(curves, png, title)}")
    if as_json:
        out.print_json(json.dumps(curves))
        return
    show_table(probe_table(curves, title))


@probe.command()
@friendly_errors
def filler(
    models: Annotated[list[Path], typer.Argument(help="Model directories.")],
    distances: Annotated[str, typer.Option(help="Filler lengths d in tokens.")] = ",".join(map(str, FILLER_DISTANCES)),
    reviews: Annotated[int, typer.Option(min=2, help="Short TEST reviews to probe (balanced by class).")] = 400,
    short_max: Annotated[int, typer.Option(min=1, help="'Short' means at most this many tokens.")] = 100,
    seed: Annotated[int, typer.Option(help="Picks the reviews and the filler.")] = 0,
    png: PngOption = None,
    threads: ThreadsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Short reviews a model gets right, then d tokens of neutral sentences from the corpus: accuracy and memory by d.

    The filler is TRAIN sentences whose every token is about as frequent in each class as overall, so
    it is the same for every model; 'alone' shows how each model reads that filler by itself. A filler
    that pulls towards one class moves accuracy whatever the model remembers, so 'memory' counts the
    reviews whose log-odds of their class are higher with the review than with the filler alone. Span:
    the largest d up to which a column stays at or above 90%; chance: the first d whose 95% interval
    contains 50%.

    \b
    Example: reviewrnn probe filler models/rnn models/lstm --png probe.png
    """
    from reviewrnn import runtime
    from reviewrnn.artifacts import require_model_directories
    from reviewrnn.lab.probe import probe_with_filler

    require_model_directories(models)
    require_charts(png)
    runtime.set_threads(threads)
    grid = parse_distances(distances)
    curves = [probe_with_filler(model, grid, reviews, short_max, seed).to_dict() for model in models]
    _show(curves, "Filler probe: accuracy with d neutral tokens after the review", png, as_json)


@probe.command()
@friendly_errors
def synthetic(
    cell: Annotated[
        list[str], typer.Option(help="rnn, gru, lstm or all (repeatable; default: all).", show_default=False)
    ] = ["all"],  # noqa: B006 (typer reads the default, never mutates it)
    protocol: Annotated[
        Literal["per-distance", "mixed"],
        typer.Option(
            help="per-distance: a network per d (can it learn the gap?); mixed: one for all d (can it hold?)."
        ),
    ] = "per-distance",
    distances: Annotated[str, typer.Option(help="Distances d.")] = ",".join(map(str, SYNTHETIC_DISTANCES)),
    train_size: Annotated[int, typer.Option(min=10, help="Training sequences per network.")] = S.train_size,
    epochs: Annotated[int, typer.Option(min=1, help="Training passes per cell and distance.")] = S.epochs,
    hidden: Annotated[int, typer.Option(min=1, help="Hidden state size of every cell.")] = S.hidden,
    seed: Annotated[int, typer.Option(help="Picks the sequences and the initial weights.")] = S.seed,
    png: PngOption = None,
    threads: ThreadsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Random neutral tokens with one polarity token d steps before the end, trained from scratch per cell.

    Every cell gets the same sequences, sizes, epochs and seed. The memory span is the largest d up to
    which accuracy stays at or above 90%.

    \b
    Example: reviewrnn probe synthetic --cell rnn --cell lstm --distances 0,4,16
    """
    from reviewrnn import runtime
    from reviewrnn.lab.probe import probe_synthetic

    require_charts(png)
    runtime.set_threads(threads)
    cells = list(CELLS) if "all" in cell else cell
    unknown = [name for name in cells if name not in CELLS]
    if unknown:
        raise typer.BadParameter(f"{unknown[0]!r}: use rnn, gru, lstm or all", param_hint="'--cell'")
    settings = SyntheticSettings(
        distances=parse_distances(distances),
        train_size=train_size,
        epochs=epochs,
        hidden=hidden,
        seed=seed,
    )
    curves = []
    for name in cells:
        err.print(f"training {name} ({protocol})…", style="dim")
        curves.append(probe_synthetic(name, settings, protocol).to_dict())
    _show(curves, f"Synthetic probe ({protocol}): accuracy by distance of the polarity token", png, as_json)
