"""A plain-text summary of any dataset for ``surrogate table info``: what every kind has (file, kind, declared
defaults, provenance) and what each dataset kind adds (scattered: rows, input ranges, outputs, labels;
trajectories: fields, grid, time step, parameters, conserved quantities; collocation: domain, outputs, problem).

Values are read in blocks, so a dataset larger than memory can be summarized. Every stored dataset is read
through once to verify its checksums (:func:`surrogate.table.verify_checksums`): a summary of a damaged file
would otherwise describe the columns it happened to read.

:func:`table_checks` are the content checks of ``surrogate table check`` that hold for any table of rows and
need only its declared defaults: every value finite, the softmax-closed mass fractions non-negative and
summing to one, and (where the table carries Bilger's element data and a ``Z`` input) the mixture fraction of
the stored mass fractions against ``Z``.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from .datasets import CollocationDataset, Dataset, TrajectoryDataset
from .errors import TableError
from .table import Table, verify_checksums

PROVENANCE = (
    "mechanism", "pressure", "fuel", "oxidizer", "transport_model", "progress_variable",
    "mixture_fraction_definition", "chi_definition", "refine_criteria", "equation", "boundary", "cantera_version",
    "toolkit_version", "created",
)
BLOCK = 1 << 20  # values read at a time
CLOSURE_TOLERANCE = 1e-6  # largest |sum of the mass fractions - 1| of a row that passes
Lines = list[tuple[str, str]]
Checks = list[tuple[str, str, "bool | None"]]  # (what, measured, passed; None: a figure without a bound)


def value_range(blocks: Iterable[np.ndarray]) -> tuple[float, float]:
    """Min and max over blocks of values (nan, nan when all are empty)."""
    lo, hi = math.inf, -math.inf
    for values in blocks:
        if values.size:
            lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
    return (lo, hi) if lo <= hi else (math.nan, math.nan)


def column_range(table: Table, name: str) -> tuple[float, float]:
    """Min and max of one column of a scattered table."""
    return value_range(table.read(name, slice(start, start + BLOCK)) for start in range(0, table.n_rows, BLOCK))


def field_range(dataset: TrajectoryDataset, name: str) -> tuple[float, float]:
    """Min and max of one field over every trajectory, time and grid point, a few trajectories at a time."""
    per_block = max(1, BLOCK // max(1, math.prod(dataset.shape[1:])))
    return value_range(dataset.read_field(name, slice(start, start + per_block))
                       for start in range(0, dataset.n_trajectories, per_block))


def _scattered(table: Table) -> Lines:
    lines = [("rows", f"{table.n_rows}"), ("inputs", ", ".join(table.input_names))]
    for name in table.input_names:
        lo, hi = column_range(table, name)
        lines.append((f"  {name} [{table.units(name)}]", f"{lo:.6g} .. {hi:.6g}   {table.description(name)}"))
    lines.append(("outputs", f"{len(table.output_names)}: {', '.join(table.output_names)}"))
    if table.label_names:
        counts = {name: np.unique(table.read_labels(name)).size for name in table.label_names}
        lines.append(("labels", ", ".join(f"{name} ({n} group{'s' * (n != 1)})" for name, n in counts.items())))
    if table.groups:
        lines.append(("groups", ", ".join(f"/{g}" for g in table.groups)))
    return lines


def _trajectories(dataset: TrajectoryDataset) -> Lines:
    lines = [("fields", ", ".join(dataset.field_names))]
    for name, info in dataset.fields.items():
        lo, hi = field_range(dataset, name)
        lines.append((f"  {name} [{info.units}]", f"{lo:.6g} .. {hi:.6g}   {info.description}"))
    for axis, points in dataset.grid.items():
        lines.append((f"grid {axis}", f"{len(points)} points, {points.min():.6g} .. {points.max():.6g}"))
    lines += [
        ("dt", f"{dataset.dt:g} {dataset.attrs.get('time_units', '')}".rstrip()),
        ("trajectories x times", f"{dataset.n_trajectories} x {dataset.n_times}"),
        ("parameters", ", ".join(dataset.parameter_names) or "(none)"),
        ("conserved", ", ".join(dataset.conserved_names) or "(none)"),
    ]
    return lines


def _collocation(dataset: CollocationDataset) -> Lines:
    parameters = ", ".join(f"{k}={v}" for k, v in dataset.problem.items() if k != "name")
    return [
        ("domain", ", ".join(f"{name} {lo:g} .. {hi:g}" for name, (lo, hi) in dataset.domain.items())),
        ("outputs", ", ".join(dataset.output_names)),
        ("problem", f"{dataset.problem['name']}" + (f" ({parameters})" if parameters else "")),
    ]


def _defaults(dataset: Dataset) -> Lines:
    """The training defaults the dataset declares, one line each, or one line saying there are none (for rows:
    what the core then uses)."""
    declared = dataset.defaults.attrs()
    if not declared:
        rows = " (every input and output, nothing logged or closed, no groups)" if isinstance(dataset, Table) else ""
        return [("defaults", "none declared" + rows)]
    return [(key.replace("_", " "), ", ".join(map(str, value)) if isinstance(value, list) else str(value))
            for key, value in declared.items()]


def _checksums(dataset: Dataset) -> Lines:
    """One line on the stored checksums, after reading every dataset of the file through (a dataset that does not
    match its checksum is a TableError naming it)."""
    report = verify_checksums(dataset.path)
    unchecked = f"; {len(report.unchecked)} without one: {', '.join(report.unchecked)}" if report.unchecked else ""
    return [("checksums", f"{report.verified} datasets match their checksums{unchecked}")]


def summarize(dataset: Dataset) -> Lines:
    """(label, value) lines describing a dataset opened by :func:`surrogate.datasets.open_dataset`; every stored
    checksum is verified first, so a damaged file is an error, not a summary of what could be read."""
    checksums = _checksums(dataset)
    lines = [
        ("file", f"{dataset.path} ({dataset.path.stat().st_size / 1e6:.2f} MB)"),
        ("kind", dataset.kind),
        ("dataset", dataset.dataset_kind),
    ]
    if isinstance(dataset, Table):
        lines += _scattered(dataset)
    elif isinstance(dataset, TrajectoryDataset):
        lines += _trajectories(dataset)
    else:
        lines += _collocation(dataset)
    lines += _defaults(dataset)
    lines += [(key, str(dataset.attrs[key])) for key in PROVENANCE if key in dataset.attrs]
    return lines + checksums


def row_blocks(table: Table, names: list[str]) -> Iterable[np.ndarray]:
    """(rows, len(names)) blocks of the columns `names`, about :data:`BLOCK` values each."""
    step = max(1, BLOCK // max(1, len(names)))
    for start in range(0, table.n_rows, step):
        yield table.read_matrix(names, slice(start, start + step))


def _finite(table: Table) -> Checks:
    names = [*table.input_names, *table.output_names]
    bad = sum(int((~np.isfinite(block)).sum()) for block in row_blocks(table, names))
    return [("finite values", f"{bad} of {table.n_rows * len(names)} values are nan or inf", bad == 0)]


def _mass_fractions(table: Table, names: list[str]) -> Checks:
    lowest, worst = math.inf, 0.0
    for Y in row_blocks(table, names):
        lowest, worst = min(lowest, float(Y.min())), max(worst, float(np.abs(Y.sum(axis=1) - 1.0).max()))
    return [("mass fractions >= 0", f"smallest {lowest:.3g} ({len(names)} softmax outputs)", lowest >= 0.0),
            ("mass fractions sum to 1", f"largest |sum - 1| {worst:.3g} (bound {CLOSURE_TOLERANCE:g})",
             worst <= CLOSURE_TOLERANCE)]


def _mixture_fraction(table: Table, names: list[str]) -> Checks:
    """Bilger's Z of each row's stored mass fractions against its ``Z`` input: equal in a homogeneous mixture
    (elements are conserved), not in a flame with differential diffusion, so a figure to read, not a verdict."""
    from .chemistry import BilgerMixtureFraction

    try:
        bilger = BilgerMixtureFraction.from_table_attrs(table.attrs)
    except TableError:
        return []
    species = [name[2:] for name in names]
    worst = max((float(np.abs(bilger(block[:, 1:], species) - block[:, 0]).max())
                 for block in row_blocks(table, ["Z", *names])), default=0.0)
    return [("Z of the stored Y vs input Z", f"largest |Z_Bilger(Y) - Z| {worst:.3g} (0 where elements are "
             "conserved; differential diffusion moves it in flames)", None)]


def table_checks(table: Table) -> Checks:
    """The content checks every table of rows gets from its declared defaults (see the module docstring)."""
    checks = _finite(table)
    names = list(table.defaults.softmax_outputs or [])
    if names:
        checks += _mass_fractions(table, names)
        if "Z" in table.input_names and all(name.startswith("Y_") for name in names):
            checks += _mixture_fraction(table, names)
    return checks
