"""Trivial baselines: the predictions a model must beat before its numbers mean anything.

Every task scores a few trivial predictions (the training mean, the table lookup the surrogate replaces, keeping
the initial state, the interpolant of the boundary data, ...) on the split its metrics are reported on, with the
same metric code as the model (:meth:`surrogate.contracts.Task.baselines`). :func:`judge` compares the model with
each of them on the headline metric (:func:`surrogate.metrics.headline_metric`), averaged over the outputs the
baseline predicts, and says whether the model beats them all; ``metrics.json`` keeps the scores (``baselines``)
and the verdict (``beats_baselines``), and :func:`report_lines` is what `surrogate train`, `evaluate` and
`compare` print.

Row models (:func:`row_baselines`) are compared with the mean of the training targets and with what the surrogate
replaces: the table's own structured lookup where it has one (:mod:`surrogate.lookup`), else piecewise-linear
interpolation of the training rows (Delaunay, SciPy's ``LinearNDInterpolator``; the nearest training row outside
their convex hull), tried up to :data:`INTERPOLATION_MAX_INPUTS` inputs, on at most
:data:`INTERPOLATION_MAX_ROWS` training rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import UserError
from .metrics import HIGHER_IS_BETTER, headline_metric, metrics_table

Scores = dict[str, dict[str, float]]  # {output: {metric: value}}, as a split of metrics.json
INTERPOLATION_MAX_INPUTS = 4  # beyond, a Delaunay triangulation of the training rows is too costly to be trivial
# training rows triangulated per number of inputs (a seeded random subset of more): a few seconds each on one core
INTERPOLATION_MAX_ROWS = {2: 200_000, 3: 50_000, 4: 10_000}


@dataclass
class Baselines:
    """Scores of each trivial baseline (``{name: {output: {metric: value}}}``) and, for each one that could not
    be computed, why."""

    scores: dict[str, Scores] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def mean_over_outputs(scores: Mapping[str, Mapping[str, Any]], metric: str, outputs: Sequence[str]) -> float:
    """Mean of `metric` over `outputs`, leaving out undefined values (null/NaN: a constant output's R²); NaN when
    none is defined."""
    values = [float(scores[o][metric]) for o in outputs
              if o in scores and scores[o].get(metric) is not None and not math.isnan(float(scores[o][metric]))]
    return float(np.mean(values)) if values else math.nan


def better(a: float, b: float, metric: str) -> bool:
    """Whether value `a` of `metric` is strictly better than `b` (higher R², lower errors)."""
    return a > b if metric in HIGHER_IS_BETTER else a < b


def judge(model: Mapping[str, Mapping[str, Any]], baselines: Baselines, split: str) -> dict[str, Any]:
    """The entries ``baselines`` and ``beats_baselines`` of metrics.json for a model's scores on `split`.

    ``baselines``: the split, the headline metric, every baseline's scores, the skipped ones with their reason,
    and ``headline``: {baseline: {"model": m, "baseline": b}}, the metric's mean over the outputs that baseline
    predicts for the model and the baseline. ``beats_baselines``: the model is better than every baseline with a
    defined value (None when there is none to compare with)."""
    metric = headline_metric(model)
    headline = {}
    for name, scores in baselines.scores.items():
        outputs = [o for o in scores if o in model]
        headline[name] = {"model": mean_over_outputs(model, metric, outputs),
                          "baseline": mean_over_outputs(scores, metric, outputs)}
    compared = [h for h in headline.values() if not math.isnan(h["baseline"])]
    beats = all(better(h["model"], h["baseline"], metric) for h in compared) if compared else None
    return {"baselines": {"split": split, "metric": metric, "headline": headline, "scores": baselines.scores,
                          "skipped": baselines.skipped},
            "beats_baselines": beats}


def warnings_of(judged: Mapping[str, Any], who: str = "") -> list[str]:
    """One WARNING line per baseline the model does not beat on the headline metric."""
    block = judged.get("baselines") or {}
    metric = block.get("metric", "")
    lines = []
    for name, h in (block.get("headline") or {}).items():
        model, baseline = (math.nan if h[k] is None else h[k] for k in ("model", "baseline"))
        if not math.isnan(baseline) and not better(model, baseline, metric):
            lines.append(f"WARNING: {who}worse than baseline {name!r} on {block['split']} {metric} "
                         f"(model {number(model, metric)}, baseline {number(baseline, metric)})")
    return lines


def number(value: float | None, metric: str) -> str:
    """A metric value as the CLI prints it: R² to 5 decimals, the rest %.3e, undefined as such."""
    if value is None or math.isnan(value):
        return "undefined"
    return f"{value:.5f}" if metric in HIGHER_IS_BETTER else f"{value:.3e}"


def report_lines(metrics: Mapping[str, Any]) -> list[str]:
    """What the CLI prints under a run's metrics: the kept and the last epoch's headline value, each baseline's
    value beside the model's, skipped baselines with their reason, and a WARNING per baseline not beaten."""
    lines = []
    block = metrics.get("baselines") or {}
    last = metrics.get("last_epoch")
    if last:
        split = next(key for key in last if key != "epoch")
        metric = headline_metric(metrics[split])
        outputs = list(metrics[split])
        lines.append(f"kept epoch {metrics.get('kept_epoch')} (least validation score): {split} {metric} "
                     f"{number(mean_over_outputs(metrics[split], metric, outputs), metric)}; last epoch "
                     f"{last['epoch']}: {number(mean_over_outputs(last[split], metric, outputs), metric)}"
                     + (f" (mean over {len(outputs)} outputs)" if len(outputs) > 1 else ""))
    if not block:
        return lines
    metric = block["metric"]
    if block["headline"] or block["skipped"]:
        lines.append(f"trivial baselines on {block['split']}, {metric} (mean over the outputs each predicts):")
    width = max([24, *(len(name) + 2 for name in [*block["headline"], *block["skipped"]])])
    for name, h in block["headline"].items():
        lines.append(f"  {name:<{width}} {number(h['baseline'], metric):>12}   model {number(h['model'], metric)}")
    for name, reason in block["skipped"].items():
        lines.append(f"  {name:<{width}} skipped: {reason}")
    return lines + warnings_of(metrics)


def row_baselines(x_train: np.ndarray, y_train: np.ndarray, x: np.ndarray, y: np.ndarray,
                  input_names: Sequence[str], output_names: Sequence[str], log_inputs: Sequence[str],
                  table: str | PathLike, seed: int = 0, held_out_groups: bool = False) -> Baselines:
    """Baselines of a row model scored on rows (x, y), physical units: the training mean, and the table's own
    lookup (its ``/structured`` grid) or else linear interpolation of the training rows.

    With `held_out_groups` (whole flamelets held out) the structured grid is not a fair baseline: it was built
    from every flamelet, the held-out ones too, so it is skipped with that reason and the training rows are
    interpolated instead."""
    result = Baselines()
    result.scores["training mean"] = metrics_table(y, np.broadcast_to(y_train.mean(axis=0), y.shape), output_names)
    from .lookup import table_lookup

    try:
        _, lookup, _, stored = table_lookup(table, input_names, output_names)
    except UserError:  # no structured grid, or not over these inputs: interpolate the training rows instead
        pass
    else:
        if not held_out_groups:
            columns = [list(output_names).index(name) for name in stored]
            result.scores["table lookup"] = metrics_table(y[:, columns], lookup(x), stored)
            return result
        result.skipped["table lookup"] = ("its structured grid was built from every flamelet, the held-out ones "
                                          "too; the training rows are interpolated instead")
    if len(input_names) > INTERPOLATION_MAX_INPUTS:
        result.skipped["linear interpolation"] = (f"{len(input_names)} inputs (tried up to "
                                                  f"{INTERPOLATION_MAX_INPUTS}) and no structured table")
        return result
    log = [name in log_inputs for name in input_names]
    try:
        predicted = interpolate(x_train, y_train, x, log, seed)
    except ValueError as exc:  # flat training inputs (a constant column): no triangulation
        result.skipped["linear interpolation"] = f"the training inputs span no volume ({str(exc).splitlines()[0]})"
    else:
        result.scores["linear interpolation"] = metrics_table(y, predicted, output_names)
    return result


def interpolate(x_train: np.ndarray, y_train: np.ndarray, x: np.ndarray, log: Sequence[bool],
                seed: int = 0) -> np.ndarray:
    """Piecewise-linear interpolation of the training rows at x (the nearest training row outside their convex
    hull), in coordinates scaled to [0, 1] over the training range (after log10 where `log`), so that no input's
    units dominate the triangulation; at most INTERPOLATION_MAX_ROWS training rows (a seeded random subset;
    every row in 1-D)."""
    from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator
    from scipy.spatial import QhullError

    most = INTERPOLATION_MAX_ROWS.get(x_train.shape[1], len(x_train))
    if len(x_train) > most:
        keep = np.random.default_rng(seed).choice(len(x_train), most, replace=False)
        x_train, y_train = x_train[keep], y_train[keep]
    log_mask = np.asarray(log, dtype=bool)

    def scaled(points: np.ndarray) -> np.ndarray:
        points = np.array(points, dtype=np.float64)
        points[:, log_mask] = np.log10(np.maximum(points[:, log_mask], 1e-300))
        return points

    train, points = scaled(x_train), scaled(x)
    lo, span = train.min(axis=0), np.ptp(train, axis=0)
    span[span == 0] = 1.0
    train, points = (train - lo) / span, (points - lo) / span
    if train.shape[1] == 1:  # Qhull triangulates 2-D and up; np.interp holds the end values outside
        order = np.argsort(train[:, 0])
        return np.stack([np.interp(points[:, 0], train[order, 0], column[order]) for column in y_train.T], axis=1)
    try:
        predicted = LinearNDInterpolator(train, y_train)(points)
    except QhullError as exc:
        raise ValueError(str(exc)) from None
    outside = np.isnan(predicted).any(axis=1)
    if outside.any():
        predicted[outside] = NearestNDInterpolator(train, y_train)(points[outside])
    return predicted
