"""Metrics of a trained run on its own splits or on another table with the same columns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .baselines import Baselines, judge, row_baselines
from .errors import RunError, TableError, UserError
from .metrics import metrics_table
from .run import LoadedRun, load_run
from .table import Table

PREDICT_CHUNK = 65536


def evaluate_run(run_dir: str | Path, table_path: str | Path | None = None, split: str = "test",
                 accept_table_change: bool = False) -> tuple[dict[str, dict[str, float]], str, dict[str, Any]]:
    """({output: metrics}, label, verdict): the run's `split` of its training table, or every row of `table_path`;
    the verdict (:func:`surrogate.baselines.judge`) sets the model beside the trivial baselines on the same rows.
    The training table must be the one the run recorded unless `accept_table_change` (see
    :meth:`surrogate.run.LoadedRun.table`)."""
    run = load_run(run_dir, accept_table_change=accept_table_change)
    if run.config.get("dataset", "scattered") != "scattered":
        raise RunError(f"{run_dir}: trained by task {run.task!r} on a {run.config['dataset']} dataset; "
                       "`surrogate evaluate` scores models of table rows; this run's metrics are in metrics.json")
    if table_path is None:
        table = run.table()
        rows = run.split_rows(split, table)
        label = split
        if not len(rows):
            raise UserError(f"--split {split}: the run's {split} split is empty; choose another split")
    else:
        table = Table(table_path)
        rows = np.arange(table.n_rows)
        label = f"all rows of {table.path.name}"
        if not table.n_rows:
            raise TableError(f"{table.path}: the table has no rows to evaluate on")
    inputs, outputs = scored_columns(run.signature)
    x = table.check_finite(table.read_matrix(inputs)[rows], inputs, rows)
    y = table.check_finite(table.read_matrix(outputs)[rows], outputs, rows)
    pred = np.concatenate([run.predict(x[s:s + PREDICT_CHUNK]) for s in range(0, len(x), PREDICT_CHUNK)])
    metrics = metrics_table(y, pred, outputs)
    return metrics, label, judge(metrics, run_baselines(run, inputs, outputs, x, y), label)


def run_baselines(run: LoadedRun, inputs: list[str], outputs: list[str], x: np.ndarray, y: np.ndarray) -> Baselines:
    """The row baselines (:func:`surrogate.baselines.row_baselines`) at (x, y), from the training rows of the run's
    own table, whose structured lookup is the one the surrogate replaces; skipped, with the reason, when that
    table or the run's training rows are not there."""
    try:
        table = run.table()
        train = run.split_rows("train", table)
    except (RunError, TableError) as exc:
        return Baselines(skipped={"training mean, table lookup or interpolation": str(exc)})
    x_train = table.read_matrix(inputs)[train]
    y_train = table.read_matrix(outputs)[train]
    log_inputs = [name for name in run.config.get("log_inputs") or () if name in inputs]
    trainer = run.config.get("trainer", {})
    return row_baselines(x_train, y_train, x, y, inputs, outputs, log_inputs, run.table_path,
                         int(trainer.get("seed", 0)), held_out_groups=trainer.get("split_by") == "group")


def scored_columns(signature: dict) -> tuple[list[str], list[str]]:
    """(table columns of the model's first input tensor, of its first output tensor): what the physical model
    takes and returns, which may differ from the network's own features (a CVAE in a momentum frame); further
    input tensors (a CVAE's latent) keep their default (z = 0)."""
    return ([component["name"] for component in signature["inputs"][0]["components"]],
            [component["name"] for component in signature["outputs"][0]["components"]])
