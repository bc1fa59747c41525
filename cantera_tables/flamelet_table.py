"""``counterflow-flamelet`` and ``h2-flamelet``: counterflow diffusion flamelet tables, the whole S-curve, as one
HDF5 table, for any fuel.

``counterflow-flamelet`` takes a ``preset`` (``h2``: h2o2.yaml, C = Y_H2O; ``ch4``: GRI-3.0, C = Y_CO2 + Y_CO +
Y_H2O + Y_H2) that fills the mechanism, fuel and progress variable the user does not give; ``h2-flamelet`` is
the ``h2`` preset with those values as its defaults. The table (format of :mod:`surrogate.table`, ``kind`` the
generator's name) holds

- ``/inputs/Z`` (Bilger), ``/inputs/C`` (progress variable), ``/inputs/chi`` (local scalar dissipation rate,
  1/s) and, only when several pressures are built, ``/inputs/p`` (Pa): every flamelet resampled at
  ``points_per_flamelet`` mixture fractions (form a, scattered points);
- ``/outputs/Y_<species>`` for every species present in the flames, ``/outputs/T``, ``/outputs/omega_C``;
- ``/labels/flamelet`` (index of the row's ``/flamelets/NNNNN``) and ``/labels/curve`` (S-curve index), so a
  split can hold out whole flamelets;
- declared defaults (:class:`surrogate.table.DatasetDefaults`): inputs Z, C, chi (and p), the mass fractions as
  outputs closed by a softmax, chi log-scaled, rows grouped by ``flamelet``;
- ``/flamelets/NNNNN``: raw profiles of each flamelet (``grid``, ``T``, ``Y`` with a ``species`` attribute,
  ``velocity``, ``Z``, ``chi``, ``C``, ``omega_C``) with attributes ``strain_rate``, ``chi_st``, ``T_max``,
  ``branch`` (stable / unstable / extinguished), ``method``, ``curve`` and ``pressure``;
- ``/s_curve/<column>``: one row per flamelet (``flamelet`` index, ``curve``, ``pressure``, ``strain_rate``,
  ``chi_st``, ``T_max``, ``branch``), the S-curve at a glance;
- ``/structured``: the (Z, Λ) table of :mod:`cantera_tables.structured` (form b), for a single pressure;
- root attributes: provenance and the element data that :class:`surrogate.chemistry.BilgerMixtureFraction`
  needs to recompute Z from predicted mass fractions.

The build is resumable (:mod:`cantera_tables.workdir`) and runs one S-curve per pressure on a
``concurrent.futures`` executor (a local process pool by default).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from concurrent.futures import Executor, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from surrogate.atomic import check_writable
from surrogate.chunks import open_work_dir, remove_work_dir, work_dir_for
from surrogate.contracts import BuildReport, TableGenerator
from surrogate.errors import UserError
from surrogate.options import Option, parse_floats, parse_mapping, parse_names, resolve_options
from surrogate.ranges import NON_NEGATIVE, POSITIVE, Range, at_least
from surrogate.table import Column, DatasetDefaults, write_columns, write_table

from . import structured, structured_group
from .checks import counterflow_checks
from .flamelet import (
    BRANCHES,
    GLOBAL_STRAIN_RATE_DEFINITION,
    STRAIN_RATE_DEFINITION,
    THERMAL_DIFFUSIVITY,
    ContinuationSettings,
    Flamelet,
    FlameletChemistry,
    FlameletSetup,
    curve_turning_point,
    label_branches,
    load_gas,
)
from .executors import EXECUTOR_OPTION_NAMES, dask_executor, executor_options
from .mixture import (CH4_PROGRESS_VARIABLE, TRANSPORT_MODELS, check_streams, complete_refine,
                      present_species, provenance, stream_options, streams_of)
from .refine import MIN_INTERVAL_T, RefineSettings
from .workdir import CurveJob, CurveWorkDir, run_curve

KIND = "h2-flamelet"
# A quick configuration for demos and test fixtures: ~16 flamelets (both branches), ~3000 rows, ~3-5 s on 2 cores,
# the structured table kept on its 41 x 21 grid (no lookup refinement).
SMALL_OPTIONS = {
    "strain_factor": 3.0,
    "extinction_tolerance": 0.05,
    "unstable_delta_T": 60.0,
    "max_unstable": 6,
    "refine": {"ratio": 3.0, "slope": 0.2, "curve": 0.4, "prune": 0.05},
    "structured_nz": 41,
    "structured_nlambda": 21,
    "lookup_tolerance": 0.0,
}
# options that only shape the table, not the solves: a resumed build may change them
NOT_IN_SOLVES = ("points_per_flamelet", *structured_group.GRID_OPTIONS, *EXECUTOR_OPTION_NAMES)


PRESETS = {
    "h2": {"mechanism": "h2o2.yaml", "fuel": "H2:1", "progress_variable": {"H2O": 1.0}},
    "ch4": {"mechanism": "gri30.yaml", "fuel": "CH4:1", "progress_variable": CH4_PROGRESS_VARIABLE},
}
CONTINUATION_OPTIONS = (
    Option("pressure", [101325.0], "pressure [Pa]; a comma-separated list builds one S-curve per pressure, "
           "in parallel, and adds the input p", type=parse_floats, bounds=POSITIVE),
    Option("transport", "mixture-averaged", "Cantera transport model", choices=TRANSPORT_MODELS),
    Option("initial_strain", 20.0, "nominal strain rate 4 u_ox / L of the first flamelet [1/s]", bounds=POSITIVE),
    Option("width", 0.03, "domain width at the initial strain [m]; scaled as strain^-1/2 afterwards",
           bounds=POSITIVE),
    Option("strain_factor", 1.3, "ratio of successive strain rates on the stable branch (more flamelets: "
           "closer to 1)", bounds=Range(1, low_open=True)),
    Option("extinction_tolerance", 0.005, "stop refining the extinction strain when the step is below "
           "this relative size", bounds=POSITIVE),
    Option("unstable_delta_T", 20.0, "target drop of T_max between flamelets on the unstable branch [K] "
           "(more flamelets: smaller)", bounds=POSITIVE),
    Option("max_unstable", 80, "most two-point-control flamelets per S-curve (0: the stable branch only)",
           bounds=NON_NEGATIVE),
    Option("refine", {"ratio": 3.0, "slope": 0.05, "curve": 0.1, "prune": 0.02}, "Cantera grid refinement "
           "criteria (any of ratio, slope, curve, prune; the rest keep these defaults, which put extinction "
           "chi_st within 0.5% of a twice finer grid)",
           type=parse_mapping, bounds=NON_NEGATIVE),
    Option("tolerance", 0.0, "adaptive table: after the sweep, add flamelets between neighbours along the S-curve "
           "until each refined output's leave-one-out interpolation error along the curve is at most this "
           "fraction of its range (0: no refinement)", bounds=Range(0, 1)),
    Option("refine_outputs", [], "outputs the tolerance applies to (T, Y_<species>); empty: T and every species "
           "whose mass fraction reaches 0.05", type=parse_names),
    Option("max_refine", 40, "most flamelets the refinement adds per S-curve", bounds=NON_NEGATIVE),
    Option("points_per_flamelet", 200, "mixture-fraction samples per flamelet in the scattered table",
           bounds=at_least(2)),
    Option("structured_nz", 121, "Z nodes of the structured (Z, Lambda) table", bounds=at_least(2)),
    Option("structured_nlambda", 51, "Lambda nodes of the structured (Z, Lambda) table", bounds=at_least(2)),
    Option("structured_lambda", "flamelets", "Lambda node spacing: half uniform, half following the flamelets "
           "(resolves a burning branch crowded near Lambda = 1), or uniform", choices=("flamelets", "uniform")),
    Option("lookup_tolerance", 10.0, "refine the structured table's Z and Lambda nodes where its lookup error is "
           "largest until its largest T error at the stored flamelets is at most this [K] (0: keep the "
           "structured_nz x structured_nlambda grid)", bounds=NON_NEGATIVE),
    Option("max_structured_nodes", 40000, "most nodes (nZ x nLambda) the lookup refinement may give the "
           "structured table", bounds=at_least(4)),
    *executor_options("S-curves", "the S-curves", "address of a Dask distributed scheduler (e.g. tcp://head:8786) "
                      "that runs the S-curves on its workers; empty: local processes"),
)


class CounterflowFlameletTable(TableGenerator):
    """Counterflow diffusion flamelets (Cantera) of any fuel along the whole S-curve: stable, unstable,
    extinguished; ``preset`` names a fuel's mechanism and progress variable."""

    name = "counterflow-flamelet"
    description = ("Counterflow diffusion flamelets of any fuel along the S-curve (stable + unstable branch), "
                   "presets h2 and ch4 (GRI-3.0), Cantera.")
    options = (
        Option("preset", "ch4", "fills mechanism, fuel and progress_variable where they are not given: h2 "
               "(h2o2.yaml, H2:1, C = Y_H2O) or ch4 (gri30.yaml, CH4:1, C = Y_CO2 + Y_CO + Y_H2O + Y_H2)",
               choices=tuple(PRESETS)),
        *stream_options("", "", {}),
        *CONTINUATION_OPTIONS,
    )

    @classmethod
    def default(cls, name: str) -> Any:
        return next(option.default for option in cls.options if option.name == name)

    @classmethod
    def resolve(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Options with defaults filled in, converted and range-checked, presets applied, then the checks across
        options (one-line errors).

        The CLI hands ``build`` options the core already resolved; resolving them again fills in, converts and
        checks what a direct caller gave (typed values pass through unchanged when they are valid).
        """
        opts = resolve_options(cls.options, given, f"table kind {cls.name!r}")
        for name, value in PRESETS.get(opts.get("preset", ""), {}).items():
            if not opts[name]:
                opts[name] = value
        check_streams(opts, opts["pressure"])
        structured_group.check_node_cap(opts)
        opts["refine"] = complete_refine(opts["refine"], cls.default("refine"), cls.name)
        return opts

    @staticmethod
    def setups(opts: dict[str, Any]) -> list[FlameletSetup]:
        return [
            FlameletSetup(
                **dataclasses.asdict(streams_of(opts, p)), transport=opts["transport"], refine=dict(opts["refine"]),
                initial_strain=float(opts["initial_strain"]), width=float(opts["width"]),
            )
            for p in opts["pressure"]
        ]

    @classmethod
    def build(
        cls,
        output: str | os.PathLike,
        *,
        progress: bool = True,
        executor: Executor | None = None,
        on_flamelet: Callable[[int, Flamelet], None] | None = None,
        **options: Any,
    ) -> BuildReport:
        """Solve the S-curve(s) and write the table to `output`; resumes an interrupted build of the same options.

        `executor` runs the S-curves (default: inline for one curve, a process pool for several);
        `on_flamelet(index, flamelet)` is called after each flamelet is saved when a curve runs inline.
        The report's notes list the solves that did not converge; its numbers are the flamelet and solve counts
        and the extinction chi_st (one per pressure).
        """
        started = time.perf_counter()
        opts = cls.resolve(options)
        target = check_writable(output)
        setups = cls.setups(opts)
        gas = load_gas(opts["mechanism"])
        chemistry = FlameletChemistry(gas, setups[0])  # validates species before any work; same at every pressure
        settings = ContinuationSettings(
            strain_factor=float(opts["strain_factor"]),
            extinction_tolerance=float(opts["extinction_tolerance"]),
            unstable_delta_T=float(opts["unstable_delta_T"]),
            max_unstable=int(opts["max_unstable"]),
        )
        refine = _refine_settings(opts, chemistry)
        root = open_work_dir(target, {k: v for k, v in opts.items() if k not in NOT_IN_SOLVES})
        jobs = [CurveJob(setup, settings, root / f"curve-{i:02d}", refine) for i, setup in enumerate(setups)]
        with dask_executor(opts["scheduler"]) as cluster_executor:
            outcomes = _run_jobs(jobs, executor or cluster_executor, on_flamelet, int(opts["workers"]), progress)
        curves = [CurveWorkDir(job.path).flamelets() for job in jobs]
        refinement = [CurveWorkDir(job.path).load_state() for job in jobs] if refine is not None else []
        failures = [f"p={job.setup.pressure:g} Pa: {msg}" for job, o in zip(jobs, outcomes) for msg in o.failures]
        if not any(curves):
            remove_work_dir(target)
            raise UserError(f"{target}: no flamelet converged ({'; '.join(failures)[:300]})")
        history = [{"pressure": job.setup.pressure, "outputs": state.refine_outputs, "added": state.refine_added, "flamelets_error_T_max": state.refine_history,
                    "unsplit": len(state.refine_failed), "worst_unsplittable": state.refine_stuck}
                   for job, state in zip(jobs, refinement)]
        n_rows, extinction, grid = _write(target, cls.name, opts, setups, chemistry, curves, failures, gas, history)
        remove_work_dir(target)
        notes = [f"{len(failures)} solve(s) did not converge and were skipped, or ended the unstable branch (which "
                 "goes as far as it converges and its flamelets reach both streams):",
                 *(f"  {failure}" for failure in failures)] if failures else []
        numbers = {"flamelets": sum(map(len, curves)), "solves": sum(o.solves for o in outcomes),
                   "extinction chi_st [1/s]": extinction if len(setups) > 1 else extinction[0]}
        if refine is not None:
            refine_notes, refine_numbers = _refinement_report(refine, history)
            notes += refine_notes
            numbers.update(refine_numbers)
        if grid is not None:
            grid_notes, grid_numbers = structured_group.report(grid)
            notes += grid_notes
            numbers.update(grid_numbers)
        return BuildReport(path=target, rows=n_rows, seconds=time.perf_counter() - started,
                           resumed=sum(o.resumed for o in outcomes), notes=notes, numbers=numbers)

    @staticmethod
    def plot(path: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
        """S-curve, profiles and structured-table figures as PNG files in `out_dir`."""
        from .plots import plot_table

        return plot_table(path, out_dir)

    check = staticmethod(counterflow_checks)  # physics checks for ``surrogate table check``

    @classmethod
    def restructure(cls, path: str | os.PathLike, output: str | os.PathLike, **options: Any) -> BuildReport:
        """``surrogate table restructure``: the table at `path` written to `output` with its structured (Z, Λ)
        table rebuilt from the stored flamelets (no new solves) with the grid options given (lookup_tolerance,
        max_structured_nodes, structured_nz, ...; the others as the table was built)."""
        return structured_group.restructure(cls.options, f"table kind {cls.name!r}", path, output, options)

    @staticmethod
    def saved_work(output: str | os.PathLike) -> int:
        """Flamelets an unfinished build of `output` committed in its work directory: a rerun resumes from them."""
        return sum(CurveWorkDir(curve).committed() for curve in sorted(work_dir_for(output).glob("curve-*")))

    @staticmethod
    def summary(path: str | os.PathLike) -> list[tuple[str, str]]:
        """Flamelet-specific lines for ``surrogate table info``: branches and extinction per S-curve."""
        from .plots import read_s_curve, s_curve_turning_point

        curve = read_s_curve(path)
        lines = []
        for branch in BRANCHES:
            lines.append((f"{branch} flamelets", str(int(np.sum(curve["branch"] == branch)))))
        for p in np.unique(curve["pressure"]):
            burning, turn = s_curve_turning_point(curve, p)
            if turn is not None:
                lines.append((f"extinction at p={p:g} Pa",
                              f"chi_st={turn.chi_st:.4g} 1/s, T_max={turn.T_max:.0f} K, "
                              f"max axial velocity gradient={turn.strain_rate:.4g} 1/s, global strain "
                              f"(Seshadri-Williams)={turn.global_strain_rate:.4g} 1/s (turning point fitted "
                              f"between the stored flamelets); T_max range "
                              f"{curve['T_max'][burning].min():.0f}-{curve['T_max'][burning].max():.0f} K"))
        import h5py

        with h5py.File(path, "r") as h5:
            if "structured" in h5:
                lines += structured_group.summary(h5["structured"])
            lines += _refinement_summary(json.loads(h5.attrs.get("refinement", "null")))
        return lines


class H2FlameletTable(CounterflowFlameletTable):
    """Hydrogen/air counterflow diffusion flamelets: the ``h2`` preset with its values as the option defaults."""

    name = KIND
    description = "Hydrogen counterflow diffusion flamelets along the S-curve (stable + unstable branch), Cantera."
    options = (*stream_options(**PRESETS["h2"]), *CONTINUATION_OPTIONS)


def _refine_settings(opts: dict[str, Any], chemistry: FlameletChemistry) -> RefineSettings | None:
    """The refinement of an adaptive build (None without a tolerance); unknown outputs are one-line errors."""
    if not opts["tolerance"]:
        return None
    known = ["T", *(f"Y_{s}" for s in chemistry.species)]
    unknown = [name for name in opts["refine_outputs"] if name not in known]
    if unknown:
        raise UserError(f"refine_outputs: unknown output {unknown[0]!r}; choose T or Y_<species> of the mechanism")
    return RefineSettings(float(opts["tolerance"]), tuple(opts["refine_outputs"]), int(opts["max_refine"]))


def _refinement_report(refine: RefineSettings, history: list[dict[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    """Build notes (per S-curve: table size against the reached error, whether the tolerance was met and why not)
    and numbers (flamelets added, largest leave-one-out error) of an adaptive build."""
    notes = []
    for record in history:
        steps = ", ".join(f"{int(n)}: {error:.3g}" for n, error, _ in record["flamelets_error_T_max"])
        _, reached, T_worst = record["flamelets_error_T_max"][-1]
        where = f"the largest error is at the flamelet of T_max {T_worst:.0f} K"
        if reached <= refine.tolerance:
            verdict = "met"
        elif record["worst_unsplittable"]:
            verdict = (f"not met: {where}, and neither interval beside it could be split (failed solves, listed "
                       f"above, or narrower than {MIN_INTERVAL_T:g} K, the solutions' noise)")
        else:
            verdict = f"not met: the budget is spent; {where}"
        notes.append(f"adaptive (p={record['pressure']:g} Pa): flamelets against the largest leave-one-out error, {steps} "
                     f"(tolerance {refine.tolerance:g}, {verdict}; {record['added']} added of at most "
                     f"{refine.max_added})")
    added = [record["added"] for record in history]
    reached = [record["flamelets_error_T_max"][-1][1] for record in history]
    numbers = {"adaptive: flamelets added": added if len(added) > 1 else added[0],
               "adaptive: largest leave-one-out error": reached if len(reached) > 1 else reached[0]}
    return notes, numbers


def _refinement_summary(refinement: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Lines for ``table info`` of an adaptive build (none for a plain sweep): per S-curve, the flamelets before
    and after the refinement and the largest leave-one-out error reached against the tolerance."""
    if not refinement:
        return []
    tolerance = refinement["tolerance"]
    lines = []
    for record in refinement["curves"]:
        (before, first, _), (after, reached, T_worst) = (record["flamelets_error_T_max"][i] for i in (0, -1))
        verdict = "met" if reached <= tolerance else f"not met, largest at T_max {T_worst:.0f} K"
        lines.append((f"adaptive at p={record['pressure']:g} Pa", f"{before} -> {after} flamelets, largest leave-one-out error "
                      f"{first:.3g} -> {reached:.3g} (tolerance {tolerance:g} of each output's range, {verdict}; "
                      f"outputs: {', '.join(record['outputs'])})"))
    return lines


def _run_jobs(jobs: Sequence[CurveJob], executor: Executor | None,
              on_flamelet: Callable[[int, Flamelet], None] | None, workers: int, progress: bool) -> list:
    """Run the curves with a tqdm bar of committed flamelets (inline for one curve, else on an executor)."""
    from tqdm import tqdm

    done_before = [_committed(job) for job in jobs]
    with tqdm(desc="flamelets", unit="flamelet", initial=sum(done_before), disable=not progress) as bar:
        if executor is None and len(jobs) == 1:
            def step(index: int, flamelet: Flamelet) -> None:
                bar.update(1)
                bar.set_postfix(T_max=f"{flamelet.T_max:.0f}K", chi_st=f"{flamelet.chi_st:.3g}", refresh=False)
                if on_flamelet is not None:
                    on_flamelet(index, flamelet)

            return [run_curve(jobs[0], step)]
        owned = executor is None
        if owned:
            executor = ProcessPoolExecutor(max_workers=min(len(jobs), workers or os.cpu_count() or 1))
        try:
            futures = [executor.submit(run_curve, job) for job in jobs]
            while True:
                finished, pending = wait(futures, timeout=0.5)
                bar.update(sum(_committed(job) for job in jobs) - bar.n)
                if not pending:
                    break
            return [future.result() for future in futures]
        finally:
            if owned:
                executor.shutdown(cancel_futures=True)


def _committed(job: CurveJob) -> int:
    state = CurveWorkDir(job.path).load_state() if job.path.is_dir() else None
    return state.n_flamelets if state is not None else 0


def _write(target: Path, kind: str, opts: dict[str, Any], setups: Sequence[FlameletSetup], chemistry: FlameletChemistry,
           curves: Sequence[list[Flamelet]], failures: list[str], gas: Any,
           refinement: list[dict[str, Any]]) -> tuple[int, list[float], dict | None]:
    """Assemble the scattered table, raw flamelets, S-curve summary and structured table; write atomically.
    Returns the row count, the extinction χ_st of each curve and the structured table (None for several)."""
    all_flamelets = [f for curve in curves for f in curve]
    species_index = present_species(np.max([f.Y.max(axis=0) for f in all_flamelets], axis=0), chemistry.species)
    species = [chemistry.species[k] for k in species_index]
    units = structured.output_units(species)
    nodes = structured.z_nodes(int(opts["points_per_flamelet"]), chemistry.Z_st)

    rows: dict[str, list[np.ndarray]] = {"Z": [], "C": [], "chi": [], "p": [], "outputs": [], "flamelet": [],
                                         "curve": []}
    records = []  # (curve, pressure, flamelet, branch)
    extinction = []
    for curve_index, (setup, curve) in enumerate(zip(setups, curves)):
        branches = label_branches(curve)
        turn = curve_turning_point(curve)
        extinction.append(turn.chi_st if turn is not None else float("nan"))
        for flamelet, branch in zip(curve, branches):
            sample = structured.resample(flamelet, nodes, species_index)
            for key in ("Z", "C", "chi", "outputs"):
                rows[key].append(sample[key])
            for key, value in (("p", setup.pressure), ("flamelet", len(records)), ("curve", curve_index)):
                rows[key].append(np.full(len(sample["Z"]), value))
            records.append((curve_index, setup.pressure, flamelet, branch))
    stacked = {key: np.concatenate(value) for key, value in rows.items()}

    inputs = [
        Column("Z", stacked["Z"], "1", "Bilger mixture fraction"),
        Column("C", stacked["C"], "1", "progress variable " + " + ".join(
            f"{c:g}*Y_{s}" for s, c in opts["progress_variable"].items())),
        Column("chi", stacked["chi"], "1/s", "local scalar dissipation rate 2 D_th |dZ/dx|^2"),
    ]
    if len(setups) > 1:
        inputs.append(Column("p", stacked["p"], "Pa", "pressure of the S-curve"))
    outputs = [Column(name, stacked["outputs"][:, j], u, d) for j, (name, (u, d)) in enumerate(units.items())]
    labels = [
        Column("flamelet", stacked["flamelet"], "1", "index of the row's flamelet, /flamelets/NNNNN"),
        Column("curve", stacked["curve"], "1", "index of the row's S-curve (one per pressure)"),
    ]
    mass_fractions = [f"Y_{s}" for s in species]
    bounds = [index for index, record in enumerate(records) if record[3] == "extinguished"]  # the frozen states
    defaults = DatasetDefaults(default_inputs=[c.name for c in inputs], default_outputs=mass_fractions,
                               log_inputs=["chi"], softmax_outputs=mass_fractions, group_column="flamelet",
                               train_groups=bounds)

    attrs = {
        **provenance(opts, chemistry, gas, species),
        "pressure": setups[0].pressure if len(setups) == 1 else [s.pressure for s in setups],
        "transport_model": opts["transport"],
        "chi_definition": f"chi = 2 D |dZ/dx|^2 with D the {THERMAL_DIFFUSIVITY}",
        "chi_st_definition": "chi at the first point along x (fuel inlet at x = 0) where Z = Z_st",
        "strain_rate_definition": STRAIN_RATE_DEFINITION,
        "global_strain_rate_definition": GLOBAL_STRAIN_RATE_DEFINITION,
        "initial_strain_definition": "nominal 4 u_ox / L of the first flamelet's inlet velocities (option)",
        "refine_criteria": dict(opts["refine"]),
        "continuation": {k: opts[k] for k in ("initial_strain", "width", "strain_factor", "extinction_tolerance",
                                             "unstable_delta_T", "max_unstable")},
        "n_flamelets": len(records),
        "extinction_chi_st": extinction if len(setups) > 1 else extinction[0],
        "failed_solves": failures,
        "refinement": ({"tolerance": opts["tolerance"],
                        "error": "largest leave-one-out interpolation error along the S-curve (in T_max) of the "
                                 "refined outputs at the Z nodes, relative to each output's range over the curve",
                        "curves": refinement} if refinement else None),
        "structured_table": len(setups) == 1,
    }

    def extra(h5: Any) -> None:
        group = h5.create_group("flamelets")
        for index, (curve_index, pressure, f, branch) in enumerate(records):
            g = group.create_group(f"{index:05d}")
            for name, values in (("grid", f.grid), ("T", f.T), ("Y", f.Y[:, species_index]), ("velocity", f.velocity),
                                 ("Z", f.Z), ("chi", f.chi), ("C", f.C), ("omega_C", f.omega_C)):
                g.create_dataset(name, data=values, compression="gzip", shuffle=True)
            g["Y"].attrs["species"] = json.dumps(species)
            for key, value in (("strain_rate", f.strain_rate), ("global_strain_rate", f.global_strain_rate),
                               ("chi_st", f.chi_st), ("T_max", f.T_max),
                               ("branch", branch), ("method", f.method), ("curve", curve_index),
                               ("pressure", pressure)):
                g.attrs[key] = value
        summary = h5.create_group("s_curve")
        write_columns(summary, [
            Column("flamelet", np.arange(len(records), dtype=float), "1", "index of /flamelets/NNNNN"),
            Column("curve", np.array([r[0] for r in records], dtype=float), "1", "S-curve index (one per pressure)"),
            Column("pressure", np.array([r[1] for r in records]), "Pa", "pressure"),
            Column("strain_rate", np.array([r[2].strain_rate for r in records]), "1/s", STRAIN_RATE_DEFINITION),
            Column("global_strain_rate", np.array([r[2].global_strain_rate for r in records]), "1/s",
                   GLOBAL_STRAIN_RATE_DEFINITION),
            Column("chi_st", np.array([r[2].chi_st for r in records]), "1/s", "scalar dissipation rate at Z_st"),
            Column("T_max", np.array([r[2].T_max for r in records]), "K", "peak temperature"),
        ])
        summary.create_dataset("branch", data=np.array([r[3] for r in records], dtype="S12"))
        summary["branch"].attrs["description"] = "S-curve branch: stable, unstable or extinguished"
        if grid is not None:
            structured_group.write(h5, grid, units)

    grid = (structured_group.build(curves[0], opts, chemistry.Z_st, species_index, species, nodes)
            if len(setups) == 1 else None)
    write_table(target, kind=kind, inputs=inputs, outputs=outputs, attrs=attrs, defaults=defaults, labels=labels,
                extra=extra)
    return len(stacked["Z"]), extinction, grid
