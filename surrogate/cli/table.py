"""``surrogate table``: build a table with any installed table plugin, print its summary, plot it.

``surrogate table build KIND -o TABLE.h5 [--OPTION VALUE ...] [--set key=value ...]``: one subcommand per
plugin of the ``surrogate.tables`` entry-point group, with one ``--option`` per plugin option (underscores
become dashes); ``--set key=value`` sets the same options generically.
"""

from __future__ import annotations

from typing import Any

import click

from .. import registry
from ..errors import UserError


def _echo_lines(lines: list[tuple[str, str]]) -> None:
    width = max((len(label) for label, _ in lines), default=0)
    for label, value in lines:
        click.echo(f"{label:<{width}}  {value}")


def _build_command(kind: str) -> click.Command:
    """A click command for one table plugin, its options generated from the plugin's Option list."""
    plugin = registry.load("tables", kind)

    def run(output: str, settings: tuple[str, ...], **cli_options: Any) -> None:
        from ..options import parse_key_values

        given = {name: value for name, value in cli_options.items() if value is not None}
        given.update(parse_key_values(settings, "--set"))
        report = plugin.build(output, **given)
        click.echo(f"wrote {report.path}: {report.n_flamelets} flamelets, {report.n_rows} rows "
                   f"in {report.seconds:.1f} s" + (f" (resumed {report.resumed} flamelets)" if report.resumed else ""))
        for chi in report.extinction_chi_st:
            click.echo(f"extinction chi_st = {chi:.4g} 1/s")
        if report.failures:
            click.echo(f"{len(report.failures)} solve(s) did not converge and were skipped (the last ones end "
                       "the unstable branch, as far as it converges):", err=True)
            for failure in report.failures:
                click.echo(f"  {failure}", err=True)

    params: list[click.Parameter] = [
        click.Option(["-o", "--output"], required=True, type=click.Path(dir_okay=False), help="Table file to write."),
        click.Option(["settings", "--set"], multiple=True, metavar="KEY=VALUE",
                     help="Set any option by name (same as the --option form)."),
    ]
    for option in registry.plugin_options(plugin):
        default = option.default
        if isinstance(default, dict):
            default = ",".join(f"{k}:{v:g}" for k, v in default.items())
        elif isinstance(default, (list, tuple)):
            default = ",".join(f"{v:g}" for v in default)
        params.append(click.Option(
            [f"--{option.name.replace('_', '-')}", option.name], default=None, metavar=option.type_name.upper(),
            help=f"{option.help} [default: {default}]",
        ))
    return click.Command(kind, callback=run, params=params, help=getattr(plugin, "description", ""),
                         short_help=getattr(plugin, "description", ""))


class KindGroup(click.Group):
    """Subcommands are the installed table plugins, built on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(registry.available("tables"))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return _build_command(name)


@click.group()
def table() -> None:
    """Build, inspect and plot thermochemical tables."""


@table.group(cls=KindGroup)
def build() -> None:
    """Build a table: surrogate table build KIND -o TABLE.h5 [--option value ...]; resumes if interrupted."""


@table.command()
@click.argument("path", type=click.Path(dir_okay=False))
def info(path: str) -> None:
    """Summary of a table: kind, size, input ranges, outputs, provenance and the plugin's own numbers."""
    from ..table_summary import summarize

    lines = summarize(path)
    kind = dict(lines)["kind"]
    plugin = registry.load("tables", kind) if kind in registry.available("tables") else None
    if plugin is not None and hasattr(plugin, "summary"):
        lines += plugin.summary(path)
    _echo_lines(lines)


@table.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for the PNG files.")
def plot(path: str, out_dir: str) -> None:
    """Figures of a table as PNG (for flamelet tables: the S-curve, profiles, the structured table)."""
    from ..table import Table

    kind = Table(path).kind
    plugin = registry.load("tables", kind) if kind in registry.available("tables") else None
    if plugin is None or not hasattr(plugin, "plot"):
        raise UserError(f"{path}: no plots for table kind {kind!r}")
    try:
        made = plugin.plot(path, out_dir)
    except OSError as exc:
        raise UserError(f"{out_dir}: cannot write plots ({exc.strerror or exc})") from None
    for figure in made:
        click.echo(f"wrote {figure}")
