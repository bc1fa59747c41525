"""A plain-text summary of any table: kind, size, input ranges, outputs and provenance (``surrogate table info``)."""

from __future__ import annotations

import os

import numpy as np

from .table import Table

PROVENANCE = (
    "mechanism", "pressure", "fuel", "oxidizer", "transport_model", "progress_variable",
    "mixture_fraction_definition", "chi_definition", "refine_criteria", "cantera_version", "toolkit_version",
    "created",
)
ROW_BLOCK = 1 << 20


def column_range(table: Table, name: str) -> tuple[float, float]:
    """Min and max of one column, read in blocks so a table larger than memory works."""
    lo, hi = np.inf, -np.inf
    for start in range(0, table.n_rows, ROW_BLOCK):
        values = table.read(name, slice(start, start + ROW_BLOCK))
        lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
    return lo, hi


def summarize(path: str | os.PathLike) -> list[tuple[str, str]]:
    """(label, value) lines describing the table at `path`; raises TableError if it is not a table."""
    table = Table(path)
    lines = [
        ("file", f"{table.path} ({table.path.stat().st_size / 1e6:.2f} MB)"),
        ("kind", table.kind),
        ("rows", f"{table.n_rows}"),
        ("inputs", ", ".join(table.input_names)),
    ]
    for name in table.input_names:
        lo, hi = column_range(table, name)
        lines.append((f"  {name} [{table.units(name)}]", f"{lo:.6g} .. {hi:.6g}   {table.description(name)}"))
    lines.append(("outputs", f"{len(table.output_names)}: {', '.join(table.output_names)}"))
    if table.groups:
        lines.append(("groups", ", ".join(f"/{g}" for g in table.groups)))
    for key in PROVENANCE:
        if key in table.attrs:
            lines.append((key, str(table.attrs[key])))
    return lines
