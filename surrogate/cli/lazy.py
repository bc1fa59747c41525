"""A click group whose subcommands are imported on first use, so ``surrogate --help`` stays instant."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import click

from ..errors import UserError


class UserFacingError(click.ClickException):
    """A one-line 'Error: ...' and exit code 2, no traceback."""

    exit_code = 2


class LazyGroup(click.Group):
    """Subcommands given as {name: ("module:attribute", "short help")}; loaded only when invoked."""

    def __init__(self, *args: Any, lazy_commands: dict[str, tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy_commands:
            target, short_help = self.lazy_commands[name]
            module_name, attribute = target.split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            command.short_help = command.short_help or short_help
            return command
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List lazy commands from their short help strings without importing them."""
        rows = [(name, self.lazy_commands[name][1]) for name in sorted(self.lazy_commands)]
        rows += [(name, cmd.get_short_help_str()) for name, cmd in sorted(self.commands.items())]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(sorted(rows))

    def invoke(self, ctx: click.Context) -> Any:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            try:
                return super().invoke(ctx)
            except UserError as exc:
                raise UserFacingError(str(exc)) from None


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
                 line: str | None = None) -> None:
    """Warnings on the command line are one line on stderr, without the source line that raised them."""
    click.echo(f"warning: {message}", err=True)
