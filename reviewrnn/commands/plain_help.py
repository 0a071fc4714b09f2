"""--help that reads like click's: flags without a metavar, then TEXT, INTEGER, PATH, [a|b].

Typer 0.29 (its own click copy) shows Python types instead: `<bool>` on every flag, `<list[Path]>`, `<int range>`.
`plain_help(app)` gives every command of an app, sub-apps included, click's names, in one place.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePath

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import DefaultPlaceholder

CLICK_NAMES = {str: "TEXT", int: "INTEGER", float: "FLOAT", bool: "BOOLEAN"}


def click_type_name(param) -> str:
    """What click calls the parameter's type: TEXT, INTEGER RANGE, PATH, [tsv|csv]; a list shows its element."""
    descriptor = param.type_descriptor
    if descriptor.is_choice:
        return "[" + "|".join(str(getattr(choice, "value", choice)) for choice in descriptor.choices) + "]"
    annotation = descriptor.annotation
    if descriptor.is_list or descriptor.is_tuple:
        annotation = annotation.__args__[0]
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        name = descriptor.path_type.upper() if descriptor.is_path else "PATH"
    elif annotation is datetime:
        name = "[" + "|".join(descriptor.parameter_info.formats or ["%Y-%m-%d"]) + "]"
    else:
        name = CLICK_NAMES.get(annotation) or getattr(annotation, "__name__", str(annotation)).upper()
    return f"{name} RANGE" if descriptor.is_ranged else name


class PlainOption(TyperOption):
    def display_type_rich(self, ctx) -> str | None:
        return None if self.is_flag or self.count else super().display_type_rich(ctx)

    def display_type(self, ctx) -> str:
        return click_type_name(self)


class PlainArgument(TyperArgument):
    def display_type(self, ctx) -> str:
        return click_type_name(self)


PLAIN = {TyperOption: PlainOption, TyperArgument: PlainArgument}


def plain_params(params: list) -> list:
    # Typer builds its own parameter classes (and --help lazily): re-class them as they are asked for.
    for param in params:
        param.__class__ = PLAIN.get(type(param), type(param))
    return params


class PlainHelpCommand(TyperCommand):
    def get_params(self, ctx) -> list:
        return plain_params(super().get_params(ctx))


class PlainHelpGroup(TyperGroup):
    def get_params(self, ctx) -> list:
        return plain_params(super().get_params(ctx))


def plain_help(app: typer.Typer) -> typer.Typer:
    """Every command and group registered on `app` and its sub-apps, unless given a class, gets plain help."""
    if isinstance(app.info.cls, DefaultPlaceholder) or app.info.cls is None:
        app.info.cls = PlainHelpGroup
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):  # app.command() records TyperCommand when given no class
            command.cls = PlainHelpCommand
    for group in app.registered_groups:
        plain_help(group.typer_instance)
    return app
