"""The ``/structured`` group of a flamelet table: the (Z, Λ) table of one S-curve built from its flamelets and
refined to the lookup tolerance (:mod:`cantera_tables.structured_refine`), written, summarized for ``table
info``, and rebuilt from a finished table's stored flamelets without solving again (``surrogate table
restructure``)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from surrogate.contracts import BuildReport
from surrogate.errors import UserError
from surrogate.options import Option, resolve_options
from surrogate.table import Table, create_dataset, encode_attr

from . import structured
from .flamelet import Flamelet, s_curve_order
from .structured_refine import refine

# the build options that shape the structured group alone: a restructured table may change them
GRID_OPTIONS = ("structured_nz", "structured_nlambda", "structured_lambda", "lookup_tolerance",
                "max_structured_nodes")


def build(curve: Sequence[Flamelet], opts: dict[str, Any], Z_st: float, species_index: Sequence[int],
          species: Sequence[str], samples: np.ndarray) -> dict[str, Any]:
    """The (Z, Λ) table of one S-curve refined to ``lookup_tolerance`` (its ``refinement`` as well), the
    monotonicity of C along the curve at every Z node, and the lookup error of the table against the curve's
    flamelets sampled at the mixture fractions `samples` (the scattered rows)."""
    Z = structured.z_nodes(int(opts["structured_nz"]), Z_st)
    start = structured.structured_table(curve, Z, int(opts["structured_nlambda"]), species_index,
                                        opts["structured_lambda"])
    grid, refinement = refine(curve, Z, start["Lambda"], species_index, samples, float(opts["lookup_tolerance"]),
                              int(opts["max_structured_nodes"]))
    grid["refinement"] = refinement
    grid["C_monotone"], grid["C_worst_rise"] = structured.progress_monotonicity(curve, s_curve_order(curve), grid["Z"])
    grid["lookup_error"] = structured.lookup_error(grid, curve, samples, species_index, species)
    return grid


def check_node_cap(opts: dict[str, Any]) -> None:
    """The starting grid must fit under the node cap (one-line error)."""
    start = int(opts["structured_nz"]) * int(opts["structured_nlambda"])
    if opts["lookup_tolerance"] > 0 and start > int(opts["max_structured_nodes"]):
        raise UserError(f"max_structured_nodes={opts['max_structured_nodes']}: below the starting grid structured_nz "
                        f"x structured_nlambda = {start} nodes; raise it or start from fewer nodes")


def report(grid: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Build-report notes (the refinement, C rising along the S-curve) and numbers (grid size, lookup errors)."""
    notes = grid["refinement"].notes()
    notes += structured.monotonicity_warning(grid["Z"], grid["C_monotone"], grid["C_worst_rise"])
    error = grid["lookup_error"]
    numbers = {
        "structured (Z, Lambda) nodes": f"{len(grid['Z'])} x {len(grid['Lambda'])}",
        "structured table [bytes]": structured.grid_bytes(grid),
        "structured lookup error T max, rms [K]": [error["T_max_error"], error["T_rms_error"]],
        "structured lookup error omega_C max, rms [kg/m^3/s]": [error["omega_C_max_error"],
                                                              error["omega_C_rms_error"]],
        f"structured lookup error Y max (of {error['Y_worst_species']}'s peak)": error["Y_max_relative_error"],
    }
    return notes, numbers


def write(h5: Any, grid: dict[str, Any], units: dict[str, tuple[str, str]]) -> None:
    """The grid as the ``/structured`` group of the open table `h5` (layout: :mod:`cantera_tables.structured`)."""
    group = h5.create_group("structured")
    group.attrs["description"] = "flamelet/progress-variable table on (Z, Lambda); see cantera_tables.structured"
    group.attrs["lookup_error"] = json.dumps(grid["lookup_error"])
    group.attrs["lookup_error_definition"] = ("|table - flamelet| at the stored flamelets' scattered rows (Z, C), "
                                              "looked up bilinearly in (Z, Lambda)")
    group.attrs["refinement"] = json.dumps(grid["refinement"].record())
    for name, units_, description in (
        ("Z", "1", "Bilger mixture fraction axis"),
        ("Lambda", "1", "normalized progress variable axis, (C - C_min) / (C_max - C_min)"),
        ("C_min", "1", "C of the least-burning flamelet at each Z"),
        ("C_max", "1", "C of the most-burning flamelet at each Z"),
    ):
        create_dataset(group, name, units_, description, data=grid[name])
    create_dataset(group, "C_monotone", "1", "1: C falls along the S-curve at this Z (no rise above "
                   f"{structured.MONOTONE_TOLERANCE:g} of its range); 0: it rises (ambiguous lookup); -1: C hardly "
                   "varies (inlets)", data=grid["C_monotone"])
    outputs = group.create_group("outputs")
    for j, (name, (units_, description)) in enumerate(units.items()):
        create_dataset(outputs, name, units_, description, data=grid["outputs"][:, :, j])
    outputs.attrs["order"] = json.dumps(list(units))


def summary(group: Any) -> list[tuple[str, str]]:
    """Lines for ``table info``: the grid's size and refinement, where C is monotone along the S-curve, and the
    FPV lookup error (files written before these existed lack some)."""
    shape = group["outputs/T"].shape
    size = sum(int(group[name].size) for name in ("Z", "Lambda", "C_min", "C_max"))
    size = 8 * (size + shape[0] * shape[1] * len(group["outputs"]))
    lines = [("structured (Z, Lambda)", f"{shape[0]} x {shape[1]} nodes, {len(group['outputs'])} outputs in "
              f"/structured ({size / 1e6:.3g} MB in double)")]
    if "refinement" in group.attrs:
        record = json.loads(group.attrs["refinement"])
        (nZ, nL, _, first), (_, _, _, reached) = record["steps"][0], record["steps"][-1]
        verdict = "met" if record["stop"] == "met" else f"not met: stopped by the {record['stop']}"
        if record["tolerance"] > 0:
            lines.append(("structured grid refined", f"from {nZ} x {nL} nodes, largest T lookup error at and between "
                          f"the rows {first:.3g} -> {reached:.3g} K (tolerance {record['tolerance']:g} K, {verdict}; "
                          f"cap {record['max_nodes']} nodes)"))
    if "C_monotone" in group:
        verdict, Z = group["C_monotone"][()], group["Z"][()]
        bad = structured.monotonicity_warning(Z, verdict)
        where = f" (Z {bad[0].split('(Z ', 1)[1].split(')')[0]})" if bad else ""
        lines.append(("C monotone along the S-curve", f"rises at {int(np.sum(verdict == 0))}{where}, monotone at "
                      f"{int(np.sum(verdict == 1))} of {int(np.sum(verdict >= 0))} Z nodes where C varies"))
    if "lookup_error" in group.attrs:
        e = json.loads(group.attrs["lookup_error"])
        species = (f"; mass fractions: largest error {e['Y_max_relative_error']:.3g} of the peak of "
                   f"{e['Y_worst_species']}" if "Y_worst_species" in e else "")
        lines.append(("FPV lookup error vs flamelets", f"T max {e['T_max_error']:.3g} K (at Z={e['T_worst_Z']:.3g}, "
                      f"chi_st={e['T_worst_chi_st']:.3g} 1/s), rms {e['T_rms_error']:.3g} K; omega_C max "
                      f"{e['omega_C_max_error']:.3g}, rms {e['omega_C_rms_error']:.3g} kg/m^3/s "
                      f"(|omega_C| up to {e['omega_C_scale']:.3g}){species}"))
    return lines


def restructure(options: Iterable[Option], owner: str, path: str | os.PathLike, output: str | os.PathLike,
                given: dict[str, Any]) -> BuildReport:
    """Rebuild the ``/structured`` group of the flamelet table `path` from its stored flamelets with the grid
    options `given` (of :data:`GRID_OPTIONS`; the others as the table was built, else their defaults) and write
    the table with it to `output` atomically; the rows, flamelets and the rest are copied unchanged."""
    import h5py

    from surrogate.atomic import atomic_path
    from surrogate.h5write import h5_file

    from .stored_flamelets import read_curve

    started = time.perf_counter()
    table = Table(path)
    built = table.attrs.get("build_options") or {}
    unknown = sorted(set(given) - set(GRID_OPTIONS))
    if unknown:
        raise UserError(f"{owner}: restructure: option {unknown[0]!r} is not a grid option; valid: "
                        f"{', '.join(GRID_OPTIONS)}")
    declared = [option for option in options if option.name in GRID_OPTIONS]
    opts = resolve_options(declared, {**{k: built[k] for k in GRID_OPTIONS if k in built}, **given}, owner)
    check_node_cap(opts)
    with h5py.File(table.path, "r") as h5:
        if "structured" not in h5 or "flamelets" not in h5:
            raise UserError(f"{path}: no structured (Z, Lambda) table to rebuild (a table of several pressures "
                            "stores none)")
        units = {name: (str(h5["structured/outputs"][name].attrs["units"]),
                        str(h5["structured/outputs"][name].attrs["description"]))
                 for name in json.loads(h5["structured/outputs"].attrs["order"])}
    flamelets, species = read_curve(table.path)
    Z_st = float(table.attrs["Z_st"])
    samples = structured.z_nodes(int(built["points_per_flamelet"]), Z_st)
    grid = build(flamelets, opts, Z_st, range(len(species)), species, samples)
    with atomic_path(output) as tmp, h5py.File(table.path, "r") as source, h5_file(tmp) as h5:
        for key, value in source.attrs.items():
            h5.attrs[key] = value
        h5.attrs["build_options"] = encode_attr({**built, **opts})
        for name in source:
            if name != "structured":
                source.copy(source[name], h5, name=name)
        write(h5, grid, units)
    notes, numbers = report(grid)
    return BuildReport(path=Path(output), rows=table.n_rows, seconds=time.perf_counter() - started, notes=notes,
                       numbers=numbers)
