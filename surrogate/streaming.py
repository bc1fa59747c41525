"""Rows streamed from a chunked table: training on tables larger than memory, within a stated memory budget.

A table's columns are chunked by rows (:data:`surrogate.table.CHUNK_ROWS`) and compressed, so the cheap unit
of reading is a *block* of rows aligned with those chunks. Streaming never holds more than a shuffle buffer:

- **split**: decided per row without a list of all rows. A random split draws row ``i`` into val or test when
  a counter-based hash of ``(seed, i)`` (splitmix64) falls below the fractions, so any block's split is known
  from its row numbers alone; a grouped split assigns whole groups (flamelets) exactly as the in-memory
  :func:`surrogate.training_data.split_groups` does, from the set of labels read in one streaming pass.
- **statistics**: one pass over the blocks merges per-block moments (Chan et al.'s parallel variance), minima,
  maxima and smallest positive values per split, which is all the scalers, the weighting statistics, the
  valid input ranges and the final metrics' R² need.
- **shuffling**: each epoch visits the blocks in a shuffled order, fills a buffer with as many blocks as the
  budget allows, shuffles the buffer's rows and cuts it into batches (rows left over join the next fill), as
  tf.data and WebDataset shuffle shards. When the buffer holds every training row the blocks are not
  reordered and the buffer is the training rows in table order, so the batches are those of in-memory
  training with the same generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .training_data import group_assignment
from .errors import UserError

SPLITS = ("train", "val", "test")
CODES = {name: code for code, name in enumerate(SPLITS)}
MB = 1 << 20
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def row_uniform(rows: np.ndarray, seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per row number, fixed by (seed, row): splitmix64 of seed·φ + row."""
    with np.errstate(over="ignore"):
        z = np.asarray(rows, dtype=np.uint64) * _GOLDEN + np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * np.uint64(
            0xD1B54A32D192ED03)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


@dataclass
class RowSplit:
    """Which split each row belongs to, computable block by block: a row hash (random) or a group lookup."""

    val_fraction: float
    test_fraction: float
    seed: int
    groups: np.ndarray | None = None  # sorted group labels (grouped split)
    group_codes: np.ndarray | None = None  # split code of each of `groups`

    @classmethod
    def random(cls, val_fraction: float, test_fraction: float, seed: int) -> "RowSplit":
        return cls(val_fraction, test_fraction, seed)

    @classmethod
    def grouped(cls, labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int,
                train_groups: Sequence[int] = ()) -> "RowSplit":
        """Whole groups drawn as :func:`surrogate.training_data.split_groups` draws them; `labels` are the distinct
        group labels (read in a streaming pass), not one per row."""
        chosen = group_assignment(np.unique(labels), val_fraction, test_fraction, seed, train_groups)
        groups = np.sort(np.concatenate(list(chosen.values())))
        codes = np.empty(len(groups), dtype=np.uint8)
        for split, members in chosen.items():
            codes[np.searchsorted(groups, members)] = CODES[split]
        return cls(val_fraction, test_fraction, seed, groups, codes)

    @property
    def by_group(self) -> bool:
        return self.groups is not None

    def codes(self, start: int, stop: int, labels: np.ndarray | None = None) -> np.ndarray:
        """Split code (0 train, 1 val, 2 test) of rows start..stop-1 (`labels`: their group labels)."""
        if self.groups is not None:
            assert labels is not None and self.group_codes is not None
            return self.group_codes[np.searchsorted(self.groups, labels)]
        u = row_uniform(np.arange(start, stop), self.seed)
        codes = np.zeros(stop - start, dtype=np.uint8)
        codes[u < self.val_fraction + self.test_fraction] = CODES["test"]
        codes[u < self.val_fraction] = CODES["val"]
        return codes


class BlockReader:
    """Blocks of `block_rows` consecutive rows of chosen columns (float64) with their split codes; the file is
    opened once per reader."""

    def __init__(self, path: str | Path, columns: Sequence[tuple[str, str]], split: RowSplit, n_rows: int,
                 block_rows: int, group_column: str | None = None):
        self.path, self.columns, self.split, self.n_rows = Path(path), list(columns), split, n_rows
        self.block_rows = max(1, int(block_rows))
        self.group_column = group_column
        self._h5: Any = None

    @property
    def n_blocks(self) -> int:
        return -(-self.n_rows // self.block_rows)

    def bounds(self, block: int) -> tuple[int, int]:
        start = block * self.block_rows
        return start, min(self.n_rows, start + self.block_rows)

    def file(self) -> Any:
        if self._h5 is None:
            import h5py

            self._h5 = h5py.File(self.path, "r")
        return self._h5

    def labels(self, block: int) -> np.ndarray:
        start, stop = self.bounds(block)
        return np.asarray(self.file()["labels"][self.group_column][start:stop], dtype=np.int64)

    def read(self, block: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows × columns float64 matrix, split code per row) of one block."""
        start, stop = self.bounds(block)
        h5 = self.file()
        matrix = np.empty((stop - start, len(self.columns)))
        for j, (group, name) in enumerate(self.columns):
            matrix[:, j] = h5[group][name][start:stop]
        labels = self.labels(block) if self.split.by_group else None
        return matrix, self.split.codes(start, stop, labels)

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None


def distinct_labels(path: str | Path, name: str, n_rows: int, block_rows: int) -> np.ndarray:
    """The distinct values of an integer label, read block by block."""
    import h5py

    seen: set[int] = set()
    with h5py.File(path, "r") as h5:
        column = h5["labels"][name]
        for start in range(0, n_rows, block_rows):
            seen.update(np.unique(np.asarray(column[start:start + block_rows], dtype=np.int64)).tolist())
    return np.array(sorted(seen), dtype=np.int64)


@dataclass
class Moments:
    """Count, mean, sum of squared deviations, minimum, maximum, smallest positive value and largest
    magnitude of each column, merged block by block (Chan, Golub & LeVeque's pairwise update)."""

    count: int = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    min_positive: np.ndarray | None = None
    max_abs: np.ndarray | None = None

    def add(self, rows: np.ndarray) -> None:
        n = len(rows)
        if n == 0:
            return
        mean, var = rows.mean(axis=0), rows.var(axis=0)
        positive = np.where(rows > 0, rows, np.inf).min(axis=0)
        if self.count == 0:
            self.count, self.mean, self.m2 = n, mean, var * n
            self.low, self.high, self.min_positive = rows.min(axis=0), rows.max(axis=0), positive
            self.max_abs = np.abs(rows).max(axis=0)
            return
        assert self.mean is not None and self.m2 is not None
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + var * n + delta**2 * (self.count * n / total)
        self.count = total
        self.low = np.minimum(self.low, rows.min(axis=0))
        self.high = np.maximum(self.high, rows.max(axis=0))
        self.min_positive = np.minimum(self.min_positive, positive)
        self.max_abs = np.maximum(self.max_abs, np.abs(rows).max(axis=0))

    def columns(self, index: slice) -> "Moments":
        """The moments of some of the columns."""
        arrays = (self.mean, self.m2, self.low, self.high, self.min_positive, self.max_abs)
        return Moments(self.count, *(None if a is None else a[index] for a in arrays))

    @property
    def variance(self) -> np.ndarray:
        assert self.m2 is not None
        return self.m2 / max(self.count, 1)


@dataclass
class StreamStatistics:
    """Moments of every column over each split, from one pass over the blocks."""

    splits: dict[str, Moments] = field(default_factory=lambda: {name: Moments() for name in SPLITS})

    @classmethod
    def collect(cls, reader: BlockReader, progress: bool | None = None) -> "StreamStatistics":
        """`progress` None: a bar when stderr is a terminal."""
        from tqdm.auto import tqdm

        stats = cls()
        bar = tqdm(range(reader.n_blocks), desc="statistics", unit="block",
                   disable=None if progress is None else not progress)
        for block in bar:
            matrix, codes = reader.read(block)
            if not np.all(np.isfinite(matrix)):
                bad = int(np.flatnonzero(~np.isfinite(matrix).all(axis=0))[0])
                raise UserError(f"{reader.path}: column {reader.columns[bad][1]!r} has non-finite values")
            for split, moments in stats.splits.items():
                moments.add(matrix[codes == CODES[split]])
        return stats

    def count(self, split: str) -> int:
        return self.splits[split].count


def buffer_rows(memory_mb: float, bytes_per_row: int, batch_size: int) -> int:
    """Rows a shuffle buffer of `memory_mb` holds (at least one batch)."""
    if not memory_mb > 0:
        raise UserError(f"--stream-memory {memory_mb}: expected a positive number of MB")
    return max(batch_size, int(memory_mb * MB) // bytes_per_row)


def shuffled_fills(reader: BlockReader, split: str, capacity_rows: int, generator: Any) -> Iterator[np.ndarray]:
    """The rows of `split` in buffer fills of at most about `capacity_rows` rows: blocks in a shuffled order
    (table order when one fill takes them all), each fill's blocks read in table order and concatenated."""
    import torch

    per_fill = max(1, capacity_rows // reader.block_rows)
    if per_fill >= reader.n_blocks:
        order = list(range(reader.n_blocks))
    else:
        order = torch.randperm(reader.n_blocks, generator=generator).tolist()
    for begin in range(0, len(order), per_fill):
        parts = []
        for block in sorted(order[begin:begin + per_fill]):
            matrix, codes = reader.read(block)
            parts.append(matrix[codes == CODES[split]])
        yield np.concatenate(parts) if parts else np.empty((0, len(reader.columns)))


def ordered_chunks(reader: BlockReader, split: str, chunk_rows: int) -> Iterator[np.ndarray]:
    """The rows of `split` in table order, in chunks of at most `chunk_rows` rows (evaluation)."""
    pending: list[np.ndarray] = []
    held = 0
    for block in range(reader.n_blocks):
        matrix, codes = reader.read(block)
        rows = matrix[codes == CODES[split]]
        pending.append(rows)
        held += len(rows)
        while held >= chunk_rows:
            merged = np.concatenate(pending)
            yield merged[:chunk_rows]
            pending, held = [merged[chunk_rows:]], held - chunk_rows
    if held:
        yield np.concatenate(pending)


def shuffled_batches(fills: Iterator[np.ndarray], batch_size: int, generator: Any,
                     convert: Any) -> Iterator[Any]:
    """Batches of `batch_size` rows (the last one smaller) from buffer fills: each fill, with the rows the
    previous one left over, becomes a tensor (`convert`) whose rows are shuffled by `generator` and cut into
    batches. With a single fill these are ``rows[randperm(n)].split(batch_size)``, as in memory."""
    import torch

    carry = None
    for rows in fills:
        data = convert(rows)
        if carry is not None and len(carry):
            data = torch.cat([carry, data])
        data = data[torch.randperm(len(data), generator=generator).to(data.device)]
        full = len(data) - len(data) % batch_size
        yield from data[:full].split(batch_size)
        carry = data[full:]
    if carry is not None and len(carry):
        yield carry


@dataclass
class MetricSums:
    """Per-output sums behind :mod:`surrogate.metrics` (R², MSE, mean relative error, max error), accumulated
    chunk by chunk; ``ss_tot`` and the relative-error floor come from the split's :class:`Moments`."""

    moments: Moments
    count: int = 0
    ss_res: np.ndarray | float = 0.0
    relative: np.ndarray | float = 0.0
    max_abs: np.ndarray | float = 0.0

    def add(self, y_true: np.ndarray, y_pred: np.ndarray, floor_fraction: float) -> None:
        if not len(y_true):
            return
        assert self.moments.max_abs is not None
        error = y_pred - y_true
        floor = np.maximum(floor_fraction * self.moments.max_abs, 1e-300)
        self.count += len(y_true)
        self.ss_res = self.ss_res + (error**2).sum(axis=0)
        self.relative = self.relative + (np.abs(error) / np.maximum(np.abs(y_true), floor)).sum(axis=0)
        self.max_abs = np.maximum(self.max_abs, np.abs(error).max(axis=0))

    def table(self, names: Sequence[str]) -> dict[str, dict[str, float]]:
        ss_tot = self.moments.m2
        assert ss_tot is not None
        n = max(self.count, 1)
        return {name: {"r2": 1.0 - float(self.ss_res[j]) / float(ss_tot[j]) if ss_tot[j] > 0 else float("nan"),
                       "mse": float(self.ss_res[j]) / n, "mre": float(self.relative[j]) / n,
                       "max_abs": float(self.max_abs[j])}
                for j, name in enumerate(names)}
