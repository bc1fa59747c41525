"""``surrogate bench table-error``: how accurate a flamelet table is between its flamelets, against the flamelets
of a finer reference table of the same flames."""

from __future__ import annotations

import click

from ..common import check_json_file, emit_json, json_file_option, overwrite_option, report_echo


@click.command("table-error")
@click.argument("table", type=click.Path(dir_okay=False))
@click.option("--reference", required=True, type=click.Path(dir_okay=False),
              help="A flamelet table of the same flames (mechanism, pressure, streams, transport, progress "
                   "variable) built with a finer sweep, whose flamelets lie between TABLE's.")
@json_file_option("the sizes and errors")
@overwrite_option
def bench_table_error(table: str, reference: str, json_path: str | None, overwrite: bool) -> None:
    """Size of the flamelet TABLE (flamelets, rows, bytes) and its error at every row of the --reference
    flamelets inside its S-curve: its FPV (Z, Lambda) lookup, as a solver reads it, and its flamelets interpolated
    in C at the point's Z (the lookup on an infinitely fine grid); largest and mean T error [K] and largest mass
    fraction error (of each species' range), over all judged flamelets and per branch (stable, unstable)."""
    from cantera_tables.table_error import report_lines, table_error

    check_json_file(json_path, {"the table": table, "the reference": reference}, overwrite)
    result = table_error(table, reference)
    echo = report_echo(json_path)
    for line in report_lines(result):
        echo(line)
    if json_path is not None:
        emit_json(json_path, result)
