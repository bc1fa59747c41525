"""Command-line options that several commands share, declared once so they read and behave alike."""

from __future__ import annotations

import json
from typing import Any, Callable

import click

OVERWRITE_HELP = ("Replace an output that already exists (refused otherwise); the old one stays until the new one "
                  "is complete.")
overwrite_option = click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
accept_table_change_option = click.option(
    "--accept-table-change", is_flag=True,
    help="Use the run's training table even though its content changed since training (its SHA-256 differs from "
         "the one in the run's config.json, e.g. a table rebuilt under the same path); refused otherwise, since "
         "the run's stored split rows would name other rows. Rows past the table's end are refused either way.")

JSON_STDOUT = "-"
json_flag = click.option("--json", "as_json", is_flag=True,
                         help="Print one JSON object on stdout and nothing else (for scripts; `jq` reads it).")


def json_file_option(what: str):
    """``--json PATH`` writes `what` to PATH besides the text report; ``--json`` alone (or ``--json -``) prints the
    JSON object alone on stdout and the text report on stderr, so a script can parse stdout as it is."""
    return click.option("--json", "json_path", type=click.Path(allow_dash=True), default=None, is_flag=False,
                        flag_value=JSON_STDOUT,
                        help=f"Also write {what} as JSON to this file; `--json` alone (or `--json -`, give it after "
                             "the arguments): print only the JSON object on stdout, the text report on stderr.")


def check_json_file(json_path: str | None, inputs: dict[str, Any], overwrite: bool) -> None:
    """Refuse a --json file that would overwrite an input or an existing file, before the command's work."""
    if json_path not in (None, JSON_STDOUT):
        from ..outputs import check_output_file

        check_output_file(json_path, inputs=inputs, overwrite=overwrite, flag="--json")


def report_echo(json_path: str | None) -> Callable[[str], None]:
    """click.echo for a command's text report: to stderr when its JSON goes to stdout."""
    stderr = json_path == JSON_STDOUT
    return lambda line: click.echo(line, err=stderr)


def emit_json(json_path: str, data: Any) -> None:
    """`data` as one indented, strict JSON object on stdout (``-``), or written atomically to `json_path` followed
    by a 'wrote' line."""
    from ..atomic import strict_json, write_json

    if json_path == JSON_STDOUT:  # non-finite numbers as null, as in the files: strict JSON any parser reads
        click.echo(json.dumps(strict_json(data), indent=2, allow_nan=False))
        return
    write_json(json_path, data)
    click.echo(f"wrote {json_path}")
