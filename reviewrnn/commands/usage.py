"""Usage errors as one line, like every other error: `error: MESSAGE (see `reviewrnn CMD -h`)`, exit 2.

click prints a usage error as a usage line, a hint, a blank line and the message (Typer's rich mode
draws a boxed panel instead): lines on stderr that a script's log or `2>err.txt | head -1` cuts
apart. The group below parses in click's non-standalone mode and prints the same message on one
line instead. `--debug` given after the command name (where people type it, after the error) is
moved in front of it, where the root command reads it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from rich.text import Text
from typer import Abort
from typer._click.core import Command, Context
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup, TyperOption

from reviewrnn.commands.common import err
from reviewrnn.commands.plain_help import PlainHelpGroup

DEBUG_FLAG = "--debug"


def debug_first(args: Sequence[str], group: TyperGroup) -> list[str]:
    """Move --debug to the front (the root command's option), unless it is an option's value or after `--`.

    In `--name --debug` it is --name's value (which --name then refuses): value-taking options are looked up
    in `group`.
    """
    args = list(args)
    end = args.index("--") if "--" in args else len(args)
    command, kept, found, is_value = group, [], False, False
    for index, arg in enumerate(args):
        if index >= end or is_value:
            kept.append(arg)
            is_value = False
        elif arg == DEBUG_FLAG:
            found = True
        else:
            kept.append(arg)
            if arg.startswith("-"):
                is_value = "=" not in arg and arg in value_options(command)
            elif isinstance(command, TyperGroup) and arg in command.commands:
                command = command.commands[arg]
    return [DEBUG_FLAG, *kept] if found else args


def value_options(command: Command) -> set[str]:
    """The option strings of `command` that read the next argument as their value."""
    options = (param for param in command.params if isinstance(param, TyperOption))
    return {name for option in options if not (option.is_flag or option.count) for name in option.opts}


PLAIN_TYPE_NAMES = {"int range": "a whole number", "integer": "a whole number", "float range": "a number"}
PLAIN_TYPE_NAMES |= {"float": "a number"}


def one_line(error: UsageError, fallback_path: str) -> str:
    """The message and where help is, without the usage line and the hint.

    Errors the option parser raises before a command's context exists (`--epochs` with no value)
    carry no context, so `fallback_path` (the command named on the command line) stands in.
    """
    message = " ".join(error.format_message().split()).rstrip(".")
    for parser_word, plain in PLAIN_TYPE_NAMES.items():  # click says "not a valid int range" for `--epochs two`
        message = message.replace(f"is not a valid {parser_word}", f"is not {plain}")
    path = error.ctx.command_path if error.ctx is not None else fallback_path
    return f"{message} (see `{path} -h`)"


def command_path(group: TyperGroup, args: list[str]) -> str:
    """'reviewrnn CMD' for the first argument that names one of the group's commands, else 'reviewrnn'."""
    named = next((arg for arg in args if not arg.startswith("-")), None)
    return f"{group.name} {named}" if named in group.commands else str(group.name)


class OneLineErrors(PlainHelpGroup):
    """The app's root group: parsing as Typer does, usage errors printed as one line."""

    def invoke(self, ctx: Context) -> None:
        # click's standalone mode ignores what a command returns; main() below keeps that, and reads
        # only the code of a typer.Exit (which click's non-standalone main returns) as the exit code.
        super().invoke(ctx)

    def main(self, args: Sequence[str] | None = None, *main_args, standalone_mode: bool = True, **extra):
        args = debug_first(sys.argv[1:] if args is None else args, self)
        if not standalone_mode:
            return super().main(args, *main_args, standalone_mode=False, **extra)
        try:
            result = super().main(args, *main_args, standalone_mode=False, **extra)
        except UsageError as error:
            if isinstance(error, NoArgsIsHelpError):  # `reviewrnn`, `reviewrnn probe`: the help, on stdout
                typer.echo(error.format_message())
            else:
                err.print(Text.assemble(("error: ", "bold red"), one_line(error, command_path(self, args))))
            sys.exit(error.exit_code)
        except ClickException as error:  # click's "Error: ..." in the form of every other error
            err.print(Text.assemble(("error: ", "bold red"), error.format_message()))
            sys.exit(error.exit_code)
        except Abort:
            err.print("Aborted!")
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)
