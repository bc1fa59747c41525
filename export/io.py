"""Chunked reading of solver inputs (.h5, .npy, .csv) and chunked, atomic writing of predictions (.h5).

Inputs are read ``chunk_rows`` rows at a time, so files larger than memory stream through the model:

- ``.h5``: a thermo-surrogate table (columns read by name from ``/inputs`` or ``/outputs``), or any HDF5 file
  with 1-D datasets named like the model's inputs, at the root or under ``/inputs``;
- ``.npy``: a 2-D array (n_cells, n_inputs) in the model's column order, memory-mapped;
- ``.csv``: comma-separated; a header line of column names selects the model's inputs by name, without one
  the columns must be the model's inputs in order.

The output is itself a thermo-surrogate table (kind ``inference``): ``/inputs`` holds the cells as given,
``/outputs`` the predictions, each column with its units, so every table tool reads it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from surrogate.atomic import atomic_path, check_writable
from surrogate.errors import UserError
from surrogate.table import FORMAT, Table, create_dataset, decode_attr, encode_attr, write_root_attrs

SUFFIXES = (".h5", ".hdf5", ".npy", ".csv")


class InputFileError(UserError):
    """An input file of the wrong kind or shape, or without the model's input columns."""


class InputReader:
    """Rows of the model's input columns from one file, in chunks: ``n_rows`` and ``chunks(chunk_rows)``."""

    n_rows: int

    def chunks(self, chunk_rows: int) -> Iterator[np.ndarray]:
        raise NotImplementedError


class HDF5Reader(InputReader):
    """Named 1-D datasets of an HDF5 file (a thermo-surrogate table or any file holding those datasets)."""

    def __init__(self, path: Path, names: Sequence[str]):
        import h5py

        self.path, self.names = path, list(names)
        try:
            with h5py.File(path, "r") as h5:
                is_table = decode_attr(h5.attrs.get("format")) == FORMAT
                if is_table:
                    table = Table(path)
                    for name in self.names:
                        table.units(name)  # a missing column is a TableError naming the table's columns
                    self.datasets = [f"{'inputs' if n in table.input_names else 'outputs'}/{n}" for n in self.names]
                else:
                    self.datasets = [self._find(h5, n) for n in self.names]
                lengths = {h5[d].shape for d in self.datasets}
        except OSError as exc:
            raise InputFileError(f"{path}: not a readable HDF5 file ({exc.__class__.__name__})") from None
        if len(lengths) != 1 or len(next(iter(lengths))) != 1:
            raise InputFileError(f"{path}: datasets {', '.join(self.datasets)} must be 1-D and of equal length "
                                 f"(shapes {sorted(lengths)})")
        self.n_rows = int(next(iter(lengths))[0])

    def _find(self, h5: Any, name: str) -> str:
        for candidate in (name, f"inputs/{name}"):
            if candidate in h5 and hasattr(h5[candidate], "shape"):
                return candidate
        raise InputFileError(f"{self.path}: no dataset {name!r} (looked for /{name} and /inputs/{name}); "
                             f"the model needs {', '.join(self.names)}")

    def chunks(self, chunk_rows: int) -> Iterator[np.ndarray]:
        import h5py

        with h5py.File(self.path, "r") as h5:
            for start in range(0, self.n_rows, chunk_rows):
                rows = slice(start, min(start + chunk_rows, self.n_rows))
                yield np.stack([np.asarray(h5[d][rows], dtype=np.float64) for d in self.datasets], axis=1)


class NpyReader(InputReader):
    """A memory-mapped 2-D .npy array in the model's column order."""

    def __init__(self, path: Path, names: Sequence[str]):
        try:
            self.array = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise InputFileError(f"{path}: not a readable .npy array ({exc})") from None
        if self.array.ndim != 2 or self.array.shape[1] != len(names):
            raise InputFileError(f"{path}: array of shape {self.array.shape}, expected (n_cells, {len(names)}) "
                                 f"with columns {', '.join(names)}")
        self.n_rows = int(self.array.shape[0])

    def chunks(self, chunk_rows: int) -> Iterator[np.ndarray]:
        for start in range(0, self.n_rows, chunk_rows):
            yield np.asarray(self.array[start:start + chunk_rows], dtype=np.float64)


class CsvReader(InputReader):
    """Comma-separated rows; an optional header of names picks and orders the model's columns."""

    def __init__(self, path: Path, names: Sequence[str]):
        self.path, self.names = path, list(names)
        with open(path) as handle:
            first = handle.readline()
            self.n_rows = sum(1 for line in handle if line.strip()) + (1 if first.strip() else 0)
        tokens = [t.strip().strip('"') for t in first.split(",")]
        self.has_header = bool(first.strip()) and not all(_is_number(t) for t in tokens)
        if self.has_header:
            self.n_rows -= 1
            missing = [n for n in self.names if n not in tokens]
            if missing:
                raise InputFileError(f"{path}: header has no column {', '.join(map(repr, missing))}; the model needs "
                                     f"{', '.join(self.names)} (header: {', '.join(tokens)})")
            self.columns = [tokens.index(n) for n in self.names]
        else:
            if first.strip() and len(tokens) != len(self.names):
                raise InputFileError(f"{path}: {len(tokens)} columns and no header; expected {len(self.names)} "
                                     f"columns {', '.join(self.names)} in that order, or a header line")
            self.columns = list(range(len(self.names)))

    def chunks(self, chunk_rows: int) -> Iterator[np.ndarray]:
        with open(self.path) as handle:
            lines = (line for line in handle if line.strip())
            if self.has_header:
                next(lines)
            line_no = 2 if self.has_header else 1
            while block := list(itertools.islice(lines, chunk_rows)):
                try:
                    values = np.loadtxt(block, delimiter=",", ndmin=2, usecols=self.columns, dtype=np.float64)
                except ValueError as exc:
                    raise InputFileError(f"{self.path}: unreadable number near data line {line_no} ({exc})") from None
                line_no += len(block)
                yield values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def open_inputs(path: str | os.PathLike, names: Sequence[str]) -> InputReader:
    """A chunked reader of the columns `names` from a .h5/.hdf5, .npy or .csv file."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return HDF5Reader(path, names)
    if suffix == ".npy":
        return NpyReader(path, names)
    if suffix == ".csv":
        return CsvReader(path, names)
    raise InputFileError(f"{path}: unknown input type {suffix!r}; expected one of {', '.join(SUFFIXES)}")


class PredictionWriter:
    """Columns of a thermo-surrogate table of kind 'inference' in an open HDF5 file, filled chunk by chunk."""

    def __init__(self, h5: Any, n_rows: int, inputs: dict[str, str], outputs: dict[str, str], attrs: dict[str, Any]):
        write_root_attrs(h5, "inference", attrs)
        self.n_rows, self.row = n_rows, 0
        self.input_sets = self._create(h5, "inputs", inputs, np.float64, "cell input")
        self.output_sets = self._create(h5, "outputs", outputs, np.float32, "surrogate prediction")

    def _create(self, h5: Any, group_name: str, columns: dict[str, str], dtype: Any, description: str) -> list[Any]:
        group = h5.create_group(group_name)
        group.attrs["order"] = encode_attr(list(columns))
        return [create_dataset(group, name, units, description, shape=(self.n_rows,), dtype=dtype)
                for name, units in columns.items()]

    def write(self, x: np.ndarray, y: np.ndarray) -> None:
        """Append one chunk: inputs x (rows, n_inputs) and predictions y (rows, n_outputs)."""
        rows = slice(self.row, self.row + len(x))
        for j, dataset in enumerate(self.input_sets):
            dataset[rows] = x[:, j]
        for j, dataset in enumerate(self.output_sets):
            dataset[rows] = y[:, j]
        self.row += len(x)


@contextlib.contextmanager
def prediction_file(path: str | os.PathLike, n_rows: int, inputs: dict[str, str], outputs: dict[str, str],
                    attrs: dict[str, Any]) -> Iterator[PredictionWriter]:
    """A PredictionWriter on a temporary file, renamed onto `path` only when all `n_rows` rows were written."""
    import h5py

    target = check_writable(path)
    with atomic_path(target) as tmp:
        with h5py.File(tmp, "w") as h5:
            writer = PredictionWriter(h5, n_rows, inputs, outputs, attrs)
            yield writer
        if writer.row != n_rows:
            raise RuntimeError(f"{target}: wrote {writer.row} of {n_rows} rows")
