"""What every command shares: the two consoles, one-line error handling, the corpus options."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, ConsoleDimensions
from rich.text import Text

# Typer (0.28, as pinned) carries its own copy of click: `import click` would see other classes and contexts.
from typer._click.exceptions import ClickException, UsageError
from typer._click.globals import get_current_context

from reviewrnn.config import Device
from reviewrnn.errors import ReviewRNNError


class StdoutGone(BrokenPipeError):
    """The reader of stdout has gone: only this broken pipe is a quiet exit 0, not one of stderr or a FIFO."""


class _StdoutConsole(Console):
    """rich exits 1 when the reader of stdout has gone; a Unix tool in a pipeline (`| head -1`) exits 0.
    Raising StdoutGone lets friendly_errors stop every command the same way.

    Into a file or a pipe, tables keep their natural width (up to UNWRAPPED_WIDTH), one row per line: rich
    would wrap them at 80 columns there (or at the width of a terminal on stdin), so a log of the lab's wide
    tables was hard to read and differed with the terminal that started it. COLUMNS, when set, still rules."""

    UNWRAPPED_WIDTH = 1000

    @property
    def size(self) -> ConsoleDimensions:
        dimensions = super().size
        if self._width is None and not self.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
            return ConsoleDimensions(self.UNWRAPPED_WIDTH, dimensions.height)
        return dimensions

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise StdoutGone


# No markup: paths, label names and error text come from the user, and "[x]" in them is text, not a style.
out = _StdoutConsole(soft_wrap=True, highlight=False, markup=False)
err = Console(stderr=True, soft_wrap=True, highlight=False, markup=False)
DEBUG_ENV = "REVIEWRNN_DEBUG"

CorpusOption = Annotated[str, typer.Option("--corpus", help="'imdb', a CSV/TSV/JSONL/Parquet file, or hub:DATASET_ID.")]
TextColumnOption = Annotated[str | None, typer.Option(help="Text column (default: text or review).")]
LabelColumnOption = Annotated[str | None, typer.Option(help="Label column (default: label or sentiment).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
DeviceOption = Annotated[Device, typer.Option(help="auto: cuda when there is one, else cpu.")]
ThreadsOption = Annotated[int | None, typer.Option(min=1, help="CPU threads (default: all cores).")]
TrainingThreadsOption = Annotated[  # training moves off cores that other work is using, unless told a count
    int | None, typer.Option(min=1, help="CPU threads, kept fixed (default: all cores, fewer while others are busy).")
]
LabelMapOption = Annotated[
    str | None,
    typer.Option(
        help='Classes from ratings, e.g. "1,2=negative 4,5=positive" or "1-2=negative 4-5=positive"; '
        "values it does not map are dropped and counted."
    ),
]


def debug_enabled() -> bool:
    context = get_current_context(silent=True)
    flag = bool(context and context.find_root().obj and context.find_root().obj.get("debug"))
    return flag or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def fail(message: str, code: int = 1, label: str = "error") -> typer.Exit:
    style = "bold red" if label == "error" else "bold yellow"
    err.print(Text.assemble((f"{label}: ", style), message))
    return typer.Exit(code)


def reader_gone() -> typer.Exit:
    """Whoever read stdout (`| head -1`, say) has gone: stop quietly with exit 0, as Unix tools do."""
    silence_stdout()
    return typer.Exit(0)


def silence_stdout() -> None:
    """Stdout to /dev/null after a failed write, so that Python's flush at exit cannot fail a second time."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, sys.stdout.fileno())
    finally:
        os.close(null)


def conflict(message: str) -> UsageError:
    """A usage error about options given together, worded by the message alone (no "Invalid value for")."""
    return UsageError(message)


def friendly_errors(command):
    """Turn known failures into one line on stderr and their exit code (1); --debug shows the traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, ClickException):  # usage errors (exit 2) go to the parser
            raise
        except StdoutGone:
            raise reader_gone() from None
        except ReviewRNNError as error:
            if debug_enabled():
                raise
            raise fail(str(error), error.exit_code, error.label) from None
        except KeyboardInterrupt as error:
            code = getattr(error, "exit_code", 130)  # interrupts.StopNow after a second SIGTERM: 143
            raise fail("stopped by Ctrl-C" if code == 130 else "stopped by SIGTERM", code, "interrupted") from None
        except Exception as error:
            if debug_enabled():
                raise
            raise fail(f"unexpected {type(error).__name__}: {error} (rerun with --debug for the traceback)") from None

    return wrapper


def model_name(value: str | None) -> str | None:
    """--name's check. A name that starts with '-' is a flag typed where the name should be (`--name --debug`
    would train a model called `--debug`); a path would leave models/, where --force replaces what is there."""
    if value is None:
        return value
    if value.startswith("-") or not value.strip():
        raise typer.BadParameter(f"{value!r} is not a model name; give one after --name, e.g. --name gru-imdb")
    if Path(value).name != value or value in (".", ".."):
        raise typer.BadParameter(f"{value!r} is a path; --name takes a name under models/, --out takes a path")
    return value


def output_path(value: Path | None) -> Path | None:
    """--out's check: a path that starts with '-' is a flag typed where the path should be (`--out --debug`)."""
    if value is not None and str(value).startswith("-"):
        raise typer.BadParameter(f"{str(value)!r} looks like a flag; give a directory after --out")
    return value


def given(context: typer.Context, name: str) -> bool:
    """True when the user typed --NAME (so it overrides a preset or a language model), not when it is the default."""
    source = context.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def check_resume_flags(context: typer.Context) -> None:
    """A resumed run keeps its own settings; a flag that would be ignored is an error instead."""
    for name in context.params:
        if name not in ("resume", "epochs", "threads", "as_json") and given(context, name):
            raise typer.BadParameter(
                "a resumed run keeps its own settings; only --epochs (to train it further), --threads and "
                f"--json go with it, not {typed_flag(context, name)}",
                param_hint="'--resume'",
            )


def typed_flag(context: typer.Context, name: str) -> str:
    """The flag as the user typed it: --no-calibrate for a switch turned off, not --calibrate."""
    for param in context.command.params:
        if param.name == name:
            off = getattr(param, "secondary_opts", None) and context.params[name] is False
            return (param.secondary_opts if off else param.opts)[0]
    return f"--{name.replace('_', '-')}"


def adopt_language_model(context: typer.Context, init: Path, configs):
    """The LM of `--init` (train's and pretrain's): its shape and tokenizer settings go into the (model, train,
    tokenizer) configs, and a shape flag the user typed that differs from it is a one-line error."""
    from reviewrnn.transfer import SHAPE_FIELDS, adopt, open_pretrained

    lm = open_pretrained(init)
    adopt(lm, configs[0], configs[2], {name for name in (*SHAPE_FIELDS, "vocab_size") if given(context, name)})
    return lm


def label_map_option(text: str | None):
    """--label-map as a labelmap.LabelMap; a malformed map is a usage error (exit 2) naming the flag."""
    from reviewrnn.labelmap import LabelMap, LabelMapError

    if text is None:
        return None
    try:
        parsed = LabelMap.parse(text)
        parsed.check_spelling()
        return parsed
    except LabelMapError as error:
        raise typer.BadParameter(str(error).removeprefix("--label-map "), param_hint="'--label-map'") from None


def process_settings(threads: int | None) -> None:
    """Process-wide settings, made here at the command's entry and never by the library: torch's
    thread count, and glibc keeping freed tensor memory for reuse (runtime.keep_freed_memory)."""
    from reviewrnn import runtime

    runtime.set_threads(threads)
    runtime.keep_freed_memory()


def parse_edges(value: str) -> tuple[int, ...]:
    try:
        edges = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: give increasing integers separated by commas, e.g. 0,64,128,256", param_hint="'--edges'"
        ) from None
    if not edges or edges[0] != 0 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise typer.BadParameter(
            f"{value!r}: edges must start at 0 and increase, e.g. 0,64,128,256", param_hint="'--edges'"
        )
    return edges


def note_stopped_early(outcome, measure: str) -> None:
    """train's and pretrain's note when --patience ended the run before --epochs (the epoch table alone was mute)."""
    if outcome.stopped_early:
        from reviewrnn.messages import stopped_early

        train = outcome.config.train
        err.print(f"note: {stopped_early(outcome.best_epoch, train.patience, train.epochs, measure)}")
