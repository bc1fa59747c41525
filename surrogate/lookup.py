"""The baseline a surrogate replaces: multilinear lookup in a table's structured grid.

In the core because every evaluation of a row model scores this lookup beside it (:mod:`surrogate.baselines`);
:mod:`export.lookup` re-exports it for the runtime's benchmarks.

Flamelet/progress-variable solvers tabulate outputs on a regular grid of mixture fraction Z and normalized
progress variable Λ = (C − C_min(Z)) / (C_max(Z) − C_min(Z)) (Pierce & Moin, J. Fluid Mech. 504, 2004) and
interpolate multilinearly. The table file keeps that grid under ``/structured``: 1-D ``Z`` (nZ), ``Lambda``
(nL), ``C_min`` and ``C_max`` (nZ), and 2-D ``outputs/<name>`` (nZ, nL). Every lookup of the toolkit (this one,
the build's lookup error, the table backend's ONNX graph, the C wrapper's compiled lookup) takes the same steps:
C_min and C_max interpolated linearly to the point's Z first, Λ formed there (:func:`normalized_progress`), then
bilinear interpolation in (Z, Λ), here with SciPy's ``RegularGridInterpolator`` (:class:`StructuredLookup`).
Forming Λ at each neighbouring Z node instead, with that node's own C_min and C_max, interpolates between other
states wherever C_min or C_max bends between the nodes, and its results differ most where the Z nodes are coarse.

Tables on a regular grid of their own inputs (the presumed-PDF table over (Z̃, S, Λ̃[, S_Λ]),
:mod:`cantera_tables.presumed_pdf_table`) keep it under ``/structured`` too, with the attribute ``axes`` naming
the 1-D axis datasets in order and ``outputs/<name>`` of shape (len(axis) for each axis): :class:`GridLookup`
interpolates them multilinearly at points given in the inputs' own units.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from surrogate.errors import TableError, UserError

GROUP = "structured"
SPAN_FLOOR = 1e-12  # C_max − C_min at or below this: a pure stream, Λ = 0


def normalized_progress(z: np.ndarray, c: np.ndarray, Z: np.ndarray, C_min: np.ndarray,
                        C_max: np.ndarray) -> np.ndarray:
    """Λ ∈ [0, 1] at points (z, c) of a (Z, Λ) table with nodes `Z` and bounds `C_min`, `C_max` there: the bounds
    interpolated linearly to each z first, Λ = (c − C_min(z)) / (C_max(z) − C_min(z)) clamped to [0, 1], and 0
    where C_max(z) − C_min(z) ≤ :data:`SPAN_FLOOR` (the pure streams)."""
    c_min = np.interp(z, Z, C_min)
    span = np.interp(z, Z, C_max) - c_min
    lam = np.divide(c - c_min, span, out=np.zeros_like(span), where=span > SPAN_FLOOR)
    return np.clip(lam, 0.0, 1.0)


class StructuredLookup:
    """Outputs at (Z, C) points by multilinear interpolation in the table's structured (Z, Λ) grid."""

    def __init__(self, path: str | os.PathLike, output_names: Sequence[str] | None = None):
        from scipy.interpolate import RegularGridInterpolator

        self.path = Path(path)
        with _open_group(self.path, "the structured (Z, Lambda) table") as group:
            for name in ("Z", "Lambda", "C_min", "C_max", "outputs"):
                if name not in group:
                    raise TableError(f"{self.path}: /{GROUP} has no {name!r}")
            names = _output_names(self.path, group, output_names)
            self.z = np.asarray(group["Z"][()], dtype=np.float64)
            self.lam = np.asarray(group["Lambda"][()], dtype=np.float64)
            self.c_min = np.asarray(group["C_min"][()], dtype=np.float64)
            self.c_max = np.asarray(group["C_max"][()], dtype=np.float64)
            values = np.stack([np.asarray(group["outputs"][n][()], dtype=np.float64) for n in names], axis=-1)
            self.nbytes = sum(int(d.size) * d.dtype.itemsize for d in _datasets(group))
        self.output_names = names
        self.interpolator = RegularGridInterpolator((self.z, self.lam), values, method="linear",
                                                    bounds_error=False, fill_value=None)

    def progress(self, z: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Normalized progress variable Λ ∈ [0, 1] at (Z, C) (:func:`normalized_progress`)."""
        return normalized_progress(z, c, self.z, self.c_min, self.c_max)

    def __call__(self, z: np.ndarray, c: np.ndarray) -> np.ndarray:
        """(n, n_outputs) outputs at n points (Z, C), in the order of ``output_names``."""
        z = np.clip(np.asarray(z, dtype=np.float64), self.z[0], self.z[-1])
        points = np.stack([z, self.progress(z, np.asarray(c, dtype=np.float64))], axis=-1)
        return self.interpolator(points)


class GridLookup:
    """Outputs at points of a table on a regular grid of its inputs (``/structured`` with an ``axes``
    attribute), by multilinear interpolation; points outside the grid are clipped onto it."""

    def __init__(self, path: str | os.PathLike, output_names: Sequence[str] | None = None):
        import json

        from scipy.interpolate import RegularGridInterpolator

        self.path = Path(path)
        with _open_group(self.path, "the structured grid") as group:
            if "axes" not in group.attrs or "outputs" not in group:
                raise TableError(f"{self.path}: /{GROUP} is not a regular grid of the inputs (no 'axes' attribute)")
            self.input_names: list[str] = json.loads(group.attrs["axes"])
            self.axes = [np.asarray(group[name][()], dtype=np.float64) for name in self.input_names]
            names = _output_names(self.path, group, output_names)
            values = np.stack([np.asarray(group["outputs"][n][()], dtype=np.float64) for n in names], axis=-1)
            self.nbytes = sum(int(d.size) * d.dtype.itemsize for d in _datasets(group))
        self.output_names = names
        self.lower = np.array([axis[0] for axis in self.axes])
        self.upper = np.array([axis[-1] for axis in self.axes])
        self.interpolator = RegularGridInterpolator(tuple(self.axes), values, method="linear")

    def __call__(self, x: np.ndarray, input_names: Sequence[str] | None = None) -> np.ndarray:
        """(n, n_outputs) outputs at the n points `x` (n, n_inputs), whose columns are ``input_names`` (any
        order holding every axis; default: the axis order), in the order of ``output_names``."""
        x = np.asarray(x, dtype=np.float64)
        if input_names is not None:
            missing = [name for name in self.input_names if name not in input_names]
            if missing:
                raise TableError(f"{self.path}: the points lack the table input {missing[0]!r}")
            x = x[:, [list(input_names).index(name) for name in self.input_names]]
        return self.interpolator(np.clip(x, self.lower, self.upper))


def table_lookup(table: str | os.PathLike, input_names: Sequence[str],
                 output_names: Sequence[str]) -> tuple[str, Callable[[np.ndarray], Any], int, list[str]]:
    """(engine name, lookup of cells with the model's input columns, bytes of the looked-up data, the outputs it
    returns: those of `output_names` the grid stores, in their order): the table's
    regular grid over exactly the model's inputs (a presumed-PDF table), else its (Z, Λ) flamelet grid for a
    model with Z and C inputs. A UserError says why neither applies."""
    try:
        grid = GridLookup(table, output_names)
    except UserError:
        grid = None
    if grid is not None and sorted(grid.input_names) == sorted(input_names):
        return (f"table lookup, SciPy RegularGridInterpolator ({', '.join(grid.input_names)})",
                lambda x: grid(x, input_names), grid.nbytes, grid.output_names)
    if not {"Z", "C"} <= set(input_names):
        raise UserError("the model has neither the table's grid inputs nor Z and C")
    flamelets = StructuredLookup(table, output_names)
    iz, ic = list(input_names).index("Z"), list(input_names).index("C")
    return ("table lookup, SciPy RegularGridInterpolator (Z, Lambda)",
            lambda x: flamelets(x[:, iz], x[:, ic]), flamelets.nbytes, flamelets.output_names)


@contextlib.contextmanager
def _open_group(path: Path, what: str) -> Iterator[Any]:
    """The ``/structured`` group of the table at `path`, open for reading; one-line errors otherwise."""
    import h5py

    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise TableError(f"{path}: not a readable HDF5 file ({exc.__class__.__name__})") from None
    with h5:
        if GROUP not in h5:
            raise TableError(f"{path}: no /{GROUP} group ({what})")
        yield h5[GROUP]


def _output_names(path: Path, group: Any, wanted: Sequence[str] | None) -> list[str]:
    """The outputs of `wanted` (default: all) that the group stores, in `wanted`'s order; at least one."""
    stored = list(group["outputs"].keys())
    names = [n for n in (wanted or stored) if n in stored]
    if not names:
        raise TableError(f"{path}: /{GROUP}/outputs has none of {', '.join(wanted or [])}")
    return names


def _datasets(group: object) -> list:
    """Every dataset below an h5py group."""
    import h5py

    found: list = []
    group.visititems(lambda name, item: found.append(item) if isinstance(item, h5py.Dataset) else None)
    return found
