"""N-D table grids for the compiled lookup (export/c/surrogate_grid.h): read from a table, enlarged, written.

A presumed-PDF table (:mod:`cantera_tables.presumed_pdf_table`) keeps its outputs on a rectilinear grid of its
inputs under ``/structured``; the C lookup reads that grid from a *grid file*: one text line
``thermo-surrogate-grid 1 D n_1 ... n_D n_outputs``, the D axes as little-endian float64, the values as
little-endian float32 in C order [i_1]...[i_D][output].

Production tables are larger than the ones built here in seconds (finer grids, more dimensions: heat loss,
pressure). To time lookups at those sizes without days of PDF integration, :func:`enlarge` makes a bigger grid of
the same function: every segment of an axis is split into equal parts and the values there are interpolated
multilinearly from the source grid (exactly what the lookup of the source returns there), and an added axis
repeats the table along it. The memory and access pattern are those of a production table; the numbers in it are
the small table's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from surrogate.atomic import atomic_path
from surrogate.errors import UserError

MAGIC = "thermo-surrogate-grid"
VERSION = 1
EXTRA_AXIS = "extra_axis"  # the name of an axis added by enlarge (the table repeats along it)


@dataclass
class Grid:
    """Values (n_1, ..., n_D, n_outputs) on the axes `axes` (named `names`), of the outputs `outputs`."""

    names: list[str]
    axes: list[np.ndarray]
    values: np.ndarray
    outputs: list[str]

    @property
    def nbytes(self) -> int:
        """Bytes the C lookup holds: the float32 values and the float64 axes."""
        return int(self.values.size) * 4 + sum(8 * len(axis) for axis in self.axes)


def read_grid(table: str | Path) -> Grid:
    """The ``/structured`` grid of a table on a regular grid of its inputs (attribute ``axes``)."""
    from surrogate.lookup import _open_group

    path = Path(table)
    with _open_group(path, "a presumed-pdf table's grid of its inputs") as group:
        if "axes" not in group.attrs or "outputs" not in group:
            raise UserError(f"--grid-table {path}: /structured is no grid of the inputs (no attribute 'axes'); give "
                            "a presumed-pdf table")
        names = json.loads(group.attrs["axes"])
        outputs = sorted(group["outputs"].keys())
        axes = [np.asarray(group[name][()], dtype=np.float64) for name in names]
        values = np.stack([np.asarray(group["outputs"][name][()], dtype=np.float32) for name in outputs], axis=-1)
    return Grid(names, axes, values, outputs)


def write_grid(grid: Grid, path: str | Path) -> Path:
    """The grid as a grid file at `path` (written to a temporary file, then renamed)."""
    header = " ".join(str(n) for n in (MAGIC, VERSION, len(grid.axes), *grid.values.shape)) + "\n"
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        out.write(header.encode("ascii"))
        for axis in grid.axes:
            out.write(np.ascontiguousarray(axis, dtype="<f8").tobytes())
        np.ascontiguousarray(grid.values, dtype="<f4").tofile(out)
    return Path(path)


def refine_axis(grid: Grid, k: int, parts: int) -> Grid:
    """Every segment of axis `k` split into `parts` equal parts, values interpolated linearly along it."""
    axis = grid.axes[k]
    fine = np.concatenate([np.linspace(a, b, parts, endpoint=False) for a, b in zip(axis[:-1], axis[1:])] + [axis[-1:]])
    i = np.clip(np.searchsorted(axis, fine, side="right") - 1, 0, len(axis) - 2)
    t = ((fine - axis[i]) / (axis[i + 1] - axis[i])).astype(np.float32)
    shape = [1] * grid.values.ndim
    shape[k] = len(fine)
    t = t.reshape(shape)
    values = np.take(grid.values, i, axis=k) * (1 - t) + np.take(grid.values, i + 1, axis=k) * t
    return Grid(grid.names, [*grid.axes[:k], fine, *grid.axes[k + 1:]], values, grid.outputs)


def enlarge(grid: Grid, dims: int, target_bytes: float) -> Grid:
    """`grid` with `dims` axes (its own, or one more that repeats it: :data:`EXTRA_AXIS`, 11 nodes on [0, 1]) and
    its segments split until its arrays reach about `target_bytes` (no split when the grid is as large already)."""
    if dims not in (len(grid.axes), len(grid.axes) + 1):
        raise UserError(f"--grid-sizes {dims}d: the table has {len(grid.axes)} axes ({', '.join(grid.names)}); "
                        f"a grid of {len(grid.axes)} or {len(grid.axes) + 1} axes can be made from it")
    if dims > len(grid.axes):
        extra = np.linspace(0.0, 1.0, 11)
        values = np.repeat(grid.values[..., None, :], len(extra), axis=-2)
        grid = Grid([*grid.names, EXTRA_AXIS], [*grid.axes, extra], values, grid.outputs)
    parts = split_counts([len(a) for a in grid.axes], grid.values.shape[-1], target_bytes)
    for k, count in enumerate(parts):
        if count > 1:
            grid = refine_axis(grid, k, count)
    return grid


def split_counts(nodes: Sequence[int], n_outputs: int, target_bytes: float) -> list[int]:
    """Parts per segment for each axis, raised by one in turns (the axis split least so far first, so every axis is
    refined alike) while the float32 values stay within `target_bytes`."""
    parts = [1] * len(nodes)

    def size(p: Sequence[int]) -> float:
        return 4.0 * n_outputs * float(np.prod([(n - 1) * q + 1 for n, q in zip(nodes, p)]))

    while True:
        k = min(range(len(parts)), key=lambda j: (parts[j], size([q + (i == j) for i, q in enumerate(parts)])))
        raised = [q + (i == k) for i, q in enumerate(parts)]
        if size(raised) > target_bytes:
            return parts
        parts = raised


def parse_sizes(text: str) -> list[tuple[int, float]]:
    """``--grid-sizes`` ("4d,4d:1e8,5d:1e9"): (axes, target bytes; 0 for the table as built) per grid."""
    sizes = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        dims, _, target = part.partition(":")
        try:
            if not dims.endswith("d"):
                raise ValueError
            sizes.append((int(dims[:-1]), float(target) if target else 0.0))
        except ValueError:
            raise UserError(f"--grid-sizes {text!r}: {part!r} is not DIMSd or DIMSd:BYTES (e.g. 4d, 5d:1e9)") from None
    return sizes
