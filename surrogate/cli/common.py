"""Command-line options that several commands share, declared once so they read and behave alike."""

from __future__ import annotations

import click

OVERWRITE_HELP = ("Replace an output that already exists (refused otherwise); the old one stays until the new one "
                  "is complete.")
overwrite_option = click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
