"""Per-output regression metrics in physical units: R², MSE, mean relative error, max absolute error."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

RELATIVE_FLOOR = 1e-3


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination 1 - SS_res/SS_tot (1 is perfect, ≤ 0 is no better than the mean).

    Undefined (NaN) when the output is constant over the rows (SS_tot = 0, e.g. a species absent from the
    table) or there are no rows: there is no variance to explain. Files keep it undefined: ``metrics.json`` is
    written by :func:`surrogate.atomic.write_json`, which stores NaN as ``null`` (strict JSON has no NaN)."""
    ss_res = float(np.sum((y_true - y_pred) ** 2))
    ss_tot = float(np.sum((y_true - np.mean(y_true)) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def mean_relative_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """mean |ŷ - y| / max(|y|, f·max|y|): relative error, floored at f = 1e-3 of the output's largest
    magnitude so values near zero (trace species at the streams) do not dominate."""
    floor = RELATIVE_FLOOR * float(np.max(np.abs(y_true))) if y_true.size else 1.0
    return float(np.mean(np.abs(y_pred - y_true) / np.maximum(np.abs(y_true), max(floor, 1e-300))))


def output_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    error = y_pred - y_true
    return {
        "r2": r2_score(y_true, y_pred),
        "mse": float(np.mean(error**2)),
        "mre": mean_relative_error(y_true, y_pred),
        "max_abs": float(np.max(np.abs(error))) if error.size else 0.0,
    }


def metrics_table(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """{output: {r2, mse, mre, max_abs}} for (n, len(names)) arrays."""
    return {name: output_metrics(y_true[:, j], y_pred[:, j]) for j, name in enumerate(names)}


HIGHER_IS_BETTER = ("r2",)


def headline_metric(metrics: Mapping[str, Mapping[str, float]]) -> str:
    """The metric a run is judged by: R² when the task reports it (rows), else the first metric the task
    reports per output (a PINN's relative L2 error, a rollout's state MSE)."""
    first = next(iter(metrics.values()))
    return "r2" if "r2" in first else next(iter(first))
