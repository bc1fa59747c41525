"""Metrics of a trained run on its own splits or on another table with the same columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .metrics import metrics_table
from .errors import RunError, TableError, UserError
from .run import load_run
from .table import Table

PREDICT_CHUNK = 65536


def evaluate_run(run_dir: str | Path, table_path: str | Path | None = None,
                 split: str = "test") -> tuple[dict[str, dict[str, float]], str]:
    """({output: metrics}, label): the run's `split` of its training table, or every row of `table_path`."""
    run = load_run(run_dir)
    if run.config.get("dataset", "scattered") != "scattered":
        raise RunError(f"{run_dir}: trained by task {run.task!r} on a {run.config['dataset']} dataset; "
                       "`surrogate evaluate` scores models of table rows; this run's metrics are in metrics.json")
    table = Table(table_path or run.table_path)
    if table_path is None:
        rows = run.split_indices(split)
        label = split
        if len(rows) and (rows.min() < 0 or rows.max() >= table.n_rows):
            raise RunError(f"{run.path}: split {split!r} names row {int(rows.max())}, but {table.path} has "
                           f"{table.n_rows} rows; the run or its table is damaged")
        if not len(rows):
            raise UserError(f"--split {split}: the run's {split} split is empty; choose another split")
    else:
        rows = np.arange(table.n_rows)
        label = f"all rows of {table.path.name}"
        if not table.n_rows:
            raise TableError(f"{table.path}: the table has no rows to evaluate on")
    inputs, outputs = scored_columns(run.signature)
    x = table.check_finite(table.read_matrix(inputs)[rows], inputs, rows)
    y = table.check_finite(table.read_matrix(outputs)[rows], outputs, rows)
    pred = np.concatenate([run.predict(x[s:s + PREDICT_CHUNK]) for s in range(0, len(x), PREDICT_CHUNK)])
    return metrics_table(y, pred, outputs), label


def scored_columns(signature: dict) -> tuple[list[str], list[str]]:
    """(table columns of the model's first input tensor, of its first output tensor): what the physical model
    takes and returns, which may differ from the network's own features (a CVAE in a momentum frame); further
    input tensors (a CVAE's latent) keep their default (z = 0)."""
    return ([component["name"] for component in signature["inputs"][0]["components"]],
            [component["name"] for component in signature["outputs"][0]["components"]])
