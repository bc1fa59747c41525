"""Datasets beyond rows: what a task trains on, opened by one function whatever its kind.

Every dataset file is a ``thermo-surrogate-table`` HDF5 file (:mod:`surrogate.table`) whose root attribute
``dataset`` names its kind:

- ``scattered`` (and every version 1 file): rows of inputs and outputs, :class:`surrogate.table.Table`;
- ``trajectories``: fields ``/fields/<name>`` of shape ``(trajectory, time, space...)`` on the grid
  ``/grid/<axis>`` (1-D coordinates, one per space axis, in order) with time step ``dt`` (root attribute,
  with ``time_units``); ``/parameters/<name>`` (one value per trajectory, e.g. a diffusivity) and
  ``/conserved/<name>`` (shape ``(trajectory, time)``, e.g. mass or energy along each trajectory) are
  optional. Root attributes ``fields`` (JSON list, order), ``boundary`` (e.g. ``periodic``) and
  ``equation`` (text) describe the problem; ``group_column`` is implicitly the trajectory index.
- ``collocation``: no stored samples. Root attributes ``domain`` (JSON ``{input: [lo, hi]}``), ``outputs``
  (JSON list of the solution's fields) and ``problem`` (JSON ``{name, ...parameters}``, read by the task
  that samples points and evaluates residuals); optional ``/observations`` with ``/inputs`` and
  ``/outputs`` columns as in a scattered table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence, Union

import numpy as np

from .atomic import atomic_path, check_writable
from .errors import TableError
from .h5write import h5_file
from .table import (FORMAT, FORMAT_VERSION, SCATTERED, Column, DatasetDefaults, Table, create_dataset, decode_attr,
                    file_sha256,
                    write_columns, write_root_attrs)

TRAJECTORIES = "trajectories"
COLLOCATION = "collocation"
KINDS = (SCATTERED, TRAJECTORIES, COLLOCATION)


class _DatasetFile:
    """Root attributes and content hash shared by the non-row datasets."""

    dataset_kind = ""

    def __init__(self, path: str | os.PathLike, attrs: dict[str, Any]):
        self.path = Path(path)
        self.attrs = attrs

    @property
    def kind(self) -> str:
        return str(self.attrs.get("kind", ""))

    @property
    def defaults(self) -> DatasetDefaults:
        return DatasetDefaults.from_attrs(self.attrs)

    def sha256(self) -> str:
        return file_sha256(self.path)


@dataclass(frozen=True)
class FieldInfo:
    name: str
    units: str
    description: str


class TrajectoryDataset(_DatasetFile):
    """Fields u[trajectory, time, space...] of a PDE solved on a fixed grid with a fixed time step."""

    dataset_kind = TRAJECTORIES

    def __init__(self, path: str | os.PathLike, attrs: dict[str, Any]):
        import h5py

        super().__init__(path, attrs)
        with h5py.File(self.path, "r") as h5:
            if "fields" not in h5 or "grid" not in h5:
                raise TableError(f"{self.path}: trajectories dataset without /fields or /grid")
            self.field_names: list[str] = list(attrs.get("fields") or list(h5["fields"].keys()))
            missing = [name for name in self.field_names if name not in h5["fields"]]
            if missing:
                raise TableError(f"{self.path}: attribute 'fields' names {missing[0]!r}, which is not in /fields")
            self.fields = {name: FieldInfo(name, decode_attr(h5["fields"][name].attrs.get("units", "")),
                                           decode_attr(h5["fields"][name].attrs.get("description", "")))
                           for name in self.field_names}
            shapes = {tuple(h5["fields"][name].shape) for name in self.field_names}
            if len(shapes) != 1:
                raise TableError(f"{self.path}: fields of different shapes {sorted(shapes)}")
            self.shape: tuple[int, ...] = shapes.pop()
            self.axes: list[str] = list(attrs.get("grid_axes") or list(h5["grid"].keys()))
            self.grid = {axis: np.asarray(h5["grid"][axis][:], dtype=np.float64) for axis in self.axes}
            self.parameter_names = list(h5["parameters"].keys()) if "parameters" in h5 else []
            self.conserved_names = list(h5["conserved"].keys()) if "conserved" in h5 else []
        if len(self.shape) != 2 + len(self.axes):
            raise TableError(f"{self.path}: fields have shape {self.shape}; expected (trajectory, time) and one "
                             f"axis per grid coordinate {self.axes}")
        for axis, n in zip(self.axes, self.shape[2:]):
            if len(self.grid[axis]) != n:
                raise TableError(f"{self.path}: grid {axis!r} has {len(self.grid[axis])} points, fields {n}")
        dt = attrs.get("dt")
        if not isinstance(dt, (int, float)) or not dt > 0:
            raise TableError(f"{self.path}: root attribute 'dt' must be a positive time step, got {dt!r}")
        self.dt = float(dt)

    @property
    def n_trajectories(self) -> int:
        return self.shape[0]

    @property
    def n_times(self) -> int:
        return self.shape[1]

    def read_field(self, name: str, trajectories: Sequence[int] | slice | None = None) -> np.ndarray:
        """One field as float64, all trajectories or a selection (sorted indices or a slice)."""
        import h5py

        if name not in self.fields:
            raise TableError(f"{self.path}: no field {name!r}; fields: {', '.join(self.field_names)}")
        selection = slice(None) if trajectories is None else trajectories
        with h5py.File(self.path, "r") as h5:
            return np.asarray(h5["fields"][name][selection], dtype=np.float64)

    def read_group(self, group: str, name: str) -> np.ndarray:
        """A parameter (per trajectory) or conserved quantity (per trajectory and time)."""
        import h5py

        with h5py.File(self.path, "r") as h5:
            if group not in h5 or name not in h5[group]:
                raise TableError(f"{self.path}: no /{group}/{name}")
            return np.asarray(h5[group][name][:], dtype=np.float64)


class CollocationDataset(_DatasetFile):
    """A problem without stored samples: a domain, the solution's fields and the problem's parameters."""

    dataset_kind = COLLOCATION

    def __init__(self, path: str | os.PathLike, attrs: dict[str, Any]):
        super().__init__(path, attrs)
        domain = attrs.get("domain")
        if not isinstance(domain, dict) or not domain:
            raise TableError(f"{self.path}: root attribute 'domain' must be JSON {{input: [lo, hi]}}")
        self.domain: dict[str, tuple[float, float]] = {}
        for name, bounds in domain.items():
            if not (isinstance(bounds, list) and len(bounds) == 2 and float(bounds[0]) < float(bounds[1])):
                raise TableError(f"{self.path}: domain of {name!r} must be [lo, hi] with lo < hi, got {bounds!r}")
            self.domain[name] = (float(bounds[0]), float(bounds[1]))
        self.input_names = list(self.domain)
        self.output_names = list(attrs.get("outputs") or [])
        if not self.output_names:
            raise TableError(f"{self.path}: root attribute 'outputs' must list the solution's fields")
        problem = attrs.get("problem")
        if not isinstance(problem, dict) or "name" not in problem:
            raise TableError(f"{self.path}: root attribute 'problem' must be JSON {{'name': ..., parameters}}")
        self.problem: dict[str, Any] = problem


Dataset = Union[Table, TrajectoryDataset, CollocationDataset]


def open_dataset(path: str | os.PathLike) -> Dataset:
    """The dataset at `path`, whatever its kind; a missing, foreign or newer file is a one-line TableError."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as h5:
            attrs = {k: decode_attr(v) for k, v in h5.attrs.items()}
    except OSError as exc:
        raise TableError(f"{path}: not a readable HDF5 file ({exc.__class__.__name__})") from None
    if attrs.get("format") != FORMAT:
        raise TableError(f"{path}: not a {FORMAT} file (root attribute 'format' is {attrs.get('format')!r})")
    version = attrs.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise TableError(f"{path}: table format version {version!r} is newer than this toolkit's "
                         f"({FORMAT_VERSION}); upgrade thermo-surrogate")
    kind = attrs.get("dataset", SCATTERED)
    if kind == SCATTERED:
        return Table(path)
    if kind == TRAJECTORIES:
        return TrajectoryDataset(path, attrs)
    if kind == COLLOCATION:
        return CollocationDataset(path, attrs)
    raise TableError(f"{path}: unknown dataset kind {kind!r}; this toolkit reads {', '.join(KINDS)}")


def write_trajectories(path: str | os.PathLike, *, kind: str, fields: Sequence[Column], grid: Sequence[Column],
                       dt: float, time_units: str = "s", attrs: Mapping[str, Any] | None = None,
                       parameters: Sequence[Column] = (), conserved: Sequence[Column] = ()) -> Path:
    """Write a trajectories dataset atomically. Each field's ``values`` has shape (trajectory, time, space...)."""
    target = check_writable(path)
    shapes = {np.shape(f.values) for f in fields}
    if len(shapes) != 1:
        raise ValueError(f"fields of different shapes: {sorted(shapes)}")
    with atomic_path(target) as tmp, h5_file(tmp) as h5:
        write_root_attrs(h5, kind, {"dt": float(dt), "time_units": time_units,
                                    "fields": [f.name for f in fields], "grid_axes": [g.name for g in grid],
                                    **(attrs or {})}, dataset=TRAJECTORIES)
        for group_name, columns in (("fields", fields), ("grid", grid), ("parameters", parameters),
                                    ("conserved", conserved)):
            if columns or group_name in ("fields", "grid"):
                group = h5.create_group(group_name)
                for column in columns:
                    create_dataset(group, column.name, column.units, column.description,
                                   data=np.asarray(column.values, dtype=np.float64))
    return target


def write_collocation(path: str | os.PathLike, *, kind: str, domain: Mapping[str, tuple[float, float]],
                      outputs: Sequence[str], problem: Mapping[str, Any], attrs: Mapping[str, Any] | None = None,
                      observations: tuple[Sequence[Column], Sequence[Column]] | None = None) -> Path:
    """Write a collocation problem atomically: domain, fields and parameters, optional observations."""
    target = check_writable(path)
    if "name" not in problem:
        raise ValueError("problem must have a 'name'")
    with atomic_path(target) as tmp, h5_file(tmp) as h5:
        write_root_attrs(h5, kind, {"domain": {k: [float(lo), float(hi)] for k, (lo, hi) in domain.items()},
                                    "outputs": list(outputs), "problem": dict(problem), **(attrs or {})},
                         dataset=COLLOCATION)
        if observations is not None:
            group = h5.create_group("observations")
            write_columns(group.create_group("inputs"), observations[0])
            write_columns(group.create_group("outputs"), observations[1])
    return target
