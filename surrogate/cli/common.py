"""Command-line options that several commands share, declared once so they read and behave alike."""

from __future__ import annotations

import click

OVERWRITE_HELP = ("Replace an output that already exists (refused otherwise); the old one stays until the new one "
                  "is complete.")
overwrite_option = click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
accept_table_change_option = click.option(
    "--accept-table-change", is_flag=True,
    help="Use the run's training table even though its content changed since training (its SHA-256 differs from "
         "the one in the run's config.json, e.g. a table rebuilt under the same path); refused otherwise, since "
         "the run's stored split rows would name other rows. Rows past the table's end are refused either way.")
