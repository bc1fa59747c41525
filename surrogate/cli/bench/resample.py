"""``surrogate bench resample``: a table of any size for scale tests, interpolated densely from another."""

from __future__ import annotations

import click

from ...ranges import SEED
from ..types import ranged
from ..common import overwrite_option

SUFFIXES = {"k": 10**3, "m": 10**6, "g": 10**9}


def row_count(text: str) -> int:
    """'10M', '2.5k', '1e7' or '10000000' -> an integer row count."""
    from ...errors import UserError

    factor = SUFFIXES.get(text[-1:].lower(), 1)
    try:
        value = float(text[:-1] if factor > 1 else text) * factor
    except ValueError:
        raise UserError(f"--rows {text!r}: expected a row count such as 10000000, 1e7 or 10M") from None
    if not value >= 1 or value != int(value):
        raise UserError(f"--rows {text!r}: expected a positive whole number of rows")
    return int(value)


@click.command("resample")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(), help="Table to write.")
@click.option("--rows", required=True, help="Rows to write, e.g. 10M, 5e7.")
@click.option("--seed", default=0, show_default=True, type=ranged(int, SEED))
@click.option("--quiet", is_flag=True, help="No progress bar.")
@overwrite_option
def bench_resample(source: str, output: str, rows: str, seed: int, quiet: bool, overwrite: bool) -> None:
    """Write a table of ROWS rows interpolated between consecutive rows of each group (flamelet) of SOURCE:
    chunked and compressed, written chunk by chunk (bounded memory), resumable after a kill."""
    from ...benchmarks.scale_table import resample_table
    from ...outputs import check_output_file
    from ...table import Table

    target = check_output_file(output, inputs={"the source table": source}, overwrite=overwrite)
    path = resample_table(source, target, row_count(rows), seed=seed, progress=not quiet)
    size = path.stat().st_size
    click.echo(f"wrote {path}: {Table(path).n_rows} rows, {size / 2**20:.1f} MiB on disk")
