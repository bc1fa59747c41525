"""``presumed-pdf``: a flamelet table integrated over a presumed PDF, the table an LES/RANS solver looks up.

The source is a flamelet table with a structured (Z, Λ) group (``h2-flamelet`` / ``counterflow-flamelet``
output, :mod:`cantera_tables.structured`), whose outputs are interpolated linearly between its nodes. The joint
Favre PDF of Z and the normalized progress variable Λ is presumed to be

    P̃(Z, Λ) = β(Z; Z̃, S) · δ(Λ − Λ̃)        (``lambda_pdf=delta``, the FPV closure of Pierce & Moin 2004)
    P̃(Z, Λ) = β(Z; Z̃, S) · β(Λ; Λ̃, S_Λ)      (``lambda_pdf=beta``, Z and Λ statistically independent)

with S = Z''² / (Z̃ (1 − Z̃)) the normalized variance (0: laminar, 1: unmixed streams). Each mean is integrated
exactly for the table's piecewise-linear interpolant (:mod:`cantera_tables.presumed_pdf`), δ limits included.
Because the flamelet PDF is the density-weighted (Favre) PDF, the table holds

- Favre means ``Y_<species>``, ``T``, ``C`` (= ∫ φ P̃), the mass fractions summing to one;
- ``rho``: the Reynolds mean density ρ̄ = 1 / ∫ (1/ρ) P̃ (ideal gas, ρ = p W / (R T) at the source nodes);
- ``omega_C``: the Reynolds mean source term ⟨ω_C⟩ = ρ̄ ∫ (ω_C/ρ) P̃ [kg/m³/s], the source of ρ̄ C̃'s equation;

the integrands being 1/ρ and ω_C/ρ interpolated linearly between the source nodes (so at S = 0 between two
nodes ρ̄ and ⟨ω_C⟩ are those of the interpolated 1/ρ and ω_C/ρ, which differ from a linear interpolation of ρ
and ω_C by the interpolation error of the source grid; on its nodes they agree exactly);

over the inputs ``Z_mean`` (Z̃, nodes clustered around Z_st), ``Z_var_norm`` (S, quadratic spacing from 0 to
1), ``Lambda_mean`` (Λ̃, the source's Λ nodes) and, for ``lambda_pdf=beta``, ``Lambda_var_norm`` (S_Λ). Form a
(scattered rows, for training) carries ``/labels/line``: one group per (Z̃, S) node, a line along Λ̃, so
``surrogate train --split-by group`` holds out whole (Z̃, S) lines; the lines on the domain boundary (Z̃ or S
at 0 or 1) stay in training. Form b, ``/structured``, holds the axes and every output as an N-D array
(attribute ``axes`` names them in order) for multilinear lookup (:mod:`export.lookup`).

The Z̃ nodes are split into chunks, each integrated as one job on the executor and saved in the work directory,
so a killed build resumes; the build finishes by checking a few random nodes against a brute-force Monte-Carlo
integration of the same source (``mc_check``), reported in the build report and in the root attribute
``mc_check``.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.atomic import check_writable
from surrogate.chunks import ChunkWorkDir, open_work_dir, remove_work_dir
from surrogate.contracts import BuildReport, TableGenerator
from surrogate.errors import UserError
from surrogate.options import Option, resolve_options
from surrogate.ranges import COUNT, NON_NEGATIVE, at_least
from surrogate.table import Column, DatasetDefaults, Table, create_dataset, write_table

from .build import solve_missing
from .checks import presumed_pdf_checks
from .executors import EXECUTOR_OPTION_NAMES, executor_options
from .presumed_pdf import beta_weights, monte_carlo_mean
from .structured import z_nodes

KIND = "presumed-pdf"
GAS_CONSTANT = 8314.462618  # J/(kmol K), molecular weights in kg/kmol
# root attributes of the source that describe the chemistry and stay true of the integrated table
PROVENANCE = ("mechanism", "mechanism_source", "fuel", "oxidizer", "cantera_version", "progress_variable",
              "mixture_fraction_definition", "Z_st", "species", "species_presence_threshold", "species_composition",
              "species_molecular_weights", "element_atomic_weights", "bilger_beta_fuel", "bilger_beta_oxidizer",
              "pressure", "transport_model", "extinction_chi_st")
NOT_IN_RESULT = ("mc_check", "mc_samples", *EXECUTOR_OPTION_NAMES)  # a resumed build may change these
FAVRE = "Favre (density-weighted) mean over the presumed PDF"


@dataclass(frozen=True)
class Source:
    """The structured (Z, Λ) table of a flamelet table and what is integrated over it: ``values`` (nZ, nΛ, nq)
    holds the Favre-integrated quantities ``names`` (mass fractions, T, C, 1/ρ, ω_C/ρ) at every node."""

    path: Path
    attrs: dict[str, Any]
    Z: np.ndarray
    Lambda: np.ndarray
    species: list[str]
    names: list[str]
    values: np.ndarray


@dataclass(frozen=True)
class Chunk:
    """One job: the Z̃ nodes `Z_mean` (a slice of the axis) over every S, integrated against the source values
    (picklable, for any concurrent.futures executor)."""

    index: int
    Z_mean: np.ndarray
    S: np.ndarray
    Z: np.ndarray
    values: np.ndarray  # (nZ, nΛ, nq)
    lambda_weights: np.ndarray | None  # (nΛ̃ · nS_Λ, nΛ) for a β-PDF in Λ, None for δ
    work: Path


def integrate_chunk(chunk: Chunk) -> None:
    """Integrate one chunk and save ``means`` (len(Z_mean), nS, nΛ̃[, nS_Λ], nq) in the work directory."""
    Zm, S = np.meshgrid(chunk.Z_mean, chunk.S, indexing="ij")
    weights = beta_weights(chunk.Z, Zm.ravel(), S.ravel())  # (nZ̃ nS, nZ)
    means = np.einsum("pi,ijq->pjq", weights, chunk.values)
    if chunk.lambda_weights is not None:
        means = np.einsum("pjq,rj->prq", means, chunk.lambda_weights)
    n_lambda = chunk.values.shape[1]
    shape = (len(chunk.Z_mean), len(chunk.S), n_lambda, -1, chunk.values.shape[2])
    means = means.reshape(shape)
    ChunkWorkDir(chunk.work, "condition").save(chunk.index, {"means": means if chunk.lambda_weights is not None
                                                    else means[:, :, :, 0]})


def read_source(path: str) -> Source:
    """The structured group of the flamelet table at `path` and the quantities to integrate at its nodes."""
    import h5py

    if not path:
        raise UserError("option source: give the flamelet table to integrate (surrogate table build h2-flamelet "
                        "-o flamelets.h5 writes one)")
    table = Table(path)
    with h5py.File(table.path, "r") as h5:
        if "structured" not in h5 or "C_min" not in h5["structured"]:
            raise UserError(f"option source={path}: no structured (Z, Lambda) group; a flamelet table of a single "
                            "pressure (h2-flamelet, counterflow-flamelet) has one")
        group = h5["structured"]
        Z, Lambda = group["Z"][()], group["Lambda"][()]
        C_min, C_max = group["C_min"][()], group["C_max"][()]
        order = json.loads(group["outputs"].attrs["order"])
        out = {name: np.asarray(group["outputs"][name][()], dtype=float) for name in order}
    species = [name[2:] for name in order if name.startswith("Y_")]
    weights = table.attrs.get("species_molecular_weights", {})
    missing = [s for s in species if s not in weights]
    if missing or "pressure" not in table.attrs:
        raise UserError(f"option source={path}: the table lacks the pressure or molecular weights "
                        f"(of {', '.join(missing) or 'no species'}) needed for the density")
    Y = np.stack([out[f"Y_{s}"] for s in species], axis=-1)
    W = 1.0 / np.einsum("ijk,k->ij", Y, np.array([1.0 / weights[s] for s in species]))
    rho = float(table.attrs["pressure"]) * W / (GAS_CONSTANT * out["T"])
    C = C_min[:, None] + Lambda[None, :] * (C_max - C_min)[:, None]
    names = [*(f"Y_{s}" for s in species), "T", "C", "inv_rho", "omega_C_over_rho"]
    values = np.concatenate([Y, np.stack([out["T"], C, 1.0 / rho, out["omega_C"] / rho], axis=-1)], axis=-1)
    return Source(table.path, table.attrs, np.asarray(Z, float), np.asarray(Lambda, float), species, names, values)


def variance_nodes(n: int) -> np.ndarray:
    """n normalized-variance nodes from 0 to 1, quadratic (S_j = (j/(n−1))²): dense at small S, where the
    means change fastest and most of a turbulent flame's cells sit."""
    return np.linspace(0.0, 1.0, n) ** 2


class PresumedPDFTable(TableGenerator):
    """A flamelet table integrated over a β-PDF in mixture fraction (δ or β in Λ): Favre means for LES/RANS."""

    name = KIND
    description = ("Flamelet table integrated over a beta-PDF in Z (delta or beta in Lambda): Favre means over "
                   "(Z_mean, Z_var_norm, Lambda_mean[, Lambda_var_norm]), exact for the piecewise-linear table.")
    options = (
        Option("source", "", "flamelet table with a structured (Z, Lambda) group (h2-flamelet or "
               "counterflow-flamelet output of one pressure)", input_file=True),
        Option("n_Z_mean", 61, "Favre mean mixture fraction nodes from 0 to 1, clustered around Z_st",
               bounds=at_least(2)),
        Option("n_S", 21, "normalized variance S = Z''^2 / (Z_mean (1 - Z_mean)) nodes from 0 to 1, quadratic",
               bounds=at_least(2)),
        Option("lambda_pdf", "delta", "PDF of the normalized progress variable Lambda: delta (3-D table) or beta "
               "(adds the input Lambda_var_norm, 4-D table)", choices=("delta", "beta")),
        Option("n_S_Lambda", 6, "normalized variance nodes of Lambda from 0 to 1 (lambda_pdf=beta), quadratic",
               bounds=at_least(2)),
        Option("chunk", 4, "Z_mean nodes per job (one work-directory file each)", bounds=COUNT),
        Option("mc_check", 4, "random table nodes compared with a brute-force Monte-Carlo integration (0: none)",
               bounds=NON_NEGATIVE),
        Option("mc_samples", 4000000, "PDF samples per Monte-Carlo check", bounds=at_least(100)),
        *executor_options("chunks", "the chunks"),
    )

    @classmethod
    def resolve(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Options with defaults filled in and converted, plus range checks (one-line errors)."""
        return resolve_options(cls.options, given, f"table kind {KIND!r}")

    @classmethod
    def build(cls, output: str | os.PathLike, *, progress: bool = True, executor: Executor | None = None,
              **options: Any) -> BuildReport:
        """Integrate the source table over the presumed PDF and write both forms to `output`; resumes the chunks
        an interrupted build of the same options and source finished."""
        started = time.perf_counter()
        opts = cls.resolve(options)
        target = check_writable(output)
        source = read_source(opts["source"])
        Z_mean = z_nodes(int(opts["n_Z_mean"]), float(source.attrs.get("Z_st", 1.0 / 3.0)))
        S = variance_nodes(int(opts["n_S"]))
        S_Lambda = variance_nodes(int(opts["n_S_Lambda"])) if opts["lambda_pdf"] == "beta" else None
        lambda_weights = None
        if S_Lambda is not None:
            Lm, SL = np.meshgrid(source.Lambda, S_Lambda, indexing="ij")
            lambda_weights = beta_weights(source.Lambda, Lm.ravel(), SL.ravel())
        recorded = {k: v for k, v in opts.items() if k not in NOT_IN_RESULT}
        root = open_work_dir(target, {**recorded, "source_sha256": Table(source.path).sha256()})
        step = int(opts["chunk"])
        jobs = [Chunk(i, Z_mean[start:start + step], S, source.Z, source.values, lambda_weights, root)
                for i, start in enumerate(range(0, len(Z_mean), step))]
        saved, resumed = solve_missing(ChunkWorkDir(root, "condition"), jobs, integrate_chunk,
                                       scheduler=opts["scheduler"], executor=executor, workers=int(opts["workers"]),
                                       progress=progress, desc="chunks")
        means = np.concatenate([chunk["means"] for chunk in saved])
        axes = {"Z_mean": Z_mean, "Z_var_norm": S, "Lambda_mean": source.Lambda}
        if S_Lambda is not None:
            axes["Lambda_var_norm"] = S_Lambda
        check = monte_carlo_check(source, axes, means, int(opts["mc_check"]), int(opts["mc_samples"]))
        n_rows = _write(target, opts, source, axes, means, check)
        remove_work_dir(target)
        numbers = {"table shape": [len(a) for a in axes.values()]}
        if check:
            numbers["Monte-Carlo check: max relative error T, Y_max"] = [check["T_max_rel_error"],
                                                                         check["major_Y_max_rel_error"]]
            numbers["Monte-Carlo check: max |error| / standard error"] = check["max_z_score"]
        return BuildReport(path=target, rows=n_rows, seconds=time.perf_counter() - started,
                           resumed=resumed, numbers=numbers)

    check = staticmethod(presumed_pdf_checks)  # accuracy checks for ``surrogate table check``

    @staticmethod
    def plot(path: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
        """Mean T and ω_C against Z_mean for several variances of Z, as a PNG in `out_dir`."""
        from .plots import plot_presumed_pdf

        return [plot_presumed_pdf(path, out_dir)]

    @staticmethod
    def summary(path: str | os.PathLike) -> list[tuple[str, str]]:
        """Lines for ``surrogate table info``: the PDFs, the table's shape and the Monte-Carlo check."""
        attrs = Table(path).attrs
        lines = [("presumed PDF", f"Z: beta, Lambda: {attrs['lambda_pdf']}; source {attrs['source_table']}"),
                 ("structured shape", " x ".join(f"{n} {a}" for a, n in zip(attrs["structured_axes"],
                                                                             attrs["structured_shape"])))]
        check = attrs.get("mc_check")
        if check:
            lines.append(("Monte-Carlo check", f"{check['points']} nodes, {check['samples']} samples: max relative "
                          f"error T {check['T_max_rel_error']:.2g}, major Y {check['major_Y_max_rel_error']:.2g}, "
                          f"max |error|/standard error {check['max_z_score']:.2f}"))
        return lines


def monte_carlo_check(source: Source, axes: dict[str, np.ndarray], means: np.ndarray, points: int,
                      samples: int) -> dict[str, Any]:
    """Compare `points` random interior nodes of the integrated `means` with a brute-force Monte-Carlo
    integration of the same source. Relative errors of T and of the mass fractions above 0.01 (where Monte
    Carlo resolves 1e-3), and the largest |error| / standard error over every integrated quantity."""
    if points == 0:
        return {}
    rng = np.random.default_rng(0)
    interior = [np.flatnonzero((values > 0) & (values < 1)) if name != "Lambda_mean" else np.arange(len(values))
                for name, values in axes.items()]
    T_col = source.names.index("T")
    Y_cols = np.arange(len(source.species))
    rel_T, rel_Y, z_score = [], [], []
    for k in range(points):
        node = tuple(int(rng.choice(candidates)) for candidates in interior)
        Z_moments = (axes["Z_mean"][node[0]], axes["Z_var_norm"][node[1]])
        if "Lambda_var_norm" in axes:
            moments = [Z_moments, (axes["Lambda_mean"][node[2]], axes["Lambda_var_norm"][node[3]])]
            mc, error = monte_carlo_mean([source.Z, source.Lambda], source.values, moments, samples, seed=k)
        else:  # δ in Λ: the source at Λ̃ = a node is that node's column
            mc, error = monte_carlo_mean([source.Z], source.values[:, node[2]], [Z_moments], samples, seed=k)
        exact = means[node]
        rel_T.append(abs(exact[T_col] / mc[T_col] - 1.0))
        major = Y_cols[mc[Y_cols] > 0.01]
        rel_Y.append(float(np.max(np.abs(exact[major] / mc[major] - 1.0))) if major.size else 0.0)
        floor = 1e-12 * np.maximum(np.abs(mc), np.abs(exact)) + 1e-300  # columns constant over the draws
        z_score.append(float(np.max(np.abs(exact - mc) / np.maximum(error, floor))))
    return {"points": points, "samples": samples, "T_max_rel_error": float(max(rel_T)),
            "major_Y_max_rel_error": float(max(rel_Y)), "max_z_score": float(max(z_score)),
            "definition": "random interior nodes; exact means vs plain Monte-Carlo means of the same piecewise-"
                          "linear source; major Y: mass fractions above 0.01; z-score: |error| / standard error"}


def _finish(source: Source, means: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Output names and values (..., n_outputs): the Favre means, ρ̄ = 1/(1/ρ)~ and ⟨ω_C⟩ = ρ̄ (ω_C/ρ)~."""
    index = {name: j for j, name in enumerate(source.names)}
    rho = 1.0 / means[..., index["inv_rho"]]
    kept = [*(f"Y_{s}" for s in source.species), "T", "C"]
    values = np.concatenate([means[..., [index[n] for n in kept]],
                             np.stack([rho, rho * means[..., index["omega_C_over_rho"]]], axis=-1)], axis=-1)
    return [*kept, "rho", "omega_C"], values


def _units(source: Source) -> dict[str, tuple[str, str]]:
    units = {f"Y_{s}": ("1", f"mass fraction of {s}, {FAVRE}") for s in source.species}
    units["T"] = ("K", f"temperature, {FAVRE}")
    units["C"] = ("1", f"progress variable, {FAVRE}")
    units["rho"] = ("kg/m^3", "Reynolds mean density, 1 / (Favre mean of 1/rho)")
    units["omega_C"] = ("kg/m^3/s", "Reynolds mean source term of C, rho_mean * (Favre mean of omega_C / rho)")
    return units


AXIS_DESCRIPTIONS = {
    "Z_mean": ("1", "Favre mean mixture fraction Z_mean"),
    "Z_var_norm": ("1", "normalized mixture-fraction variance S = Z''^2 / (Z_mean (1 - Z_mean)), Favre"),
    "Lambda_mean": ("1", "Favre mean normalized progress variable, Lambda = (C - C_min(Z)) / (C_max(Z) - C_min(Z))"),
    "Lambda_var_norm": ("1", "normalized variance of Lambda, Lambda''^2 / (Lambda_mean (1 - Lambda_mean))"),
}


def _write(target: Path, opts: dict[str, Any], source: Source, axes: dict[str, np.ndarray], means: np.ndarray,
           check: dict[str, Any]) -> int:
    """Both forms, atomically: scattered rows with line labels and declared defaults, and ``/structured``."""
    names, values = _finish(source, means)
    units = _units(source)
    grids = np.meshgrid(*axes.values(), indexing="ij")
    inputs = [Column(name, grid.ravel(), *AXIS_DESCRIPTIONS[name]) for name, grid in zip(axes, grids)]
    flat = values.reshape(-1, len(names))
    outputs = [Column(name, flat[:, j], *units[name]) for j, name in enumerate(names)]
    shape = [len(a) for a in axes.values()]
    per_line = int(np.prod(shape[2:]))
    line = np.repeat(np.arange(shape[0] * shape[1]), per_line)
    Zi, Si = np.divmod(np.arange(shape[0] * shape[1]), shape[1])
    boundary = (Zi == 0) | (Zi == shape[0] - 1) | (Si == 0) | (Si == shape[1] - 1)
    mass_fractions = [f"Y_{s}" for s in source.species]
    defaults = DatasetDefaults(default_inputs=list(axes), default_outputs=[*mass_fractions, "T", "rho", "omega_C"],
                               softmax_outputs=mass_fractions, group_column="line",
                               train_groups=[int(g) for g in np.flatnonzero(boundary)])
    attrs = {
        **{k: source.attrs[k] for k in PROVENANCE if k in source.attrs},
        "source_table": str(source.path),
        "source_kind": source.attrs.get("kind", ""),
        "source_sha256": Table(source.path).sha256(),
        "build_options": {k: v for k, v in opts.items() if k not in EXECUTOR_OPTION_NAMES},
        "pdf_Z": "beta(Z; Z_mean, Z_var_norm), Favre",
        "lambda_pdf": opts["lambda_pdf"],
        "mean_definition": ("Y_k, T, C: Favre means int phi P dZ dLambda over the presumed Favre PDF; rho and "
                            "omega_C: Reynolds means (see their descriptions)"),
        "integration": ("exact for the source's piecewise-linear (Z, Lambda) interpolant: regularized incomplete "
                        "beta functions per segment, delta limits at S = 0 and two-delta limit at S = 1"),
        "structured_axes": list(axes),
        "structured_shape": shape,
        "mc_check": check or None,
    }

    def structured(h5: Any) -> None:
        group = h5.create_group("structured")
        group.attrs["description"] = "presumed-PDF table on a regular grid; attribute axes names the axis order"
        group.attrs["axes"] = json.dumps(list(axes))
        for name, nodes in axes.items():
            create_dataset(group, name, *AXIS_DESCRIPTIONS[name], data=nodes)
        out = group.create_group("outputs")
        for j, name in enumerate(names):
            create_dataset(out, name, *units[name], data=values[..., j])
        out.attrs["order"] = json.dumps(names)

    write_table(target, kind=KIND, inputs=inputs, outputs=outputs, attrs=attrs, defaults=defaults,
                labels=[Column("line", line, "1", "index of the row's (Z_mean, Z_var_norm) node, "
                               "Z_mean index * n_S + S index")], extra=structured)
    return len(line)
