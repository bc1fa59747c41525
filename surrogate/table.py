"""The table schema: columnar, self-describing HDF5 shared by every generator and every consumer.

Layout (format ``thermo-surrogate-table``, version 2; version 1 files are read too):

- root attributes: ``format``, ``format_version``, ``kind``, ``dataset`` (``scattered`` here; see
  :mod:`surrogate.datasets` for ``trajectories`` and ``collocation``), ``created``, ``toolkit_version``,
  ``generator`` (JSON ``{kind, name, package, version}`` of the generator plugin, for tables built through
  :func:`surrogate.provenance.build_table`; absent otherwise) and whatever provenance the generator adds
  (mechanism, pressure, streams, Cantera version, element data). Dicts and lists are stored as JSON strings and
  decoded on read.
- the dataset's own defaults, each optional (:class:`DatasetDefaults`): ``default_inputs``,
  ``default_outputs``, ``log_inputs`` (inputs scaled by log10), ``softmax_outputs`` (mass fractions a softmax
  closes to one), ``group_column`` (the label under ``/labels`` that groups rows, e.g. one flamelet),
  ``train_groups`` (values of that label a grouped split keeps in training: groups that bound the data).
  A version 1 file declares none: every input and output, nothing logged or closed, no groups.
- ``/inputs/<name>`` and ``/outputs/<name>``: 1-D float datasets of equal length, each with ``units`` and
  ``description`` attributes; the group attribute ``order`` (JSON list) fixes the column order.
- ``/labels/<name>``: optional 1-D integer datasets of the same length (flamelet index, S-curve index) used
  to split by group; never a model input.
- any other group (e.g. ``/flamelets``) holds raw solutions and is the generator's own business.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from . import __version__
from .atomic import atomic_path, check_writable
from .errors import TableError
from .h5write import h5_file

FORMAT = "thermo-surrogate-table"
FORMAT_VERSION = 2
SCATTERED = "scattered"
DEFAULT_KEYS = ("default_inputs", "default_outputs", "log_inputs", "softmax_outputs", "group_column", "train_groups")
CHUNK_ROWS = 65536
GENERATOR_KEY = "generator"

_generator: ContextVar[Mapping[str, str] | None] = ContextVar("surrogate_table_generator", default=None)


@contextlib.contextmanager
def generated_by(record: Mapping[str, str]) -> Iterator[None]:
    """Tables written within the block (by this process) carry `record`, the origin of the generator plugin that
    writes them, as the root attribute ``generator``: a run trained on the table can say which package made it."""
    token = _generator.set(dict(record))
    try:
        yield
    finally:
        _generator.reset(token)


@dataclass
class Column:
    """One named 1-D column with its physical units and a human description."""

    name: str
    values: np.ndarray
    units: str
    description: str


@dataclass(frozen=True)
class DatasetDefaults:
    """What a dataset says about its own training: columns, log-scaled inputs, mass fractions to close with a
    softmax, and the label that groups rows for held-out-group splits. None: not declared."""

    default_inputs: list[str] | None = None
    default_outputs: list[str] | None = None
    log_inputs: list[str] | None = None
    softmax_outputs: list[str] | None = None
    group_column: str | None = None
    train_groups: list[int] | None = None

    def attrs(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in DEFAULT_KEYS if getattr(self, key) is not None}

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> "DatasetDefaults":
        return cls(**{key: attrs[key] for key in DEFAULT_KEYS if key in attrs and attrs[key] is not None})


def encode_attr(value: Any) -> Any:
    """HDF5-storable form of an attribute value: dicts and lists become JSON strings."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    if value is None:
        return "null"
    return value


def decode_attr(value: Any) -> Any:
    """Inverse of :func:`encode_attr`; numpy scalars become Python scalars."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        if value[:1] in "[{" or value == "null":
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def create_dataset(group: Any, name: str, units: str, description: str, *, data: np.ndarray | None = None,
                   shape: tuple[int, ...] | None = None, dtype: Any = np.float64) -> Any:
    """A dataset chunked by rows and compressed, with its units and description: given `data`, or empty of
    `shape` and `dtype` to be filled in slices. Every chunk carries a Fletcher-32 checksum that HDF5 checks on
    each read, so a flipped bit is an error, not a wrong number."""
    if data is not None:
        data = np.ascontiguousarray(data)
        shape, dtype = data.shape, data.dtype
    assert shape is not None
    chunks = (max(1, min(shape[0], CHUNK_ROWS)), *shape[1:])
    dataset = group.create_dataset(name, shape=shape, dtype=dtype, data=data, chunks=chunks, compression="gzip",
                                   compression_opts=4, shuffle=True, fletcher32=True)  # checksum: bit rot is found
    dataset.attrs["units"] = units
    dataset.attrs["description"] = description
    return dataset


def write_columns(group: Any, columns: Sequence[Column]) -> None:
    """Write columns into an h5py group as chunked, compressed datasets with units and descriptions."""
    n_rows = {len(c.values) for c in columns}
    if len(n_rows) > 1:
        raise ValueError(f"columns of unequal length: { {c.name: len(c.values) for c in columns} }")
    for column in columns:
        create_dataset(group, column.name, column.units, column.description,
                       data=np.asarray(column.values, dtype=np.float64))
    group.attrs["order"] = json.dumps([c.name for c in columns])


def write_root_attrs(h5: Any, kind: str, attrs: Mapping[str, Any], dataset: str = SCATTERED) -> None:
    """The root attributes every table carries (format, version, kind, dataset kind, creation time, toolkit, the
    generator plugin when known), then `attrs`."""
    h5.attrs["format"] = FORMAT
    h5.attrs["format_version"] = FORMAT_VERSION
    h5.attrs["kind"] = kind
    h5.attrs["dataset"] = dataset
    h5.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    h5.attrs["toolkit_version"] = __version__
    generator = _generator.get()
    if generator is not None:
        h5.attrs[GENERATOR_KEY] = encode_attr(generator)
    for key, value in attrs.items():
        h5.attrs[key] = encode_attr(value)


def write_table(
    path: str | os.PathLike,
    *,
    kind: str,
    inputs: Sequence[Column],
    outputs: Sequence[Column],
    attrs: Mapping[str, Any],
    defaults: DatasetDefaults | None = None,
    labels: Sequence[Column] = (),
    extra: Callable[[Any], None] | None = None,
) -> Path:
    """Write a complete scattered table atomically: temporary file first, renamed onto `path` when done.

    `defaults` are the dataset's own training defaults (checked against the columns); `labels` are integer
    row labels (flamelet index, ...) written to ``/labels``; `extra(h5file)` may add further groups (raw
    solutions) before the file is closed.
    """
    target = check_writable(path)
    if len({len(c.values) for c in [*inputs, *outputs, *labels]}) != 1:
        raise ValueError("inputs, outputs and labels must all have the same number of rows")
    defaults = defaults or DatasetDefaults()
    check_defaults(defaults, [c.name for c in inputs], [c.name for c in outputs], [c.name for c in labels],
                   str(target))
    with atomic_path(target) as tmp, h5_file(tmp) as h5:
        write_root_attrs(h5, kind, {**defaults.attrs(), **attrs})
        write_columns(h5.create_group("inputs"), inputs)
        write_columns(h5.create_group("outputs"), outputs)
        if labels:
            group = h5.create_group("labels")
            for label in labels:
                create_dataset(group, label.name, label.units, label.description,
                               data=np.asarray(label.values, dtype=np.int64))
        if extra is not None:
            extra(h5)
    return target


def file_sha256(path: str | os.PathLike) -> str:
    """Content hash of a dataset file, recorded by runs and ONNX models trained on it."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ChecksumReport:
    """What :func:`verify_checksums` read: datasets whose every chunk passed its Fletcher-32 checksum, and
    datasets stored without one (written by another program, or contiguous), read through all the same."""

    verified: int
    unchecked: list[str]


def verify_checksums(path: str | os.PathLike) -> ChecksumReport:
    """Read every dataset of the HDF5 file `path` through, chunk by chunk (bounded memory), so HDF5 checks each
    chunk's checksum and compression: data that changed on disk (bit rot, a partial copy) is a one-line
    TableError naming the dataset and the chunk where it differs, where a summary that reads only some columns
    would say nothing."""
    import h5py

    path = Path(path)
    names: list[str] = []
    try:
        with h5py.File(path, "r") as h5:
            h5.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
            unchecked = [f"/{name}" for name in names if not h5[name].fletcher32]
            for name in names:
                _read_through(path, name, h5[name])
    except OSError as exc:
        raise TableError(f"{path}: not a readable HDF5 file ({exc.__class__.__name__})") from None
    return ChecksumReport(len(names) - len(unchecked), unchecked)


def _read_through(path: Path, name: str, dataset: Any) -> None:
    """Read a chunked `dataset` chunk by chunk (a contiguous one has no filter, so nothing to check); a chunk HDF5
    cannot read back is a TableError naming its first row."""
    if dataset.chunks is None or dataset.size == 0:
        return
    for selection in dataset.iter_chunks():
        try:
            dataset[selection]
        except OSError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise TableError(f"{path}: dataset /{name} differs from its checksum in the chunk at row "
                             f"{selection[0].start} ({reason}); the file is damaged, rebuild or restore it") from None


def check_defaults(defaults: DatasetDefaults, inputs: Sequence[str], outputs: Sequence[str],
                   labels: Sequence[str], owner: str) -> None:
    """Declared defaults must name existing columns: a ValueError for the generator's author otherwise."""
    for key, pool in (("default_inputs", inputs), ("log_inputs", inputs), ("default_outputs", outputs),
                      ("softmax_outputs", outputs)):
        missing = [name for name in getattr(defaults, key) or () if name not in pool]
        if missing:
            raise ValueError(f"{owner}: {key} names {missing[0]!r}, which is not among {list(pool)}")
    if defaults.train_groups and defaults.group_column is None:
        raise ValueError(f"{owner}: train_groups given without a group_column")
    if defaults.group_column is not None and defaults.group_column not in labels:
        raise ValueError(f"{owner}: group_column {defaults.group_column!r} is not among the labels {list(labels)}")


class Table:
    """Read access to a table file; columns are read lazily, whole or in row slices."""

    def __init__(self, path: str | os.PathLike):
        import h5py

        self.path = Path(path)
        if not self.path.is_file():
            raise TableError(f"{self.path}: no such file")
        try:
            with h5py.File(self.path, "r") as h5:
                raw_attrs = dict(h5.attrs)
                fmt = decode_attr(raw_attrs.get("format"))
                if fmt != FORMAT:
                    raise TableError(f"{self.path}: not a {FORMAT} file (root attribute 'format' is {fmt!r})")
                dataset = decode_attr(raw_attrs.get("dataset", SCATTERED))
                if dataset != SCATTERED:
                    raise TableError(f"{self.path}: a {dataset!r} dataset, not a table of rows (open it with "
                                     "surrogate.datasets.open_dataset)")
                for group in ("inputs", "outputs"):
                    if group not in h5:
                        raise TableError(f"{self.path}: table has no /{group} group")
                self.input_names: list[str] = json.loads(h5["inputs"].attrs["order"])
                self.output_names: list[str] = json.loads(h5["outputs"].attrs["order"])
                self._meta = {
                    name: (group, decode_attr(h5[group][name].attrs.get("units", "")),
                           decode_attr(h5[group][name].attrs.get("description", "")))
                    for group, names in (("inputs", self.input_names), ("outputs", self.output_names))
                    for name in names
                }
                self.label_names: list[str] = list(h5["labels"].keys()) if "labels" in h5 else []
                self.n_rows = self._check_columns(h5)
                self.groups = [k for k in h5.keys() if k not in ("inputs", "outputs", "labels")]
        except TableError:
            raise
        except OSError as exc:
            raise TableError(f"{self.path}: not a readable HDF5 file ({exc.__class__.__name__})") from None
        except (KeyError, ValueError, TypeError, AttributeError) as exc:  # forged 'order', a column not a dataset
            raise TableError(f"{self.path}: damaged table structure ({exc.__class__.__name__}: {exc})") from None
        self.attrs: dict[str, Any] = {k: decode_attr(v) for k, v in raw_attrs.items()}
        if int(self.attrs.get("format_version", 0)) > FORMAT_VERSION:
            raise TableError(
                f"{self.path}: table format version {self.attrs['format_version']} is newer than this "
                f"toolkit's ({FORMAT_VERSION}); upgrade thermo-surrogate"
            )

    def _check_columns(self, h5: Any) -> int:
        """The number of rows: every column (and label) must be 1-D, numeric and of one length; only metadata
        is read."""
        columns = [(f"/{group}/{name}", h5[group][name]) for name, (group, _, _) in self._meta.items()]
        columns += [(f"/labels/{name}", h5["labels"][name]) for name in self.label_names]
        if not columns:
            raise TableError(f"{self.path}: the table has no columns")
        lengths = {}
        for where, dataset in columns:
            if dataset.ndim != 1:
                raise TableError(f"{self.path}: column {where} has shape {dataset.shape}, expected one value per row")
            allowed = "iu" if where.startswith("/labels/") else "fiu"
            if dataset.dtype.kind not in allowed:
                raise TableError(f"{self.path}: column {where} holds {dataset.dtype} values, expected "
                                 f"{'integers' if allowed == 'iu' else 'numbers'}")
            lengths[where] = int(dataset.shape[0])
        first, n = next(iter(lengths.items()))
        for where, m in lengths.items():
            if m != n:
                raise TableError(f"{self.path}: columns of unequal length ({first} has {n} rows, {where} has {m}); "
                                 "every column must have one value per row")
        return n

    def check_finite(self, values: np.ndarray, names: Sequence[str], rows: np.ndarray | None = None) -> np.ndarray:
        """`values` (rows × `names`) when all are finite; else a TableError naming the first column with NaN or
        ±inf, how many, and the first table row (`rows`: the table rows of `values`, default 0, 1, ...)."""
        bad = ~np.isfinite(values)
        if bad.any():
            j = int(np.flatnonzero(bad.any(axis=0))[0])
            i = int(np.flatnonzero(bad[:, j])[0])
            row = int(rows[i]) if rows is not None else i
            raise TableError(f"{self.path}: column {names[j]!r} holds {int(bad[:, j].sum())} NaN or infinite "
                             f"values (first at row {row}); remove or repair those rows")
        return values

    @property
    def kind(self) -> str:
        return str(self.attrs.get("kind", ""))

    @property
    def dataset_kind(self) -> str:
        return SCATTERED

    @property
    def defaults(self) -> DatasetDefaults:
        """The training defaults the file declares (none for a version 1 file)."""
        return DatasetDefaults.from_attrs(self.attrs)

    def read_labels(self, name: str) -> np.ndarray:
        """One integer row label (e.g. the flamelet index of every row)."""
        import h5py

        if name not in self.label_names:
            raise TableError(f"{self.path}: no label {name!r} under /labels; labels: "
                             f"{', '.join(self.label_names) or '(none)'}")
        with h5py.File(self.path, "r") as h5:
            return np.asarray(h5["labels"][name][:], dtype=np.int64)

    @property
    def columns(self) -> list[str]:
        return [*self.input_names, *self.output_names]

    def _lookup(self, name: str) -> tuple[str, str, str]:
        if name not in self._meta:
            raise TableError(
                f"{self.path}: no column {name!r}; inputs: {', '.join(self.input_names)}; "
                f"outputs: {', '.join(self.output_names)}"
            )
        return self._meta[name]

    def units(self, name: str) -> str:
        return self._lookup(name)[1]

    def description(self, name: str) -> str:
        return self._lookup(name)[2]

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        """One column as float64, optionally only a slice of rows (for chunked reading)."""
        return self.read_matrix([name], rows)[:, 0]

    def read_matrix(self, names: Sequence[str], rows: slice | None = None) -> np.ndarray:
        """Several columns stacked as an (n_rows, len(names)) float64 array, read with the file opened once."""
        import h5py

        groups = [self._lookup(name)[0] for name in names]
        if not names:
            return np.empty((0, 0))
        selection = rows if rows is not None else slice(None)
        with h5py.File(self.path, "r") as h5:
            return np.stack([self._read_column(h5, group, name, selection) for group, name in zip(groups, names)],
                            axis=1)

    def _read_column(self, h5: Any, group: str, name: str, selection: slice) -> np.ndarray:
        """One column as float64; data HDF5 cannot read back (a checksum or decompression failure: bit rot, a
        truncated file) is a one-line TableError naming the column."""
        try:
            return np.asarray(h5[group][name][selection], dtype=np.float64)
        except OSError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise TableError(f"{self.path}: column /{group}/{name} cannot be read ({reason}); the file is damaged, "
                             "rebuild or restore it") from None

    def sha256(self) -> str:
        return file_sha256(self.path)
