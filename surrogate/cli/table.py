"""``surrogate table``: build a dataset with any installed table plugin, print its summary, plot it.

``surrogate table build KIND -o TABLE.h5 [--OPTION VALUE ...] [--set key=value ...]``: one subcommand per
plugin of the ``surrogate.tables`` entry-point group, with one ``--option`` per plugin option (underscores
become dashes, the declared range in its help); ``--set key=value`` sets the same options generically. The core
resolves the options and checks their types and ranges (defaults applied) before the plugin runs (its ``build``
is left with the checks across options), and prints the plugin's generic
:class:`~surrogate.contracts.BuildReport`. ``info`` and ``plot`` work on every dataset kind (scattered,
trajectories, collocation) and add the kind's own ``summary``/``plot`` hooks when its plugin defines them;
``restructure`` rebuilds a table's grid from its stored solutions through the plugin's ``restructure`` hook.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from .. import registry
from ..errors import PluginError, UserError
from .common import JSON_STDOUT, OVERWRITE_HELP, emit_json, json_flag, overwrite_option
from .lazy import os_error_line


def _echo_lines(lines: list[tuple[str, str]]) -> None:
    width = max((len(label) for label, _ in lines), default=0)
    for label, value in lines:
        click.echo(f"{label:<{width}}  {value}")


def _format_number(value: Any) -> str:
    """A report number as text: floats to 4 significant digits, lists joined by commas."""
    if isinstance(value, (list, tuple)):
        return ", ".join(_format_number(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _echo_report(kind: str, report: Any) -> None:
    """The generic build report: where, how many rows, how long, what was resumed, the kind's numbers, notes."""
    from ..contracts import BuildReport

    if not isinstance(report, BuildReport):
        raise PluginError(f"table kind {kind!r}: build returned a {type(report).__name__}, not a "
                          "surrogate.contracts.BuildReport")
    click.echo(f"wrote {report.path}: {_what_was_built(report)} in {report.seconds:.1f} s"
               + (f" (resumed {report.resumed})" if report.resumed else ""))
    for name, value in report.numbers.items():
        click.echo(f"{name} = {_format_number(value)}")
    for note in report.notes:
        click.echo(note, err=True)


def _what_was_built(report: Any) -> str:
    """'1234 rows', or for a collocation problem (it stores no rows) its domain and how its points come."""
    from ..datasets import CollocationDataset, open_dataset

    dataset = open_dataset(report.path) if report.rows == 0 else None
    if not isinstance(dataset, CollocationDataset):
        return f"{report.rows} rows"
    domain = ", ".join(f"{name} in [{lo:g}, {hi:g}]" for name, (lo, hi) in dataset.domain.items())
    return (f"a collocation problem on {domain} for {', '.join(dataset.output_names)} (no stored rows: the "
            "collocation points are drawn by the training task)")


def _settle_work(generator: Any, output: str) -> str:
    """Keep or remove the work directory of a build of `output` that stopped on a failed write, by the results it
    holds for a rerun (the plugin's ``saved_work`` hook, else its chunk files); what the error line adds about it."""
    from ..chunks import saved_chunks, settle_work_dir

    hook = getattr(generator, "saved_work", None)
    return settle_work_dir(output, hook(output) if hook is not None else saved_chunks(output))


def _build_command(kind: str) -> click.Command:
    """A click command for one table plugin, its options generated from the plugin's Option list."""
    plugin = registry.load("tables", kind)

    def run(output: str, settings: tuple[str, ...], overwrite: bool, **cli_options: Any) -> None:
        from ..chunks import failed_build_released
        from ..locks import exclusive
        from ..options import input_files, parse_key_values
        from ..outputs import check_output_file
        from ..provenance import build_configured

        given = {name: value for name, value in cli_options.items() if value is not None}
        given.update(parse_key_values(settings, "--set"))
        generator, options = registry.configure("tables", kind, given)
        inputs = input_files(registry.plugin_options(plugin), options)
        target = check_output_file(output, inputs=inputs, overwrite=overwrite)
        with exclusive(target, "a build of this table"):  # two builds would share one resume directory
            with failed_build_released(target):
                try:
                    report = build_configured(kind, generator, target, options, progress=True)
                except OSError as exc:  # a failed write (a full disk): the work directory stays only if it helps a rerun
                    raise UserError(os_error_line(exc) + _settle_work(generator, target)) from None
        _echo_report(kind, report)

    params: list[click.Parameter] = [
        click.Option(["-o", "--output"], required=True, type=click.Path(), help="Table file to write."),
        click.Option(["--overwrite"], is_flag=True, help=OVERWRITE_HELP),
        click.Option(["settings", "--set"], multiple=True, metavar="KEY=VALUE",
                     help="Set any option by name (same as the --option form)."),
    ]
    for option in registry.plugin_options(plugin):
        default = option.default
        if isinstance(default, dict):
            default = ",".join(f"{k}:{v:g}" for k, v in default.items())
        elif isinstance(default, (list, tuple)):
            default = ",".join(v if isinstance(v, str) else f"{v:g}" for v in default)
        bounds = f"; range: {option.range_text}" if option.range_text else ""
        params.append(click.Option(
            [f"--{option.name.replace('_', '-')}", option.name], default=None, metavar=option.type_name.upper(),
            help=f"{option.help} [default: {default}{bounds}]",
        ))
    description = getattr(plugin, "description", "")
    return click.Command(kind, callback=run, params=params, help=description, short_help=description)


class KindGroup(click.Group):
    """Subcommands are the installed table plugins, loaded only when one is used, so that listing them (and a
    broken third-party plugin) never costs or breaks another kind."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(registry.available("tables"))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return _build_command(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Kinds and the package each comes from, read from entry points without importing any plugin (each
        kind's description and options: ``surrogate table build KIND --help``)."""
        rows = [(name, f"from {registry.package_of(ep)}") for name, ep in sorted(registry.available("tables").items())]
        if rows:
            with formatter.section("Kinds"):
                formatter.write_dl(rows)


def _plugin_hook(kind: str, hook: str) -> Callable[..., Any] | None:
    """The `hook` (summary, plot) of the plugin that made a dataset of `kind`, None when that plugin is not
    installed or does not define it. A plugin that fails to load raises PluginError."""
    if kind not in registry.available("tables"):
        return None
    return getattr(registry.load("tables", kind), hook, None)


@click.group()
def table() -> None:
    """Build, inspect and plot datasets (tables, trajectories, collocation problems)."""


@table.group(cls=KindGroup, subcommand_metavar="KIND -o PATH [OPTIONS]")
def build() -> None:
    """Build a dataset: surrogate table build KIND -o TABLE.h5 [--option value ...]; resumes if interrupted."""


@table.command()
@click.argument("path", type=click.Path(dir_okay=False))
@json_flag
def info(path: str, as_json: bool) -> None:
    """Summary of a dataset: kind, size, ranges, declared defaults, provenance and the plugin's own lines (with
    --json: those lines, every column's units, description and range, and the root attributes)."""
    from ..datasets import open_dataset
    from ..table_summary import summarize

    dataset = open_dataset(path)
    lines = summarize(dataset)
    try:
        summary = _plugin_hook(dataset.kind, "summary")
        if summary is not None:
            lines += [(str(label), str(value)) for label, value in summary(path)]
    except Exception as exc:  # a broken plugin must not hide what the core can say about the file
        click.echo(f"warning: no summary from the {dataset.kind!r} plugin ({exc.__class__.__name__}: {exc})",
                   err=True)
    if as_json:
        emit_json(JSON_STDOUT, _info_record(dataset, lines))
    else:
        _echo_lines(lines)


def _info_record(dataset: Any, lines: list[tuple[str, str]]) -> dict[str, Any]:
    """``table info --json``: the summary lines by label, the columns of a table of rows with their units,
    descriptions and ranges, and the file's root attributes."""
    from ..table import Table
    from ..table_summary import column_range

    record: dict[str, Any] = {"path": str(dataset.path), "bytes": dataset.path.stat().st_size, "kind": dataset.kind,
                              "dataset": dataset.dataset_kind,
                              "summary": {label.strip(): value for label, value in lines}}
    if isinstance(dataset, Table):
        record["rows"] = dataset.n_rows
        for role, names in (("inputs", dataset.input_names), ("outputs", dataset.output_names)):
            record[role] = {name: {"units": dataset.units(name), "description": dataset.description(name),
                                   "range": list(column_range(dataset, name))} for name in names}
    record["attrs"] = dict(dataset.attrs)
    return record


@table.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(),
              help="Directory for the PNG files (new or empty, or any with --overwrite).")
@overwrite_option
def plot(path: str, out_dir: str, overwrite: bool) -> None:
    """Figures of a dataset as PNG, drawn by the plugin of its kind (for flamelet tables: the S-curve,
    profiles, the structured table)."""
    from ..datasets import open_dataset
    from ..outputs import check_output_folder

    check_output_folder(out_dir, inputs={"the table": path}, overwrite=overwrite)
    dataset = open_dataset(path)
    make = _plugin_hook(dataset.kind, "plot")
    if make is None:
        installed = dataset.kind in registry.available("tables")
        maker = (f"its table plugin {dataset.kind!r} draws no figures" if installed
                 else f"no installed table plugin makes kind {dataset.kind!r} (see `surrogate plugins`)")
        raise UserError(f"{path}: no plots for this {dataset.dataset_kind} dataset: {maker}; `surrogate table info "
                        f"{path}` summarizes it")
    try:
        made = make(path, out_dir)
    except OSError as exc:
        raise UserError(f"{out_dir}: cannot write plots ({exc.strerror or exc})") from None
    for figure in made:
        click.echo(f"wrote {figure}")


@table.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Table file to write: the input's rows and stored solutions with the rebuilt grid.")
@click.option("--lookup-tolerance", default=None, metavar="K",
              help="Largest T error [K] of the structured (Z, Lambda) lookup at the stored flamelets the grid is "
                   "refined to (0: no refinement) [default: the table's build option, else the kind's default].")
@click.option("--max-structured-nodes", default=None, metavar="N",
              help="Most nodes (nZ x nLambda) the refinement may use [default: as --lookup-tolerance].")
@click.option("settings", "--set", multiple=True, metavar="KEY=VALUE",
              help="Any other grid option of the table's kind (e.g. structured_nz=61).")
@overwrite_option
def restructure(path: str, output: str, lookup_tolerance: str | None, max_structured_nodes: str | None,
                settings: tuple[str, ...], overwrite: bool) -> None:
    """Rebuild a table's grid from the solutions it stores, without solving again: for a flamelet table, its
    structured (Z, Lambda) table refined until its lookup error meets --lookup-tolerance. Writes a new file."""
    from ..options import parse_key_values
    from ..outputs import check_output_file
    from ..table import Table

    table = Table(path)
    hook = _plugin_hook(table.kind, "restructure")
    if hook is None:
        raise UserError(f"{path}: its kind {table.kind!r} has no grid to rebuild from stored solutions (flamelet "
                        "tables do: their structured (Z, Lambda) table)")
    given = parse_key_values(settings, "--set")
    given.update({name: value for name, value in (("lookup_tolerance", lookup_tolerance),
                                                  ("max_structured_nodes", max_structured_nodes)) if value is not None})
    target = check_output_file(output, inputs={"the table": path}, overwrite=overwrite)
    _echo_report(table.kind, hook(path, target, **given))


@table.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--max-T-error", "max_T_error", type=click.FloatRange(min=0.0), default=10.0, show_default=True,
              help="Largest temperature error [K] of a structured (Z, Lambda) table's FPV lookup against the stored "
                   "flamelets that passes (flamelet tables).")
@click.pass_context
def check(ctx: click.Context, path: str, max_T_error: float) -> None:
    """Content checks of a table of rows, each with its figure and ok/FAIL: finite values, mass fractions
    closing to one, Z of the stored species, and the plugin's own (e.g. FPV lookup error, C monotonicity,
    energy balance, presumed-PDF integration). Exit status 1 when a check fails."""
    import inspect

    from ..table import Table
    from ..table_summary import table_checks

    table = Table(path)
    checks = table_checks(table)
    hook = _plugin_hook(table.kind, "check")
    if hook is not None:
        bounds = {"max_T_error": max_T_error} if "max_T_error" in inspect.signature(hook).parameters else {}
        checks += [(str(label), str(value), passed) for label, value, passed in hook(path, **bounds)]
    verdicts = {True: "ok  ", False: "FAIL", None: "    "}
    _echo_lines([(label, f"{verdicts[passed]}  {value}") for label, value, passed in checks])
    if any(passed is False for _, _, passed in checks):
        ctx.exit(1)
