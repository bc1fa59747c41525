"""Tables of any number of rows for scale tests: an existing table resampled densely by interpolation.

Each new row lies on the segment between two consecutive rows of the source table that belong to the same
group (the same flamelet, whose rows follow its mixture-fraction grid; any two consecutive rows when the table
declares no group column): ``row = (1 - t) a + t b`` with t uniform in [0, 1), for every input and output
alike. A convex combination keeps what a table guarantees row by row: mass fractions stay in [0, 1] and sum to
one, and the new points fill the source's manifold instead of adding noise. The group label of ``a`` is kept,
so grouped splits still hold out whole flamelets.

The output is written chunk by chunk (chunked, compressed: :func:`surrogate.table.create_dataset`), so memory
holds the source and one chunk, whatever the row count. Each chunk is drawn from its own seeded generator and
the rows written so far are recorded in the partial file: a killed build resumes where it stopped and gives
the same file; the partial file is renamed onto the output when complete. A write that fails (a full disk) removes
it instead: what HDF5 could not write leaves it inconsistent, so there is nothing to resume from.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from ..atomic import check_writable, naming_failed_writes
from ..errors import UserError
from ..h5write import h5_file
from ..table import CHUNK_ROWS, Table, create_dataset, file_sha256, write_root_attrs


def segments(table: Table) -> tuple[np.ndarray, np.ndarray | None]:
    """(start row of every segment between consecutive rows of one group, group labels or None)."""
    if table.n_rows < 2:
        raise UserError(f"{table.path}: {table.n_rows} rows; need at least two to interpolate between")
    group = table.defaults.group_column
    labels = table.read_labels(group) if group else None
    starts = np.arange(table.n_rows - 1)
    if labels is not None:
        starts = starts[labels[:-1] == labels[1:]]
    if not len(starts):
        raise UserError(f"{table.path}: no two consecutive rows share a {group!r} label; nothing to interpolate")
    return starts, labels


def resample_table(source: str | os.PathLike, output: str | os.PathLike, rows: int, seed: int = 0,
                   progress: bool = True) -> Path:
    """Write `rows` rows interpolated within the groups of `source` to `output` (resumable, atomic rename)."""
    import h5py
    from tqdm.auto import tqdm

    if rows < 1:
        raise UserError(f"--rows {rows}: expected a positive number of rows")
    table = Table(source)
    target = check_writable(output)
    partial = target.with_name(f".{target.name}.partial")
    starts, labels = segments(table)
    names = table.columns
    data = table.read_matrix(names)
    signature = json.dumps({"source_sha256": file_sha256(table.path), "rows": rows, "seed": seed})
    done = 0
    if partial.exists():
        with h5py.File(partial, "r") as h5:
            same = h5.attrs.get("resample_signature") == signature
            done = int(h5.attrs.get("rows_written", 0)) if same else 0
        if not same:
            partial.unlink()
    began = time.perf_counter()
    try:
        with naming_failed_writes(target, partial), h5_file(partial, "a") as h5:
            if not done:
                create_layout(h5, table, rows, signature, labels is not None)
            columns = [h5["inputs" if name in table.input_names else "outputs"][name] for name in names]
            label = h5["labels"][table.defaults.group_column] if labels is not None else None
            bar = tqdm(total=rows, initial=done, unit="row", unit_scale=True, desc=f"resample {target.name}",
                       disable=not progress)
            for start in range(done, rows, CHUNK_ROWS):
                stop = min(rows, start + CHUNK_ROWS)
                chunk, first = draw_chunk(data, starts, seed, start, stop)
                for j, column in enumerate(columns):
                    column[start:stop] = chunk[:, j]
                if label is not None and labels is not None:
                    label[start:stop] = labels[first]
                h5.attrs["rows_written"] = stop
                h5.flush()
                bar.update(stop - start)
            bar.close()
            h5.attrs["resample_seconds"] = time.perf_counter() - began
    except OSError:  # a write HDF5 could not finish (a full disk) leaves the partial file inconsistent
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return target


def draw_chunk(data: np.ndarray, starts: np.ndarray, seed: int, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows start..stop-1 of the output and the source row each begins from: a generator of its own per chunk,
    so a resumed build draws what an uninterrupted one would."""
    rng = np.random.default_rng([seed, start // CHUNK_ROWS])
    first = starts[rng.integers(0, len(starts), stop - start)]
    t = rng.random(stop - start)[:, None]
    return (1.0 - t) * data[first] + t * data[first + 1], first


def create_layout(h5: object, table: Table, rows: int, signature: str, with_labels: bool) -> None:
    """Root attributes (the source's, plus where the rows came from) and empty chunked columns."""
    attrs = {k: v for k, v in table.attrs.items()
             if k not in ("format", "format_version", "kind", "dataset", "created", "toolkit_version")}
    attrs.update(resampled_from=str(table.path), resample_method="linear within groups between consecutive rows")
    write_root_attrs(h5, table.kind, attrs)
    h5.attrs["resample_signature"] = signature  # type: ignore[attr-defined]
    h5.attrs["rows_written"] = 0  # type: ignore[attr-defined]
    for group, names in (("inputs", table.input_names), ("outputs", table.output_names)):
        created = h5.create_group(group)  # type: ignore[attr-defined]
        for name in names:
            create_dataset(created, name, table.units(name), table.description(name), shape=(rows,))
        created.attrs["order"] = json.dumps(names)
    if with_labels:
        group = table.defaults.group_column
        create_dataset(h5.create_group("labels"), group, "1", f"{group} of the source row",  # type: ignore
                       shape=(rows,), dtype=np.int64)
