"""A click group whose subcommands are imported on first use, so ``surrogate --help`` stays instant."""

from __future__ import annotations

import importlib
import traceback
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
            except OSError as exc:  # the file system said no: full disk, permissions, unreadable file
                raise UserFacingError(os_error_line(exc)) from None
            except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
                raise
            except Exception:
                traceback.print_exc()
                raise BugReport() from None


class BugReport(click.ClickException):
    """An error that is not the user's: the traceback above, and how to report it (exit code 1)."""

    exit_code = 1

    def __init__(self) -> None:
        super().__init__("this is a bug (in thermo-surrogate or in the plugin named in the traceback above), not "
                         "a mistake in your input; please report it with the command you ran and the traceback")


def os_error_line(exc: OSError) -> str:
    """'PATH: No space left on device' from any OSError, naming the file where the system names one."""
    where = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or str(exc) or exc.__class__.__name__
    return f"{where}: {reason}" if where else reason


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None,
                 line: str | None = None) -> None:
    """Warnings on the command line are one line on stderr, without the source line that raised them."""
    click.echo(f"warning: {message}", err=True)
