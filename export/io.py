"""Chunked reading of solver inputs (.h5, .npy, .csv) and chunked, atomic writing of predictions (.h5).

Inputs are read ``chunk_rows`` rows at a time, so files larger than memory stream through the model:

- ``.h5``: a thermo-surrogate table (columns read by name from ``/inputs`` or ``/outputs``), or any HDF5 file
  with 1-D datasets named like the model's inputs, at the root or under ``/inputs``;
- ``.npy``: a 2-D array (n_cells, n_inputs) in the model's column order, memory-mapped;
- ``.csv``: comma-separated; a header line of column names selects the model's inputs by name, without one
  the columns must be the model's inputs in order.

Columns must hold real numbers (float or int): complex, bool and string columns are refused, not cast.

The output's format follows its suffix, and it is written to a temporary file renamed when complete:

- ``.h5``/``.hdf5``: a thermo-surrogate table (kind ``inference``): ``/inputs`` holds the cells as given,
  ``/outputs`` the predictions, each column with its units, so every table tool reads it;
- ``.npy``: the predictions, float32 ``(n_cells, n_outputs)`` in the model's output order;
- ``.csv``: the predictions, a header of output names and 9 significant digits (exact for float32).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from surrogate.atomic import atomic_path, reserve
from surrogate.errors import UserError
from surrogate.h5write import H5Output
from surrogate.outputs import Inputs, check_output_file
from surrogate.table import FORMAT, Table, create_dataset, decode_attr, encode_attr, write_root_attrs

from .metadata import REAL_KINDS

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
                for dataset in self.datasets:
                    check_real(path, f"dataset /{dataset}", h5[dataset].dtype)
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
                try:
                    columns = [np.asarray(h5[d][rows], dtype=np.float64) for d in self.datasets]
                except OSError as exc:  # a damaged chunk (bit rot, truncated file) fails its checksum or filter
                    raise InputFileError(f"{self.path}: rows {rows.start}-{rows.stop - 1} are unreadable, the file "
                                         f"is damaged ({str(exc).splitlines()[0][:120]})") from None
                yield np.stack(columns, axis=1)


class NpyReader(InputReader):
    """A memory-mapped 2-D .npy array in the model's column order."""

    def __init__(self, path: Path, names: Sequence[str]):
        try:
            self.array = np.load(path, mmap_mode="r", allow_pickle=False)
        except EOFError:  # an empty file, or one cut short before its header ends
            raise InputFileError(f"{path}: not a readable .npy array (the file is empty or truncated)") from None
        except ValueError as exc:
            raise InputFileError(f"{path}: not a readable .npy array ({exc})") from None
        check_real(path, "array", self.array.dtype)
        if self.array.ndim != 2 or self.array.shape[1] != len(names):
            raise InputFileError(f"{path}: array of shape {self.array.shape}, expected (n_cells, {len(names)}) "
                                 f"with columns {', '.join(names)}")
        self.n_rows = int(self.array.shape[0])

    def chunks(self, chunk_rows: int) -> Iterator[np.ndarray]:
        for start in range(0, self.n_rows, chunk_rows):
            yield np.asarray(self.array[start:start + chunk_rows], dtype=np.float64)


class CsvReader(InputReader):
    """Comma-separated UTF-8 text (a byte-order mark, as spreadsheets write one, is skipped; blank lines too); an
    optional header of names picks and orders the model's columns. Every line has as many fields as the first:
    a longer or shorter line is a damaged file, not something to read around."""

    def __init__(self, path: Path, names: Sequence[str]):
        self.path, self.names = path, list(names)
        lines = self._lines()
        first = next(lines, "")
        self.n_rows = sum(1 for _ in lines) + (1 if first else 0)
        tokens = [t.strip().strip('"') for t in first.split(",")]
        self.width = len(tokens)
        self.has_header = bool(first) and not all(_is_number(t) for t in tokens)
        if self.has_header:
            self.n_rows -= 1
            self.columns = self._header_columns(tokens)
        else:
            if first and len(tokens) != len(self.names):
                raise InputFileError(f"{path}: {len(tokens)} columns and no header; expected {len(self.names)} "
                                     f"columns {', '.join(self.names)} in that order, or a header line")
            self.columns = list(range(len(self.names)))

    def _header_columns(self, tokens: list[str]) -> list[int]:
        """Positions of the model's columns in the header; each must be there exactly once."""
        missing = [n for n in self.names if n not in tokens]
        if missing:
            raise InputFileError(f"{self.path}: header has no column {', '.join(map(repr, missing))}; the model "
                                 f"needs {', '.join(self.names)} (header: {', '.join(tokens)})")
        repeated = [n for n in self.names if tokens.count(n) > 1]
        if repeated:
            raise InputFileError(f"{self.path}: header names column {', '.join(map(repr, repeated))} more than once; "
                                 "which one the model should take is ambiguous")
        return [tokens.index(n) for n in self.names]

    def _lines(self) -> Iterator[str]:
        """The non-blank lines; a file that is not UTF-8 text is an InputFileError."""
        try:
            with open(self.path, encoding="utf-8-sig") as handle:
                yield from (line for line in handle if line.strip())
        except UnicodeDecodeError as exc:
            raise InputFileError(f"{self.path}: not UTF-8 text ({exc.reason}); save it as UTF-8 CSV") from None

    def chunks(self, chunk_rows: int) -> Iterator[np.ndarray]:
        lines = self._lines()
        if self.has_header:
            next(lines)
        line_no = 2 if self.has_header else 1
        while block := list(itertools.islice(lines, chunk_rows)):
            self._check_widths(block, line_no)
            try:
                values = np.loadtxt(block, delimiter=",", ndmin=2, usecols=self.columns, dtype=np.float64)
            except ValueError as exc:
                raise InputFileError(f"{self.path}: {self._unreadable(block, line_no, exc)}") from None
            line_no += len(block)
            yield values

    def _unreadable(self, block: list[str], line_no: int, exc: ValueError) -> str:
        """Which line and column of `block` (first line: data line `line_no`) holds no number, for the message."""
        for offset, line in enumerate(block):
            fields = line.split(",")
            for name, column in zip(self.names, self.columns):
                if not _is_number(fields[column].strip()):
                    return f"data line {line_no + offset}: {fields[column].strip()!r} in column {name} is not a number"
        return f"unreadable number in data lines {line_no}-{line_no + len(block) - 1} ({exc})"

    def _check_widths(self, block: list[str], line_no: int) -> None:
        for offset, line in enumerate(block):
            if line.count(",") + 1 != self.width:
                raise InputFileError(f"{self.path}: data line {line_no + offset} has {line.count(',') + 1} fields, "
                                     f"the {'header' if self.has_header else 'first line'} {self.width}")


def check_real(path: Path, what: str, dtype: np.dtype) -> None:
    """Real numbers only (float, int): a complex, bool, string or record column would be cast, and so corrupted,
    without a word."""
    if dtype.kind not in REAL_KINDS:
        raise InputFileError(f"{path}: {what} has dtype {dtype}; expected real numbers (float or int)")


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
        raise InputFileError(f"{path}: {'is a directory, expected a file' if path.is_dir() else 'no such file'}")
    readers = {".h5": HDF5Reader, ".hdf5": HDF5Reader, ".npy": NpyReader, ".csv": CsvReader}
    suffix = path.suffix.lower()
    if suffix not in readers:
        raise InputFileError(f"{path}: unknown input type {suffix!r}; expected one of {', '.join(SUFFIXES)}")
    reader = readers[suffix](path, names)
    if reader.n_rows == 0:  # most likely the wrong file, or a header-only export; an empty table helps no one
        raise InputFileError(f"{path}: no cells to evaluate (0 data rows)")
    return reader


class PredictionWriter:
    """Chunks of cells x (rows, n_inputs) and predictions y (rows, n_outputs) appended in order to one open
    temporary file; ``row`` counts the rows written, ``close()`` finishes the file."""

    row = 0

    def write(self, x: np.ndarray, y: np.ndarray) -> None:
        self._write(x, y)
        self.row += len(x)

    def _write(self, x: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def close(self, failed: bool = False) -> None:
        """Flush and close the file; `failed`: the writing stopped on an error, which is the one to report, so a
        failure to flush what was written is not raised (the file is removed anyway)."""


class HDF5PredictionWriter(PredictionWriter):
    """A thermo-surrogate table of kind 'inference': the cells as given in /inputs, predictions in /outputs."""

    def __init__(self, path: Path, n_rows: int, inputs: dict[str, str], outputs: dict[str, str],
                 attrs: dict[str, Any]):
        self.output = H5Output(path)
        self.h5 = self.output.h5
        try:
            write_root_attrs(self.h5, "inference", attrs)
            self.input_sets = self._create("inputs", inputs, n_rows, np.float64, "cell input")
            self.output_sets = self._create("outputs", outputs, n_rows, np.float32, "surrogate prediction")
        except BaseException:
            self.close(failed=True)
            raise

    def _create(self, group_name: str, columns: dict[str, str], n_rows: int, dtype: Any,
                description: str) -> list[Any]:
        group = self.h5.create_group(group_name)
        group.attrs["order"] = encode_attr(list(columns))
        return [create_dataset(group, name, units, description, shape=(n_rows,), dtype=dtype)
                for name, units in columns.items()]

    def _write(self, x: np.ndarray, y: np.ndarray) -> None:
        rows = slice(self.row, self.row + len(x))
        for j, dataset in enumerate(self.input_sets):
            dataset[rows] = x[:, j]
        for j, dataset in enumerate(self.output_sets):
            dataset[rows] = y[:, j]
        self.output.check()  # a full disk stops the inference at this chunk, not after evaluating them all

    def close(self, failed: bool = False) -> None:
        self.output.close(failed)  # closes even on a full disk (see surrogate.h5write)


class NpyPredictionWriter(PredictionWriter):
    """The predictions alone, float32 (n_cells, n_outputs) in the model's output order, memory-mapped."""

    def __init__(self, path: Path, n_rows: int, inputs: dict[str, str], outputs: dict[str, str],
                 attrs: dict[str, Any]):
        self.array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, len(outputs)))
        try:
            reserve(path)  # the map's pages get their blocks now: on a full disk an OSError, not SIGBUS later
        except BaseException:
            self.close(failed=True)
            raise

    def _write(self, x: np.ndarray, y: np.ndarray) -> None:
        self.array[self.row:self.row + len(y)] = y

    def close(self, failed: bool = False) -> None:
        if not failed:
            self.array.flush()
        del self.array


class CsvPredictionWriter(PredictionWriter):
    """The predictions alone: a header of output names, then one line per cell with 9 significant digits (every
    float32 survives the round trip), as the C example writes them."""

    def __init__(self, path: Path, n_rows: int, inputs: dict[str, str], outputs: dict[str, str],
                 attrs: dict[str, Any]):
        self.handle = open(path, "w")
        self.handle.write(",".join(outputs) + "\n")

    def _write(self, x: np.ndarray, y: np.ndarray) -> None:
        np.savetxt(self.handle, y, fmt="%.9g", delimiter=",")

    def close(self, failed: bool = False) -> None:
        try:
            self.handle.close()  # closes the descriptor even when the last flush fails
        except OSError:
            if not failed:
                raise


WRITERS: dict[str, type[PredictionWriter]] = {".h5": HDF5PredictionWriter, ".hdf5": HDF5PredictionWriter,
                                              ".npy": NpyPredictionWriter, ".csv": CsvPredictionWriter}


def check_output(path: str | os.PathLike, sources: Inputs, overwrite: bool = False) -> Path:
    """`path` as a prediction file, checked before any work (:func:`surrogate.outputs.check_output_file`: not one
    of the `sources`, which the rename at the end would replace, and not an existing file unless `overwrite`)
    with a known suffix, since the format follows it."""
    return _known_suffix(check_output_file(path, inputs=sources, overwrite=overwrite))


def _known_suffix(target: Path) -> Path:
    """`target`, whose suffix must name a format of :data:`WRITERS`."""
    if target.suffix.lower() not in WRITERS:
        raise UserError(f"-o/--output {target}: unknown output type {target.suffix or '(no suffix)'!r}; "
                        f"expected one of {', '.join(WRITERS)}")
    return target


@contextlib.contextmanager
def prediction_file(path: str | os.PathLike, n_rows: int, inputs: dict[str, str], outputs: dict[str, str],
                    attrs: dict[str, Any]) -> Iterator[PredictionWriter]:
    """A PredictionWriter of the format of `path`'s suffix (see :data:`WRITERS`) on a temporary file, renamed
    onto `path` only when all `n_rows` rows were written (the caller checked `path` with :func:`check_output`)."""
    target = _known_suffix(Path(path))
    with atomic_path(target) as tmp:
        writer = WRITERS[target.suffix.lower()](tmp, n_rows, inputs, outputs, attrs)
        try:
            yield writer
        except BaseException:
            writer.close(failed=True)
            raise
        writer.close()
        if writer.row != n_rows:
            raise RuntimeError(f"{target}: wrote {writer.row} of {n_rows} rows")
