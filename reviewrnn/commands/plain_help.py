"""--help that reads like click's: flags without a metavar, then TEXT, INTEGER, PATH, [a|b], and `TEXTS...`.

Typer 0.28 (its own click copy) shows Python's names instead: `<str>`, `<int range>`, `<path>`, `<tsv|csv>`, and
names a variadic argument without its `...`; click cuts a group's command descriptions to one line. `plain_help(app)`
gives every command of an app, sub-apps included, click's names and whole first sentences, in one place.
"""

from __future__ import annotations

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import DefaultPlaceholder

CLICK_NAMES = {"str": "TEXT", "int": "INTEGER", "int range": "INTEGER RANGE", "float range": "FLOAT RANGE"}


def click_type_name(param, ctx) -> str:
    """What click calls the parameter's type: TEXT, INTEGER RANGE, PATH, [tsv|csv]; a list shows its element."""
    metavar = param.type.get_metavar(param=param, ctx=ctx)
    if metavar:  # choices and dates, which typer writes <a|b> and click [a|b]
        return f"[{metavar.removeprefix('<').removesuffix('>')}]"
    return CLICK_NAMES.get(param.type.name, param.type.name.upper())


class PlainOption(TyperOption):
    def make_metavar(self, ctx) -> str:
        # Help shows this after the option's names; click shows nothing after a flag or a counter.
        if self.is_flag or self.count:
            return ""
        return self.metavar or click_type_name(self, ctx)


class PlainArgument(TyperArgument):
    """An argument as click names it: upper case, `[TEXTS]...` when optional and `MODELS...` when required in
    usage lines, `TEXTS...` in the Arguments section, and "Missing argument 'MODELS'" in errors."""

    def become_plain(self) -> None:
        self.declared_metavar = self.metavar
        if self.metavar is None and self.nargs != 1:
            self.metavar = f"{self.human_readable_name}..."

    @property
    def human_readable_name(self) -> str:
        return self.declared_metavar or self.name.upper()

    def make_metavar(self, ctx, *, usage: bool = False) -> str:
        name = self.human_readable_name
        if usage and not self.required:
            name = f"[{name}]"
        return f"{name}..." if self.nargs != 1 else name


def plain_params(params: list) -> list:
    # Typer builds its own parameter classes: re-class them (once each) as they are asked for.
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = PlainOption
        elif type(param) is TyperArgument:
            param.__class__ = PlainArgument
            param.become_plain()
    return params


# A group's command list shows each command's first sentence, wrapped; click cuts it to fit one line.
WHOLE_SENTENCE = 1000


class PlainHelpCommand(TyperCommand):
    def get_params(self, ctx) -> list:
        return plain_params(super().get_params(ctx))

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(WHOLE_SENTENCE)


class PlainHelpGroup(TyperGroup):
    def get_params(self, ctx) -> list:
        return plain_params(super().get_params(ctx))

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(WHOLE_SENTENCE)


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
