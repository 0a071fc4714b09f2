"""The `reviewrnn` command line: parse, call the library, render. Nothing else lives here.

Commands import their heavy dependencies lazily, so `reviewrnn --help` and `reviewrnn predict`
never pay for torch or datasets.
"""

from __future__ import annotations

from typing import Annotated

import typer

from reviewrnn import __version__
from reviewrnn.commands.clipping import clipping
from reviewrnn.commands.compare import compare
from reviewrnn.commands.corpus import corpus, tokenize
from reviewrnn.commands.evaluate import evaluate
from reviewrnn.commands.gradients import gradients
from reviewrnn.commands.plain_help import plain_help
from reviewrnn.commands.predict import predict
from reviewrnn.commands.pretrain import pretrain
from reviewrnn.commands.probe import probe
from reviewrnn.commands.study import study
from reviewrnn.commands.train import train
from reviewrnn.commands.usage import OneLineErrors

app = typer.Typer(
    name="reviewrnn",
    cls=OneLineErrors,
    help="Recurrent-network sentiment classifier for reviews: train, evaluate by length, predict in pipelines.\n\n"
    "\b\nExample: reviewrnn train && cat reviews.txt | reviewrnn predict - > labels.tsv\n\n"
    "Models are saved under models/ in the current directory, or under $REVIEWRNN_MODELS when it is not "
    "empty; $REVIEWRNN_MODEL names predict's default model.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"reviewrnn {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    context: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    context.obj = {"debug": debug}


for command in (corpus, tokenize, pretrain, train, evaluate, predict, compare, gradients, clipping, study):
    app.command()(command)
app.add_typer(probe, name="probe")
plain_help(app)


def main() -> None:
    app()
