"""The structured (Z, Λ) table refined where its lookup error is largest, until the error meets a tolerance.

The error is that of :func:`structured.lookup_error` in T: every stored flamelet, sampled at the mixture
fractions of the scattered rows, looked up at its own (Z, C) by the one FPV scheme (:func:`structured.lookup`)
and compared with its own value; the refinement samples :data:`SUBDIVISIONS` times as densely (the rows' mixture
fractions and equally spaced ones between them), so that a point between two rows, where a solver looks up just
as often, is held to the tolerance too, and ``table check``, which measures at the rows, passes. Both axes
start from the build's nodes (``structured_nz`` stretched Z nodes, ``structured_nlambda`` Λ nodes); then, round
by round:

1. every sample point looked up worse than the tolerance is charged to one side of its (Z, Λ) cell: to its Z
   interval when the error of Z interpolation alone is at least that of Λ interpolation alone, else to its Λ
   interval, unless that side is already too narrow to halve (:data:`MIN_WIDTH`), then to the other. Z alone is
   the lookup with an exact Λ axis (the flamelets at the cell's two Z nodes interpolated at the point's own Λ,
   then linearly in Z); Λ alone is the lookup with a Z node at the point's own Z (linear in Λ between the Λ
   nodes only);
2. the charged intervals are bisected, largest error first, while the grid keeps at most ``max_nodes`` nodes
   (nZ · nΛ);
3. the table is filled again on the new nodes and its error measured.

It stops when the largest T error is within the tolerance, or when no interval may be split: the node cap, or
cells too narrow to halve on both sides. Bisection keeps the old nodes, 0 and 1, so both axes stay
strictly increasing in [0, 1]; the runtimes locate a point by binary search (C) or comparison count (ONNX) and
assume no spacing. The error at the stored flamelets measures the grid alone: a (Z, C) between two flamelets
is interpolated between them whatever the grid, which adaptive flamelets (``--tolerance``) resolve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from surrogate.lookup import normalized_progress

from . import structured
from .flamelet import Flamelet

SUBDIVISIONS = 4  # mixture fractions the refinement samples per interval between two of the rows'
# narrowest interval a bisection makes: at 1 that is 16 float32 steps, so the table backend's float32 axes stay
# strictly increasing
MIN_WIDTH = 1e-6


@dataclass
class Refinement:
    """How the grid was refined: the tolerance [K] (0: not refined), the node cap, each grid's (nZ, nΛ, bytes,
    largest T error [K] where the refinement samples) from the first to the last, and why it stopped (``met``,
    ``not refined``, ``node cap``, ``smallest width``)."""

    tolerance: float
    max_nodes: int
    steps: list[tuple[int, int, int, float]] = field(default_factory=list)
    stop: str = "met"

    @property
    def met(self) -> bool:
        return self.stop in ("met", "not refined")

    def record(self) -> dict:
        """As stored in the table (the ``/structured`` attribute ``refinement``)."""
        return {"tolerance": self.tolerance, "max_nodes": self.max_nodes, "stop": self.stop,
                "steps": [list(step) for step in self.steps]}

    def notes(self) -> list[str]:
        """Build-report lines: the table size against the error reached, and whether the tolerance was met."""
        if self.stop == "not refined":
            return []
        sizes = ", ".join(f"{nZ} x {nL} ({size / 1e6:.3g} MB): {error:.3g} K" for nZ, nL, size, error in self.steps)
        line = (f"structured (Z, Lambda) grid refined to the lookup tolerance {self.tolerance:g} K (nZ x nLambda "
                f"(size in double): largest T error): {sizes}")
        if self.met:
            return [line]
        why = (f"the node cap --max-structured-nodes {self.max_nodes}; raise it or --lookup-tolerance"
               if self.stop == "node cap" else
               f"cells too narrow to halve (below {2 * MIN_WIDTH:g} on both sides), where the flamelets' C hardly "
               "separates them; raise --lookup-tolerance")
        return [line, f"warning: structured lookup tolerance {self.tolerance:g} K not met: largest T error "
                      f"{self.steps[-1][3]:.3g} K, stopped by {why}"]


def refine(flamelets: Sequence[Flamelet], Z: np.ndarray, Lambda: np.ndarray, species_index: Sequence[int],
           samples: np.ndarray, tolerance: float, max_nodes: int) -> tuple[dict[str, np.ndarray], Refinement]:
    """The (Z, Λ) table of `flamelets` (grid dict of :func:`structured.structured_table`) starting from the nodes
    `Z`, `Lambda` and refined until its largest T error at the flamelets sampled at the mixture fractions
    `samples` (the rows') and between them (:data:`SUBDIVISIONS`) is at most `tolerance` [K] (0: no refinement),
    or no more nodes may be added (module docstring)."""
    T_col = len(species_index)
    rows = np.sort(np.asarray(samples, dtype=float))
    between = rows[:-1, None] + np.outer(np.diff(rows), np.arange(SUBDIVISIONS) / SUBDIVISIONS)
    dense = np.append(between.ravel(), rows[-1])
    points = [structured.resample(f, dense, species_index) for f in flamelets]
    z = np.concatenate([p["Z"] for p in points])
    c = np.concatenate([p["C"] for p in points])
    T = np.concatenate([p["outputs"][:, T_col] for p in points])
    refinement = Refinement(tolerance, max_nodes, stop="not refined" if tolerance <= 0 else "met")
    while True:
        columns = structured.progress_columns(flamelets, Z, species_index)
        grid = columns.grid(Lambda)
        error = np.abs(structured.lookup(grid, z, c, [T_col])[:, 0] - T)
        refinement.steps.append((len(Z), len(Lambda), structured.grid_bytes(grid), float(error.max())))
        if tolerance <= 0 or error.max() <= tolerance:
            return grid, refinement
        bad = np.flatnonzero(error > tolerance)
        charged = _charge(flamelets, columns, Lambda, species_index, z[bad], c[bad], T[bad], error[bad])
        refined = _bisect(Z, Lambda, charged, max_nodes) if charged else None
        if refined is None:
            refinement.stop = "node cap" if charged else "smallest width"
            return grid, refinement
        Z, Lambda = refined


def _charge(flamelets: Sequence[Flamelet], columns: structured.Columns, Lambda: np.ndarray,
            species_index: Sequence[int], z: np.ndarray, c: np.ndarray, T: np.ndarray,
            error: np.ndarray) -> list[tuple[float, str, int]]:
    """(largest error, axis ``Z`` or ``Lambda``, interval index) of every interval the points (z, c) with their
    true `T` and lookup `error` are charged to (module docstring, step 1)."""
    Z, T_col = columns.Z, len(species_index)
    lam = normalized_progress(z, c, Z, columns.C_min, columns.C_max)
    i = np.clip(np.searchsorted(Z, z, side="right") - 1, 0, len(Z) - 2)
    j = np.clip(np.searchsorted(Lambda, lam, side="right") - 1, 0, len(Lambda) - 2)
    tz = (z - Z[i]) / (Z[i + 1] - Z[i])
    only_Z = np.abs((1.0 - tz) * _at_node(columns, T_col, i, lam) + tz * _at_node(columns, T_col, i + 1, lam) - T)
    own = np.unique(np.concatenate([z, Z[[0, -1]]]))  # a node at every point's own Z
    at_own = structured.progress_columns(flamelets, own, species_index).grid(Lambda)
    only_Lambda = np.abs(structured.lookup(at_own, z, c, [T_col])[:, 0] - T)
    narrow_Z, narrow_Lambda = Z[i + 1] - Z[i] < 2.0 * MIN_WIDTH, Lambda[j + 1] - Lambda[j] < 2.0 * MIN_WIDTH
    on_Z = ~narrow_Z & (narrow_Lambda | (only_Z >= only_Lambda))
    splittable = ~(narrow_Z & narrow_Lambda)
    worst: dict[tuple[str, int], float] = {}
    for axis, k, e in zip(np.where(on_Z, "Z", "Lambda")[splittable], np.where(on_Z, i, j)[splittable],
                          error[splittable]):
        key = (str(axis), int(k))
        worst[key] = max(worst.get(key, 0.0), float(e))
    return sorted(((e, axis, k) for (axis, k), e in worst.items()), reverse=True)


def _at_node(columns: structured.Columns, col: int, node: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Output `col` of the flamelets at Z node `node[k]` interpolated at Λ `lam[k]` (exact in Λ)."""
    values = np.empty(len(node))
    for n in np.unique(node):
        at = node == n
        flamelet_lam, out = columns.nodes[n]
        values[at] = out[col] if flamelet_lam is None else np.interp(lam[at], flamelet_lam, out[:, col])
    return values


def _bisect(Z: np.ndarray, Lambda: np.ndarray, charged: list[tuple[float, str, int]],
            max_nodes: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The axes with the `charged` intervals bisected, largest error first, while nZ · nΛ stays within
    `max_nodes`; None when not one fits."""
    axes = {"Z": Z, "Lambda": Lambda}
    added: dict[str, list[float]] = {"Z": [], "Lambda": []}
    for _, axis, k in charged:
        n_Z = len(Z) + len(added["Z"]) + (axis == "Z")
        n_Lambda = len(Lambda) + len(added["Lambda"]) + (axis == "Lambda")
        if n_Z * n_Lambda <= max_nodes:
            added[axis].append(0.5 * (axes[axis][k] + axes[axis][k + 1]))
    if not added["Z"] and not added["Lambda"]:
        return None
    return np.sort(np.concatenate([Z, added["Z"]])), np.sort(np.concatenate([Lambda, added["Lambda"]]))
