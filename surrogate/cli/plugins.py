"""``surrogate plugins``: every installed plugin, built-in or third-party, with its options."""

from __future__ import annotations

import click

from .. import registry


@click.command()
@click.option("--kind", type=click.Choice(sorted(registry.GROUPS)), help="Only this kind of plugin.")
def plugins(kind: str | None) -> None:
    """List installed plugins (entry-point groups surrogate.tables/tasks/models/weightings/physics/problems/
    loggers)."""
    for group in [kind] if kind else list(registry.GROUPS):
        click.secho(f"{registry.GROUPS[group]}", bold=True)
        for info in registry.describe(group):
            click.echo(f"  {info.name:<18} {info.description}  [{info.distribution}]")
            for option in info.options:
                kind = "|".join(option.choices) if option.choices else option.type_name
                kind += f", {option.range_text}" if option.range_text else ""
                click.echo(f"      {option.name}={option.default!r} ({kind}): {option.help}")
        click.echo()
