"""Usage errors as one line, like every other error: `error: MESSAGE (see `reviewrnn CMD -h`)`, exit 2.

Typer draws a usage error as a usage line, a hint and a boxed panel: five lines on stderr that a
script's log or `2>err.txt | head -1` cuts apart. The group below parses in click's non-standalone
mode and prints the same message on one line instead. `--debug` given after the command name
(where people type it, after the error) is moved in front of it, where the root command reads it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rich.text import Text
from typer import Abort
from typer._click.exceptions import ClickException, UsageError
from typer.core import TyperGroup

from reviewrnn.commands.common import err

DEBUG_FLAG = "--debug"


def debug_first(args: Sequence[str]) -> list[str]:
    """Move --debug, anywhere before a `--` separator, to the front (the root command's option)."""
    args = list(args)
    options = args[: args.index("--")] if "--" in args else args
    if DEBUG_FLAG not in options[1:]:
        return args
    return [DEBUG_FLAG] + [arg for i, arg in enumerate(args) if not (arg == DEBUG_FLAG and i < len(options))]


def one_line(error: UsageError, fallback_path: str) -> str:
    """The message and where help is, without the usage line and the box.

    Errors the option parser raises before a command's context exists (`--epochs` with no value)
    carry no context, so `fallback_path` (the command named on the command line) stands in.
    """
    message = " ".join(error.format_message().split()).rstrip(".")
    path = error.ctx.command_path if error.ctx is not None else fallback_path
    return f"{message} (see `{path} -h`)"


def command_path(group: TyperGroup, args: list[str]) -> str:
    """'reviewrnn CMD' for the first argument that names one of the group's commands, else 'reviewrnn'."""
    named = next((arg for arg in args if not arg.startswith("-")), None)
    return f"{group.name} {named}" if named in group.commands else str(group.name)


class OneLineErrors(TyperGroup):
    """The app's root group: parsing as Typer does, usage errors printed as one line."""

    def main(self, args: Sequence[str] | None = None, *main_args, standalone_mode: bool = True, **extra):
        args = debug_first(sys.argv[1:] if args is None else args)
        if not standalone_mode:
            return super().main(args, *main_args, standalone_mode=False, **extra)
        try:
            result = super().main(args, *main_args, standalone_mode=False, **extra)
        except UsageError as error:
            if type(error).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
                err.print(Text.assemble(("error: ", "bold red"), one_line(error, command_path(self, args))))
            sys.exit(error.exit_code)
        except ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except Abort:
            err.print("Aborted!")
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)
