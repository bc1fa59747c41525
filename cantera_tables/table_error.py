"""How accurate a flamelet table is between its flamelets, judged against the flamelets of a reference table.

A table is only exact at its own flamelets; what a solver or a network sees between them is interpolation. To
measure it, build a reference table of the same flames (mechanism, pressure, streams, transport, progress
variable) with a much finer S-curve sweep (small ``--strain-factor`` and ``--unstable-delta-T``), so that its
flamelets lie between those of the tables to compare, and look each compared table up at every scattered row
(Z, C) of every reference flamelet that lies strictly inside the table's S-curve (T_max between its coolest and
its hottest burning flamelet; the extinguished flamelet, the Λ = 0 bound of every table, is not judged).

Two lookups, both against the reference's stored T and mass fractions:

- ``fpv_lookup``: the table's structured (Z, Λ) grid, looked up with the documented FPV scheme
  (:class:`surrogate.lookup.StructuredLookup`): what a solver looking the table up gets. Its error includes that
  of the grid's Z and Λ nodes (``--structured-nz``, ``--structured-nlambda``), which is there at the table's own
  flamelets too (its build's ``lookup_error``);
- ``between_flamelets``: the table's own flamelets interpolated linearly in C at the point's Z
  (:func:`between_flamelets`), the limit of the FPV lookup on an infinitely fine (Z, Λ) grid: the error the
  spacing of the flamelets along the S-curve makes, which adaptive refinement (:mod:`cantera_tables.refine`)
  and a finer sweep reduce. It is zero at the table's own flamelets wherever C orders them.

Each gives the largest and mean |ΔT| [K] and the largest |ΔY_k| over the species both tables store, relative to
that species' range over the reference table, for all judged flamelets and per S-curve branch of the reference
flamelet (stable, unstable), since the turning point is where a table's spacing matters most.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from surrogate.errors import TableError
from surrogate.lookup import StructuredLookup
from surrogate.table import Table

from .flamelet import Flamelet
from .plots import read_s_curve
from .stored_flamelets import read_curve
from .structured import covers, profile_at

FLAMELET_KINDS = ("h2-flamelet", "counterflow-flamelet")
# root attributes that name the flames: a reference must agree on each to describe the same S-curve
SAME_FLAMES = ("mechanism", "fuel", "oxidizer", "transport_model", "progress_variable")
JUDGED_BRANCHES = ("stable", "unstable")


@dataclass(frozen=True)
class ReferencePoints:
    """The scattered rows of the judged reference flamelets: inputs, true outputs (T, then the species), and per
    row the reference flamelet's index, branch, T_max and χ_st."""

    Z: np.ndarray
    C: np.ndarray
    truth: np.ndarray
    flamelet: np.ndarray
    branch: np.ndarray
    T_max: np.ndarray
    chi_st: np.ndarray


def check_comparable(table: Table, reference: Table) -> None:
    """One-line errors unless both are single-pressure flamelet tables of the same flames."""
    for what, t in (("table", table), ("reference", reference)):
        if t.kind not in FLAMELET_KINDS:
            raise TableError(f"{t.path}: a table of kind {t.kind!r}, not a flamelet table "
                             f"({', '.join(FLAMELET_KINDS)}); the {what} must be one")
        if np.ndim(t.attrs.get("pressure")) != 0:
            raise TableError(f"{t.path}: several pressures; the {what} must hold one S-curve (build one table per "
                             "pressure)")
    if not np.isclose(float(table.attrs["pressure"]), float(reference.attrs["pressure"]), rtol=1e-9):
        raise TableError(f"{reference.path}: pressure {float(reference.attrs['pressure']):g} Pa, the table's is "
                         f"{float(table.attrs['pressure']):g} Pa; the reference must hold flamelets of the same flames")
    for name in SAME_FLAMES:
        if table.attrs.get(name) != reference.attrs.get(name):
            raise TableError(f"{reference.path}: {name} {reference.attrs.get(name)!r}, the table's is "
                             f"{table.attrs.get(name)!r}; the reference must hold flamelets of the same flames")


def burning_range(path: str | os.PathLike) -> tuple[float, float]:
    """(coolest, hottest) T_max of the burning flamelets of a flamelet table's S-curve."""
    curve = read_s_curve(path)
    T_max = curve["T_max"][curve["branch"] != "extinguished"]
    if T_max.size == 0:
        raise TableError(f"{path}: no burning flamelet")
    return float(T_max.min()), float(T_max.max())


def reference_points(reference: Table, species: Sequence[str], T_range: tuple[float, float]) -> ReferencePoints:
    """The rows of the reference flamelets on a burning branch whose T_max lies strictly inside `T_range`:
    (Z, C) and the stored T and Y of `species`."""
    curve = read_s_curve(reference.path)
    flamelet = reference.read_labels("flamelet")
    T_low, T_high = T_range
    judged = np.isin(curve["branch"], JUDGED_BRANCHES) & (curve["T_max"] > T_low) & (curve["T_max"] < T_high)
    rows = judged[flamelet]
    if not rows.any():
        raise TableError(f"{reference.path}: none of its flamelets lies inside the table's S-curve (T_max "
                         f"{T_low:.0f}-{T_high:.0f} K); build the reference over the same S-curve")
    names = ["Z", "C", "T", *(f"Y_{s}" for s in species)]
    values = reference.read_matrix(names)[rows]
    owner = flamelet[rows]
    return ReferencePoints(Z=values[:, 0], C=values[:, 1], truth=values[:, 2:], flamelet=owner,
                           branch=curve["branch"][owner], T_max=curve["T_max"][owner], chi_st=curve["chi_st"][owner])


def between_flamelets(flamelets: Sequence[Flamelet], species: Sequence[str], names: Sequence[str], Z: np.ndarray,
                      C: np.ndarray) -> np.ndarray:
    """Outputs `names` (``T``, ``Y_<species>``; `species`: the flamelets' Y columns) at points (Z, C): at each Z
    the flamelets that span it (:func:`cantera_tables.structured.covers`) are sampled there, sorted by C and
    interpolated linearly in C, clamped to the least and the most burning one. This is the structured table's
    construction (:func:`cantera_tables.structured.structured_table`) evaluated at the point's own Z and C instead
    of at grid nodes. (len(Z), len(names))."""
    columns = [["T", *(f"Y_{s}" for s in species)].index(name) for name in names]
    nodes, at_node = np.unique(Z, return_inverse=True)
    sampled = [(covers(f, nodes), profile_at(f, f.C, nodes), profile_at(f, np.column_stack([f.T, f.Y])[:, columns],
                                                                          nodes)) for f in flamelets]
    found = np.empty((len(Z), len(names)))
    for i in range(len(nodes)):
        C_i = np.array([c[i] for spans, c, _ in sampled if spans[i]])
        out_i = np.array([o[i] for spans, _, o in sampled if spans[i]])
        order = np.argsort(C_i, kind="stable")
        here = at_node == i
        for q in range(len(names)):
            found[here, q] = np.interp(C[here], C_i[order], out_i[order, q])
    return found


def error_summary(found: np.ndarray, points: ReferencePoints, species: Sequence[str],
                  scale: np.ndarray) -> dict[str, Any]:
    """Errors of `found` (rows of `points`; columns T then `species`) against the reference, for all judged rows
    and per branch: flamelets and rows judged, largest and mean |ΔT| [K] and where the largest is, largest and
    mean |ΔY| relative to each species' `scale` and the species of the largest. None where a branch has no row."""
    error = np.abs(found - points.truth)
    relative = error[:, 1:] / scale
    summary: dict[str, Any] = {}
    for subset in ("all", *JUDGED_BRANCHES):
        rows = np.ones(len(error), bool) if subset == "all" else points.branch == subset
        if not rows.any():
            summary[subset] = {"flamelets": 0, "points": 0, "T_max_error_K": None, "T_mean_error_K": None,
                               "Y_max_error": None, "Y_mean_error": None, "Y_worst": None, "T_worst_at": None}
            continue
        index = np.flatnonzero(rows)
        worst = int(index[np.argmax(error[rows, 0])])
        species_worst = int(np.argmax(relative[rows].max(axis=0)))
        summary[subset] = {
            "flamelets": int(np.unique(points.flamelet[rows]).size), "points": int(rows.sum()),
            "T_max_error_K": float(error[rows, 0].max()), "T_mean_error_K": float(error[rows, 0].mean()),
            "Y_max_error": float(relative[rows].max()), "Y_mean_error": float(relative[rows].mean()),
            "Y_worst": f"Y_{species[species_worst]}",
            "T_worst_at": {"Z": float(points.Z[worst]), "branch": str(points.branch[worst]),
                           "flamelet_T_max_K": float(points.T_max[worst]),
                           "flamelet_chi_st": float(points.chi_st[worst])},
        }
    return summary


def table_error(table_path: str | os.PathLike, reference_path: str | os.PathLike) -> dict[str, Any]:
    """The table at `table_path` judged against the flamelets of the reference at `reference_path` (see the module
    docstring): its size and both lookups' errors. One-line errors for tables that cannot be compared."""
    table, reference = Table(table_path), Table(reference_path)
    check_comparable(table, reference)
    flamelets, table_species = read_curve(table.path)
    species = [s for s in table_species if f"Y_{s}" in reference.output_names]
    names = ["T", *(f"Y_{s}" for s in species)]
    lookup = StructuredLookup(table.path, names)
    if lookup.output_names != names:
        missing = sorted(set(names) - set(lookup.output_names))
        raise TableError(f"{table.path}: /structured/outputs lacks {', '.join(missing)}")
    T_range = burning_range(table.path)
    points = reference_points(reference, species, T_range)
    stored = reference.read_matrix(names[1:])
    scale = np.maximum(stored.max(axis=0) - stored.min(axis=0), np.finfo(float).tiny)
    table_curve, reference_curve = read_s_curve(table.path), read_s_curve(reference.path)
    judged = np.isin(reference_curve["branch"], JUDGED_BRANCHES)
    return {
        "table": str(table.path), "reference": str(reference.path),
        "table_flamelets": len(flamelets),
        "table_branches": {b: int(np.sum(table_curve["branch"] == b)) for b in ("stable", "unstable", "extinguished")},
        "table_rows": table.n_rows, "table_file_bytes": Path(table.path).stat().st_size,
        "lookup_bytes": lookup.nbytes, "lookup_grid": [len(lookup.z), len(lookup.lam)],
        "table_T_max_range_K": list(T_range),
        "reference_flamelets": len(reference_curve["branch"]),
        "reference_outside": int(judged.sum()) - int(np.unique(points.flamelet).size),
        "species": list(species),
        "fpv_lookup": error_summary(lookup(points.Z, points.C), points, species, scale),
        "between_flamelets": error_summary(between_flamelets(flamelets, table_species, names, points.Z, points.C),
                                           points, species, scale),
    }


def report_lines(result: dict[str, Any]) -> list[str]:
    """The text report of :func:`table_error`: sizes, then one line per lookup and branch."""
    branches = result["table_branches"]
    nZ, nL = result["lookup_grid"]
    low, high = result["table_T_max_range_K"]
    judged = result["fpv_lookup"]["all"]["flamelets"]
    lines = [
        f"table {result['table']}: {result['table_flamelets']} flamelets ({branches['stable']} stable, "
        f"{branches['unstable']} unstable, {branches['extinguished']} extinguished), {result['table_rows']} rows, "
        f"{result['table_file_bytes'] / 2**20:.2f} MiB on disk; (Z, Lambda) grid {nZ} x {nL}, "
        f"{result['lookup_bytes'] / 2**20:.2f} MiB",
        f"reference {result['reference']}: {judged} of its {result['reference_flamelets']} flamelets lie inside the "
        f"table's S-curve (T_max {low:.0f}-{high:.0f} K) and are judged ({result['reference_outside']} burning "
        f"outside it); species compared: {', '.join(result['species'])}",
        f"{'lookup':<18} {'branch':<9} {'flamelets':>9} {'T max [K]':>10} {'T mean [K]':>11} "
        f"{'Y max (of range)':>17} {'worst':>8} {'Y mean':>9}",
    ]
    for key, title in (("fpv_lookup", "FPV (Z, Lambda)"), ("between_flamelets", "between flamelets")):
        for subset, e in result[key].items():
            if e["T_max_error_K"] is None:
                lines.append(f"{title:<18} {subset:<9} {0:>9} {'-':>10} {'-':>11} {'-':>17} {'-':>8} {'-':>9}")
                continue
            lines.append(f"{title:<18} {subset:<9} {e['flamelets']:>9} {e['T_max_error_K']:>10.3g} "
                         f"{e['T_mean_error_K']:>11.3g} {e['Y_max_error']:>17.3g} {e['Y_worst']:>8} "
                         f"{e['Y_mean_error']:>9.2g}")
    for key, title in (("fpv_lookup", "FPV lookup"), ("between_flamelets", "between flamelets")):
        at = result[key]["all"]["T_worst_at"]
        lines.append(f"largest T error, {title}: at Z={at['Z']:.3g} of the {at['branch']} reference flamelet of "
                     f"T_max {at['flamelet_T_max_K']:.0f} K, chi_st {at['flamelet_chi_st']:.3g} 1/s")
    return lines
