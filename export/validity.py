"""Where a row model is valid, written at export from its training data: ranges that reach the physical limits
of dimensionless inputs, and manifold bounds that follow the data inside the box of ranges.

A box of ranges says Z ∈ [2.4e-9, 1] and C ∈ [0, 0.25]: it flags Z = 0 (every pure-oxidizer cell) and passes
(Z = 0.5, C = 0), far from any flamelet. Two fixes, both stored in the ONNX metadata so every runtime applies
them alike:

- :func:`snap_to_unit_interval`: a dimensionless input (units ``1``, ``-`` or none) trained within [0, 1] whose
  smallest (largest) training value lies within ``UNIT_SNAP`` of 0 (1) has the range end 0 (1): the physical
  limit, which the data approach but a finite sample never hits.
- :func:`snap_log_floors`: a log-scaled input (χ) is evaluated at max(x, floor), floor its smallest positive
  training value, so every x in [0, floor] gives exactly the output at the floor: its range starts at 0 (χ = 0
  in every uniform region of a solver's field).
- :func:`manifold_from_rows`: bins of one input (the first, e.g. Z) and, per bin, the range of every other input
  over the training rows of that bin and its two neighbours (a cell near a bin edge sees the data on both
  sides), widened by ``MANIFOLD_MARGIN`` (2 %) of the input's range, and moved to the box's end where it lies
  within ``MANIFOLD_SNAP`` (5 %) of the range from it (a finite sample leaves a gap of about a bin's spread
  over its row count at an edge the data reach, e.g. C = 0 at every Z of a table with the mixing line):
  C_min(Z)..C_max(Z) and the χ range per Z. Log-scaled inputs are bounded in log10(max(x, floor)), where their
  training rows spread evenly over decades: a margin of their linear range would erase the lower bound.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from .metadata import Component, Manifold, Signature, Tensor

UNIT_SNAP = 1e-3
UNITLESS = ("1", "-", "")
MANIFOLD_BINS = 32
MANIFOLD_MARGIN = 0.02
MANIFOLD_SNAP = 0.05


def snap_to_unit_interval(component: Component) -> Component:
    """The component with its range ends moved to 0 / 1 where they are a dimensionless input's physical limit."""
    if component.range is None or component.units not in UNITLESS:
        return component
    lo, hi = component.range
    if lo < 0 or hi > 1:
        return component
    return replace(component, range=(0.0 if lo <= UNIT_SNAP else lo, 1.0 if hi >= 1 - UNIT_SNAP else hi))


def snap_signature(signature: Signature) -> Signature:
    """Every input component snapped (:func:`snap_to_unit_interval`); outputs unchanged."""
    inputs = tuple(Tensor(t.name, t.shape, tuple(map(snap_to_unit_interval, t.components)), t.dtype)
                   for t in signature.inputs)
    return Signature(inputs, signature.outputs)


def snap_log_floors(signature: Signature, log: Sequence[bool], floor: Sequence[float]) -> Signature:
    """The row input's log-scaled components whose range starts at or below their floor start at 0."""
    tensor = signature.inputs[0]
    components = tuple(replace(c, range=(0.0, c.range[1])) if flag and c.range and 0 < c.range[0] <= f * (1 + 1e-6)
                       else c for c, flag, f in zip(tensor.components, log, floor))
    return Signature((Tensor(tensor.name, tensor.shape, components, tensor.dtype),) + signature.inputs[1:],
                     signature.outputs)


def manifold_from_rows(x: np.ndarray, names: Sequence[str], ranges: Sequence[tuple[float, float]],
                       along: int = 0, n_bins: int = MANIFOLD_BINS, margin: float = MANIFOLD_MARGIN,
                       log_floors: Sequence[float | None] | None = None) -> Manifold:
    """Manifold bounds of the training rows `x` (cells × columns) in the box `ranges`, binned along column `along`;
    `log_floors[i]` (not None) bounds column i in log10(max(x, floor)).

    Bins hold equal shares of the training rows (quantiles of `along`, from box end to box end), so they are
    narrow where the data is dense: a flamelet table's rows crowd around the flame (Z_st = 0.029 for H2/air,
    where equal widths put the whole lean side into one bin and C_max(Z) could not follow it). A bin without
    rows takes the bounds of the nearest bin with rows. Bounds never leave the box (the box check comes first).
    """
    x = np.asarray(x, dtype=np.float64)
    box = np.asarray(ranges, dtype=np.float64)
    floors = list(log_floors) if log_floors is not None else [None] * len(names)
    edges = quantile_edges(x[:, along], box[along], n_bins)
    n_bins = len(edges) - 1
    manifold = Manifold(tuple(names), along, edges.astype(np.float32), np.zeros((n_bins, len(names)), np.float32),
                        np.zeros((n_bins, len(names)), np.float32))
    k = manifold.bins(x[:, along])

    def forward(values: np.ndarray) -> np.ndarray:  # log10 on the log-scaled columns
        return np.column_stack([np.log10(np.maximum(v, f)) if f is not None else v for v, f in zip(values.T, floors)])

    t, t_box = forward(x), forward(box.T).T
    lower = np.full((n_bins, len(names)), np.inf)
    upper = np.full((n_bins, len(names)), -np.inf)
    np.minimum.at(lower, k, t)
    np.maximum.at(upper, k, t)
    filled = np.flatnonzero(np.isfinite(lower[:, 0]))
    if len(filled) == 0:
        raise ValueError("no training rows to bound the manifold with")
    nearest = filled[np.abs(np.arange(n_bins)[:, None] - filled[None, :]).argmin(axis=1)]
    lower, upper = lower[nearest], upper[nearest]
    padded_lo = np.vstack([lower[:1], lower, lower[-1:]])
    padded_hi = np.vstack([upper[:1], upper, upper[-1:]])
    lower = np.minimum(np.minimum(padded_lo[:-2], padded_lo[1:-1]), padded_lo[2:])
    upper = np.maximum(np.maximum(padded_hi[:-2], padded_hi[1:-1]), padded_hi[2:])
    span = t_box[:, 1] - t_box[:, 0]
    at_lo = lower - t_box[:, 0] <= MANIFOLD_SNAP * span
    at_hi = t_box[:, 1] - upper <= MANIFOLD_SNAP * span
    lower = np.maximum(lower - margin * span, t_box[:, 0])
    upper = np.minimum(upper + margin * span, t_box[:, 1])
    logged = np.array([f is not None for f in floors])
    lower = np.where(logged, 10.0 ** lower, lower)
    upper = np.where(logged, 10.0 ** upper, upper)
    lower = np.where(at_lo, box[:, 0], np.maximum(lower, box[:, 0]))
    upper = np.where(at_hi, box[:, 1], np.minimum(upper, box[:, 1]))
    lower[:, along], upper[:, along] = -np.inf, np.inf  # the binned column is bounded by its bin, i.e. the box
    return Manifold(tuple(names), along, edges.astype(np.float32), lower.astype(np.float32), upper.astype(np.float32))


def quantile_edges(values: np.ndarray, box: np.ndarray, n_bins: int) -> np.ndarray:
    """Increasing bin edges from box[0] to box[1] holding about equal numbers of `values` (fewer bins when
    values repeat; equal widths when there are too few distinct values)."""
    inner = np.quantile(np.clip(values, box[0], box[1]), np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    edges = np.unique(np.concatenate([[box[0]], inner, [box[1]]]).astype(np.float32)).astype(np.float64)
    return edges if len(edges) > 2 else np.linspace(box[0], box[1], n_bins + 1)
