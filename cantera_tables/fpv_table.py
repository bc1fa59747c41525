"""``fpv``: the flamelet/progress-variable table a solver looks up, and the rows a surrogate of it trains on.

The source is a flamelet table with a structured (Z, Λ) group (``h2-flamelet`` / ``counterflow-flamelet``
output of one pressure, :mod:`cantera_tables.structured`). This kind keeps that grid as the solver's table,
made consistent at its ends, and samples its bilinear interpolant for training, so that a surrogate trained on
these rows represents exactly the table a solver would otherwise look up (same inputs, same outputs):

- outputs: the mass fractions and T of the source, the density ``rho`` = p W / (R T) at every node (one
  definition, shared by the table and its surrogate, which the solver takes as its density), ``omega_C`` and
  ``heat_release`` (−Σ h_k ω_k of the mechanism at the node's state, Cantera's ``heat_release_rate``);
- ``omega_C`` is set to zero on the pure-stream rows (Z = 0 and Z = 1) and on the last Λ node (Λ = 1, the
  least-strained flamelet, C = C_max(Z)): the source falls linearly to zero over the last Λ cell, so a
  transported C cannot run past the end of the table;
- rows (inputs ``Z``, ``Lambda``): every node of the grid, plus ``samples_per_cell`` points drawn uniformly in
  every (Z, Λ) cell with the bilinear values there, so the training rows cover the interpolant between nodes, plus
  ``edge_samples_per_cell`` points per Z cell on the edge Λ = 1, half of them in every Z cell and half uniform
  in Z over [0, 1]: a burning flame in a solver sits there (C = C_max(Z), where ω_C drives it), over the whole
  range of Z of a jet, including the fuel-rich core where the Z nodes are sparse.

``/structured`` holds the grid (Z, Lambda, C_min, C_max, outputs) in the source's layout; ``surrogate export``
writes it as a table-backend ONNX file and wraps a network trained on the rows in the same (Z, C) → Λ front end
(:mod:`export.fpv`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.atomic import check_writable
from surrogate.contracts import BuildReport, TableGenerator
from surrogate.options import Option, resolve_options
from surrogate.ranges import NON_NEGATIVE, SEED
from surrogate.table import Column, DatasetDefaults, Table, create_dataset, write_table

from .presumed_pdf_table import PROVENANCE, read_source

KIND = "fpv"
LAMBDA_DESCRIPTION = "normalized progress variable, Lambda = (C - C_min(Z)) / (C_max(Z) - C_min(Z))"


def consistent_grid(source_values: np.ndarray, names: list[str]) -> np.ndarray:
    """The source's (nZ, nΛ, n) outputs with ω_C zero on the stream rows and on the Λ = 1 column (and the heat
    release zero on the stream rows, where nothing reacts)."""
    values = np.array(source_values, dtype=np.float64)
    for name in ("omega_C", "heat_release"):
        if name in names:
            values[[0, -1], :, names.index(name)] = 0.0
    if "omega_C" in names:
        values[:, -1, names.index("omega_C")] = 0.0
    return values


def heat_release(mechanism: str, pressure: float, species: list[str], Y: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Heat release rate [W/m^3] of the mechanism at every state (Y [..., n_species] of `species`, T [...])."""
    import cantera as ct

    gas = ct.Solution(mechanism)
    columns = [gas.species_index(s) for s in species]
    flat_Y, flat_T = Y.reshape(-1, len(species)), T.ravel()
    states = ct.SolutionArray(gas, len(flat_T))
    full = np.zeros((len(flat_T), gas.n_species))
    full[:, columns] = np.clip(flat_Y, 0.0, None)
    states.TPY = flat_T, pressure, full
    return np.asarray(states.heat_release_rate).reshape(T.shape)


def sample_rows(Z: np.ndarray, Lambda: np.ndarray, per_cell: int, seed: int,
                per_edge_cell: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every node, then `per_cell` uniform points in every (Z, Λ) cell, then `per_edge_cell` points per Z cell on
    Λ = 1: half in every Z cell, half uniform in Z over the whole axis."""
    nodes_z, nodes_l = (a.ravel() for a in np.meshgrid(Z, Lambda, indexing="ij"))
    rng = np.random.default_rng(seed)
    i, j = (a.ravel() for a in np.meshgrid(np.arange(len(Z) - 1), np.arange(len(Lambda) - 1), indexing="ij"))
    i, j = np.repeat(i, per_cell), np.repeat(j, per_cell)
    z = Z[i] + rng.random(len(i)) * (Z[i + 1] - Z[i])
    lam = Lambda[j] + rng.random(len(j)) * (Lambda[j + 1] - Lambda[j])
    k = np.repeat(np.arange(len(Z) - 1), per_edge_cell // 2)
    z_edge = np.concatenate([Z[k] + rng.random(len(k)) * (Z[k + 1] - Z[k]),
                             rng.uniform(Z[0], Z[-1], (len(Z) - 1) * (per_edge_cell - per_edge_cell // 2))])
    return np.concatenate([nodes_z, z, z_edge]), np.concatenate([nodes_l, lam, np.ones(len(z_edge))])


class FpvTable(TableGenerator):
    """The (Z, Λ) table of a flamelet table with density, consistent ends, and training rows of its interpolant."""

    name = KIND
    description = ("Flamelet/progress-variable table of a flamelet table: the (Z, Lambda) grid a solver looks up "
                   "(with rho, omega_C zero at the streams and at C_max(Z)) and rows of its bilinear interpolant "
                   "for a surrogate of that table.")
    options = (
        Option("source", "", "flamelet table with a structured (Z, Lambda) group (h2-flamelet or "
               "counterflow-flamelet output of one pressure)", input_file=True),
        Option("samples_per_cell", 2, "training rows drawn uniformly in every (Z, Lambda) cell, besides the nodes",
               bounds=NON_NEGATIVE),
        Option("edge_samples_per_cell", 0, "training rows drawn uniformly in Z on Lambda = 1 (C = C_max(Z), where "
               "burning cells sit) in every Z cell", bounds=NON_NEGATIVE),
        Option("seed", 0, "seed of the drawn rows", bounds=SEED),
    )

    @classmethod
    def build(cls, output: str | os.PathLike, *, progress: bool = True, **options: Any) -> BuildReport:
        """Write the consistent grid and its rows to `output` (a second or two: nothing to resume)."""
        from scipy.interpolate import RegularGridInterpolator

        started = time.perf_counter()
        opts = resolve_options(cls.options, options, f"table kind {KIND!r}")
        target = check_writable(output)
        source = read_source(opts["source"])
        index = {name: j for j, name in enumerate(source.names)}
        species = [f"Y_{s}" for s in source.species]
        rho = 1.0 / source.values[..., index["inv_rho"]]
        omega = source.values[..., index["omega_C_over_rho"]] * rho
        names = [*species, "T", "rho", "omega_C", "heat_release"]
        state = source.values[..., [index[n] for n in [*species, "T"]]]
        q = heat_release(str(source.attrs["mechanism"]), float(source.attrs["pressure"]), source.species,
                         state[..., :-1], state[..., -1])
        raw = np.concatenate([state, np.stack([rho, omega, q], axis=-1)], axis=-1)
        values = consistent_grid(raw, names)
        C_min, C_max = _c_bounds(source.path)
        z, lam = sample_rows(source.Z, source.Lambda, int(opts["samples_per_cell"]), int(opts["seed"]),
                             int(opts["edge_samples_per_cell"]))
        rows = RegularGridInterpolator((source.Z, source.Lambda), values)(np.column_stack([z, lam]))
        units = _units(source.species)
        inputs = [Column("Z", z, "1", "mixture fraction (Bilger)"), Column("Lambda", lam, "1", LAMBDA_DESCRIPTION)]
        outputs = [Column(n, rows[:, j], *units[n]) for j, n in enumerate(names)]
        defaults = DatasetDefaults(default_inputs=["Z", "Lambda"], default_outputs=names, softmax_outputs=species)
        attrs = {
            **{k: source.attrs[k] for k in PROVENANCE if k in source.attrs},
            "source_table": str(source.path), "source_kind": source.attrs.get("kind", ""),
            "source_sha256": Table(source.path).sha256(),
            "build_options": dict(opts),
            "fpv_front_end": ("Lambda = (C - C_min(Z)) / (C_max(Z) - C_min(Z)), C_min and C_max linear in Z, "
                              "Lambda clamped to [0, 1], 0 where C_max - C_min <= 1e-12"),
            "omega_C_ends": "zero at Z = 0, Z = 1 and Lambda = 1",
        }

        def structured(h5: Any) -> None:
            group = h5.create_group("structured")
            group.attrs["description"] = ("flamelet/progress-variable table: outputs over (Z, Lambda), C_min(Z) and "
                                          "C_max(Z); bilinear lookup")
            create_dataset(group, "Z", "1", "mixture fraction nodes", data=source.Z)
            create_dataset(group, "Lambda", "1", "normalized progress variable nodes", data=source.Lambda)
            create_dataset(group, "C_min", "1", "least C at each Z node", data=C_min)
            create_dataset(group, "C_max", "1", "largest C at each Z node", data=C_max)
            out = group.create_group("outputs")
            for j, name in enumerate(names):
                create_dataset(out, name, *units[name], data=values[..., j])
            out.attrs["order"] = json.dumps(names)

        write_table(target, kind=KIND, inputs=inputs, outputs=outputs, attrs=attrs, defaults=defaults,
                    extra=structured)
        return BuildReport(path=target, rows=len(z), seconds=time.perf_counter() - started,
                           numbers={"grid (Z x Lambda)": [len(source.Z), len(source.Lambda)],
                                    "T range [K]": [float(values[..., names.index('T')].min()),
                                                    float(values[..., names.index('T')].max())]})

    @staticmethod
    def summary(path: str | os.PathLike) -> list[tuple[str, str]]:
        """Lines for ``surrogate table info``: the source and the front end."""
        attrs = Table(path).attrs
        return [("source", f"{attrs['source_table']} ({attrs['source_kind']})"),
                ("front end", attrs["fpv_front_end"]), ("omega_C", attrs["omega_C_ends"])]


def _c_bounds(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    with h5py.File(path, "r") as h5:
        return np.asarray(h5["structured/C_min"][()], float), np.asarray(h5["structured/C_max"][()], float)


def _units(species: list[str]) -> dict[str, tuple[str, str]]:
    units = {f"Y_{s}": ("1", f"mass fraction of {s}") for s in species}
    units["T"] = ("K", "temperature")
    units["rho"] = ("kg/m^3", "density of the ideal gas at (p, T, Y_k), p W / (R T)")
    units["omega_C"] = ("kg/m^3/s", "source term of the progress variable C, zero at the streams and at C_max(Z)")
    units["heat_release"] = ("W/m^3", "heat release rate, -sum_k h_k omega_k, at the node's state")
    return units
