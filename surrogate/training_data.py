"""Training data: columns read from a table, a seeded train/val/test split, scalers fitted on train only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import UserError
from .contracts import DataStatistics
from .scaling import InputScaler, OutputScaler
from .table import Table


def split_indices(n_rows: int, val_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Seeded random partition of row indices into train, val and test (each sorted); the fractions are those
    :meth:`surrogate.config.TrainOptions.validate` checked."""
    order = np.random.default_rng(seed).permutation(n_rows)
    n_val, n_test = int(round(val_fraction * n_rows)), int(round(test_fraction * n_rows))
    return {
        "val": np.sort(order[:n_val]),
        "test": np.sort(order[n_val:n_val + n_test]),
        "train": np.sort(order[n_val + n_test:]),
    }


def split_groups(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int,
                 train_groups: Sequence[int] = ()) -> dict[str, np.ndarray]:
    """Seeded partition of rows by whole groups (flamelets, trajectories): the groups, not the rows, are drawn
    into val and test (:func:`group_assignment`), so held-out scores measure generalization to unseen
    conditions."""
    chosen = group_assignment(np.unique(labels), val_fraction, test_fraction, seed, train_groups)
    return {split: np.sort(np.flatnonzero(np.isin(labels, members))) for split, members in chosen.items()}


def group_assignment(groups: np.ndarray, val_fraction: float, test_fraction: float, seed: int,
                     train_groups: Sequence[int] = ()) -> dict[str, np.ndarray]:
    """{split: group labels} for the distinct, sorted `groups`: about the given fractions of groups drawn into
    val and test. `train_groups` always stay in training: the groups that bound the data (the extinguished
    flamelet is the table's only frozen state; holding it out asks the model to extrapolate, not generalize).
    Needs at least one drawable group per non-empty split. Streamed training (:mod:`surrogate.streaming`)
    draws the same groups from the labels alone."""
    kept = np.isin(groups, np.asarray(train_groups, dtype=groups.dtype))
    drawable = groups[~kept]
    parts = split_indices(len(drawable), val_fraction, test_fraction, seed)
    for split, fraction in (("val", val_fraction), ("test", test_fraction)):
        if fraction > 0 and len(parts[split]) == 0:
            parts[split] = parts["train"][:1]
            parts["train"] = parts["train"][1:]
    if len(parts["train"]) == 0 and not kept.any():
        raise UserError(f"only {len(groups)} groups: too few to hold out whole groups for val and test")
    chosen = {split: drawable[index] for split, index in parts.items()}
    chosen["train"] = np.concatenate([chosen["train"], groups[kept]])
    return chosen


BYTES_PER_VALUE = 24  # in-memory training per table value: float64 read and stacked, float32 device matrix


def available_memory() -> int | None:
    """Bytes the OS says a new allocation can take without swapping (Linux MemAvailable); None elsewhere."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_fits_in_memory(table: Table, n_columns: int) -> None:
    """A table too large to read whole is a one-line error naming --stream-memory, not an out-of-memory kill."""
    needed, available = table.n_rows * n_columns * BYTES_PER_VALUE, available_memory()
    if available is not None and needed > available:
        raise UserError(f"{table.path}: training on its {table.n_rows} rows in memory needs about "
                        f"{needed / 2**30:.1f} GiB, {available / 2**30:.1f} GiB are available; stream it "
                        "with --stream-memory MB")


@dataclass
class TrainingData:
    """Physical inputs and targets of the whole table, the split, and the scalers fitted on train."""

    input_names: list[str]
    output_names: list[str]
    x: np.ndarray
    y: np.ndarray
    splits: dict[str, np.ndarray]
    input_scaler: InputScaler
    output_scaler: OutputScaler

    @classmethod
    def from_table(
        cls,
        table: Table,
        inputs: Sequence[str],
        outputs: Sequence[str],
        log_inputs: Sequence[str],
        softmax_mask: Sequence[bool],
        splits: dict[str, np.ndarray],
        given_floors: Sequence[float | None] | None = None,
    ) -> "TrainingData":
        check_fits_in_memory(table, len(inputs) + len(outputs))
        x = table.read_matrix(list(inputs))
        y = table.read_matrix(list(outputs))
        for name, column in zip([*inputs, *outputs], [*x.T, *y.T]):
            if not np.all(np.isfinite(column)):
                raise UserError(f"{table.path}: column {name!r} has non-finite values")
        train = splits["train"]
        if len(train) < 2:
            raise UserError(f"{table.path}: only {len(train)} training rows; need more data or smaller val/test")
        log = [name in log_inputs for name in inputs]
        return cls(
            input_names=list(inputs),
            output_names=list(outputs),
            x=x,
            y=y,
            splits=splits,
            input_scaler=InputScaler.fit(x[train], log, given_floors),
            output_scaler=OutputScaler.fit(y[train], softmax_mask),
        )

    def input_ranges(self) -> dict[str, list[float]]:
        """{input: [min, max]} over the training rows: the range the surrogate is valid in."""
        x = self.x[self.splits["train"]]
        return {name: [float(x[:, j].min()), float(x[:, j].max())] for j, name in enumerate(self.input_names)}

    def statistics(self, y_model_train: np.ndarray) -> DataStatistics:
        """Mean and variance of each model-space target over the training rows."""
        return DataStatistics(
            output_names=list(self.output_names),
            mean={n: float(v) for n, v in zip(self.output_names, y_model_train.mean(axis=0))},
            variance={n: float(v) for n, v in zip(self.output_names, y_model_train.var(axis=0))},
            n_samples=int(y_model_train.shape[0]),
        )
