"""``ignition``: homogeneous constant-pressure ignition over initial temperature, equivalence ratio (or mixture
fraction) and pressure.

Each condition (T0, φ, p) is one adiabatic, constant-pressure ideal-gas reactor (Cantera
``IdealGasConstPressureReactor`` in a ``ReactorNet``) integrated step by step by CVODES from the unburnt
mixture (fuel and oxidizer at equivalence ratio φ, ``set_equivalence_ratio``) until the temperature is within
``end_delta_T`` of the HP equilibrium temperature, or until ``end_time``.

- **ignition delay** τ_ign: the time of the maximum of dT/dt over the integrator's steps (which cluster around
  ignition); a reactor that does not reach half its equilibrium temperature rise by ``end_time`` has not
  ignited (τ_ign = nan, reported in the notes).
- **rows** ``(T0, phi[, p], C) -> Y_k, T, omega_C``: each trajectory resampled at ``points_per_trajectory``
  nodes uniform in C (:mod:`cantera_tables.progress`), so the induction period, where C barely moves, is one
  node and the reacting part is resolved; labelled by ``trajectory`` for grouped splits. The unburnt mixture's
  Bilger Z is stored as the input column ``Z`` as well; with ``mixture_fraction`` the conditions are given in Z
  (converted to φ with the streams) and ``(T0, Z[, p], C)`` are the default inputs, for a solver that
  transports Z.
- ``/ignition/<column>``: one row per condition: T0, phi, p, Z (Bilger), tau_ign, T_eq.
- ``/trajectories/NNNNN``: the raw trajectory (t, T, Y, C, omega_C) at every integrator step, or at every
  k-th step where there are more than ``RAW_POINTS`` (CVODES already puts its steps where the state changes).

Conditions run in parallel on the executor (a local process pool, or Dask with ``scheduler``); each finished
trajectory is saved in the work directory, so a killed build resumes with the conditions left. With a
``tolerance`` the build is adaptive (:mod:`cantera_tables.ignition_refine`): reactors are added along each (p, φ)
line in T0 until ln τ_ign is interpolated in 1000/T0 within it; the added reactors follow the given grid in
``/ignition`` and ``/trajectories``, in the order they were added, and the root attribute ``refinement`` holds the
history.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from surrogate.chunks import ChunkWorkDir, remove_work_dir
from surrogate.contracts import BuildReport, TableGenerator
from surrogate.errors import UserError
from surrogate.options import Option, parse_floats
from surrogate.ranges import NON_NEGATIVE, POSITIVE, Range, at_least
from surrogate.table import Column, Table, create_dataset, write_columns, write_table

from . import ignition_refine
from .build import build_conditions, solve_missing
from .checks import ignition_checks
from .executors import EXECUTOR_OPTION_NAMES, executor_options
from .flamelet import FlameletChemistry, cantera_message, load_gas
from .mixture import (CH4_PROGRESS_VARIABLE, Streams, check_mixture_axis, equivalence_ratios,
                      mixture_axis_columns, mixture_axis_options, mixture_defaults, mixture_provenance,
                      present_species, resolve_stream_options, stream_options, streams_of, unburnt_mixture, unburnt_Z)
from .progress import resample_by_progress
from .structured import output_units

KIND = "ignition"
IGNITION_DELAY_DEFINITION = ("time of the maximum of dT/dt over the CVODES steps of an adiabatic constant-pressure "
                             "reactor started from the unburnt mixture at t = 0")
NOT_IN_SOLVES = ("points_per_trajectory", *EXECUTOR_OPTION_NAMES)
RAW_POINTS = 400


@dataclass(frozen=True)
class IgnitionCondition:
    """One reactor run: the streams (mechanism, fuel, oxidizer, pressure), T0, φ and where to save it."""

    streams: Streams
    T0: float
    phi: float
    end_time: float
    end_delta_T: float
    work: Path
    index: int


def ignition_delay(t: np.ndarray, T: np.ndarray) -> float:
    """τ_ign = the time of the largest dT/dt along a trajectory (see :data:`IGNITION_DELAY_DEFINITION`)."""
    return float(t[int(np.argmax(np.gradient(T, t)))])


def run_reactor(gas: Any, condition: IgnitionCondition) -> dict[str, np.ndarray]:
    """Integrate one constant-pressure reactor from the unburnt mixture; every CVODES step is kept.

    Returns t, T, Y (n_steps, n_species), omega_k (molar net production rates), T_eq (HP equilibrium of the
    initial mixture) and tau_ign (nan when the reactor has not ignited by ``end_time``).
    """
    import cantera as ct

    unburnt_mixture(gas, condition.streams, condition.T0, condition.phi)
    initial = gas.TPY
    gas.equilibrate("HP")
    T_eq = float(gas.T)
    gas.TPY = initial
    reactor = _reactor(gas)
    network = ct.ReactorNet([reactor])
    t, T, Y, omega = [0.0], [reactor.T], [gas.Y], [gas.net_production_rates]
    while t[-1] < condition.end_time and reactor.T < T_eq - condition.end_delta_T:
        t.append(network.step())
        T.append(reactor.T)
        Y.append(gas.Y)
        omega.append(gas.net_production_rates)
    t_arr, T_arr = np.array(t), np.array(T)
    Y_arr = np.clip(np.array(Y), 0.0, None)  # CVODES leaves round-off negatives: clipped, renormalized
    ignited = T_arr.max() - condition.T0 > 0.5 * (T_eq - condition.T0)
    return {"t": t_arr, "T": T_arr, "Y": Y_arr / Y_arr.sum(axis=1, keepdims=True), "omega_k": np.array(omega),
            "T_eq": np.array(T_eq), "tau_ign": np.array(ignition_delay(t_arr, T_arr) if ignited else np.nan)}


def _reactor(gas: Any) -> Any:
    """A constant-pressure reactor on `gas` (Cantera 3.2 asks whether to clone it: no, as before 3.2)."""
    import cantera as ct

    try:
        return ct.IdealGasConstPressureReactor(gas, clone=False)
    except TypeError:  # Cantera < 3.2 has no `clone` and always shares
        return ct.IdealGasConstPressureReactor(gas)


def solve_condition(condition: IgnitionCondition) -> None:
    """Run one reactor and save its trajectory in the work directory (picklable, runs on any worker)."""
    import cantera as ct

    gas = load_gas(condition.streams.mechanism)
    try:
        trajectory = run_reactor(gas, condition)
    except ct.CanteraError as exc:
        raise UserError(f"ignition at T0={condition.T0:g} K, phi={condition.phi:g}, p={condition.streams.pressure:g} "
                        f"Pa: the reactor integration failed ({cantera_message(exc)})") from None
    ChunkWorkDir(condition.work, "condition").save(condition.index, trajectory)


class IgnitionTable(TableGenerator):
    """Constant-pressure homogeneous ignition trajectories over (T0, φ, p), rows in C, and ignition delays."""

    name = KIND
    description = "Constant-pressure homogeneous ignition over T0, phi and p: states along C and ignition delays."
    options = (
        *stream_options("gri30.yaml", "CH4:1", CH4_PROGRESS_VARIABLE, temperatures=False),
        Option("pressure", [101325.0], "pressures [Pa]; several add the input p", type=parse_floats,
               bounds=POSITIVE),
        Option("initial_temperature", [1100.0, 1200.0, 1300.0, 1400.0, 1500.0, 1600.0], "initial temperatures T0 [K]",
               type=parse_floats, bounds=POSITIVE),
        *mixture_axis_options([0.5, 1.0, 2.0], ""),
        Option("end_time", 10.0, "longest integration [s]; a reactor not ignited by then has no ignition delay",
               bounds=POSITIVE),
        Option("end_delta_T", 1.0, "stop once T is this close to the HP equilibrium temperature [K]",
               bounds=POSITIVE),
        Option("points_per_trajectory", 100, "C nodes per trajectory in the scattered table", bounds=at_least(2)),
        Option("tolerance", 0.0, "adaptive table: after the given T0 grid, add reactors along each (phi, p) line "
               "until ln tau_ign of every interior reactor is interpolated in 1000/T0 from its neighbours within this "
               "(about a relative error of tau_ign; 0: no refinement)", bounds=Range(0, 1)),
        Option("max_refine", 20, "most reactors the refinement adds per (phi, p) line", bounds=NON_NEGATIVE),
        *executor_options("conditions", "the conditions"),
    )

    @classmethod
    def resolve(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Options with defaults filled in and converted, plus range checks (one-line errors)."""
        opts = resolve_stream_options(cls.options, given, KIND)
        if not opts["initial_temperature"]:
            raise UserError("option initial_temperature: give at least one value")
        check_mixture_axis(opts, cls.options)
        ignition_refine.refine_settings(opts)  # a tolerance without three temperatures: refused before any solve
        return opts

    @classmethod
    def conditions(cls, opts: dict[str, Any], chemistry: FlameletChemistry, work: Path) -> list[IgnitionCondition]:
        """Every (p, φ, T0) in that nesting order, T0 varying fastest (φ converted from Z where Z is given)."""
        grid = [(p, phi, T0) for p in opts["pressure"] for phi in equivalence_ratios(opts, chemistry)
                for T0 in opts["initial_temperature"]]
        return [IgnitionCondition(streams_of(opts, p), float(T0), float(phi), float(opts["end_time"]),
                                  float(opts["end_delta_T"]), work, i) for i, (p, phi, T0) in enumerate(grid)]

    @classmethod
    def build(cls, output: str | os.PathLike, *, progress: bool = True, executor: Executor | None = None,
              **options: Any) -> BuildReport:
        """Run every reactor and write the table to `output`; resumes the conditions already run."""
        started = time.perf_counter()
        run = build_conditions(cls, output, options, not_in_solves=NOT_IN_SOLVES,
                               make_jobs=cls.conditions, solve=solve_condition,
                               desc="reactors", progress=progress, executor=executor)
        opts, target, conditions, trajectories = run.opts, run.target, run.jobs, run.saved
        resumed, refinement = run.resumed, None
        settings = ignition_refine.refine_settings(opts)
        if settings is not None:
            def solve_round(new: list[IgnitionCondition]) -> list[dict[str, np.ndarray]]:
                nonlocal resumed
                saved, done = solve_missing(run.work, new, solve_condition, scheduler=opts["scheduler"],
                                            executor=executor, workers=int(opts["workers"]), progress=progress,
                                            desc="added reactors")
                resumed += done
                return saved

            conditions, trajectories, refinement = ignition_refine.refine_lines(conditions, trajectories, settings,
                                                                                solve_round)
        n_rows = _write(target, opts, run.chemistry, run.gas, conditions, trajectories, refinement)
        remove_work_dir(target)
        tau = np.array([float(tr["tau_ign"]) for tr in trajectories])
        missing = [c for c, t in zip(conditions, tau) if np.isnan(t)]
        notes = [f"{len(missing)} reactor(s) did not ignite within end_time={opts['end_time']:g} s:",
                 *(f"  T0={c.T0:g} K, phi={c.phi:g}, p={c.streams.pressure:g} Pa" for c in missing)] if missing else []
        numbers = {"reactors": len(conditions),
                   "ignition delay range [s]": [float(np.nanmin(tau)), float(np.nanmax(tau))]
                   if not np.all(np.isnan(tau)) else "none ignited"}
        if refinement is not None:
            refine_notes, refine_numbers = ignition_refine.report(refinement)
            notes += refine_notes
            numbers.update(refine_numbers)
        return BuildReport(path=target, rows=n_rows, seconds=time.perf_counter() - started, resumed=resumed,
                           notes=notes, numbers=numbers)

    @staticmethod
    def plot(path: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
        """Ignition delay against 1000/T0, one line per (φ, p)."""
        from .plots import plot_ignition_delay

        return [plot_ignition_delay(path, out_dir)]

    check = staticmethod(ignition_checks)  # physics checks for ``surrogate table check``

    @staticmethod
    def summary(path: str | os.PathLike) -> list[tuple[str, str]]:
        """The ignition delay definition and the delays of each (φ, p) from the lowest to the highest T0."""
        from .plots import read_group

        delays = read_group(path, "ignition")
        lines = [("ignition delay", IGNITION_DELAY_DEFINITION)]
        for p in np.unique(delays["p"]):
            for phi in np.unique(delays["phi"]):
                at = (delays["p"] == p) & (delays["phi"] == phi)
                order = np.argsort(delays["T0"][at])
                pairs = zip(delays["T0"][at][order], delays["tau_ign"][at][order])
                lines.append((f"tau_ign at phi={phi:g}, p={p:g} Pa", f"(Z={delays['Z'][at][0]:.4g}) " + ", ".join(
                    f"{T0:g} K: {tau:.3g} s" for T0, tau in pairs)))
        return lines + ignition_refine.summary(Table(path).attrs.get("refinement"))


def _write(target: Path, opts: dict[str, Any], chemistry: FlameletChemistry, gas: Any,
           conditions: Sequence[IgnitionCondition], trajectories: Sequence[dict[str, np.ndarray]],
           refinement: dict[str, Any] | None = None) -> int:
    """Resample every trajectory in C, add the delays and raw trajectories and an adaptive build's `refinement`
    record, write the table atomically."""
    keep = present_species(np.max([tr["Y"].max(axis=0) for tr in trajectories], axis=0), chemistry.species)
    species = [chemistry.species[k] for k in keep]
    units = output_units(species)
    n = int(opts["points_per_trajectory"])
    rows: dict[str, list[np.ndarray]] = {"C": [], "outputs": [], "T0": [], "phi": [], "Z": [], "p": [],
                                         "trajectory": []}
    Z = np.array([unburnt_Z(gas, chemistry, c.streams, c.phi) for c in conditions])
    for index, (condition, tr) in enumerate(zip(conditions, trajectories)):
        tr["C"] = tr["Y"] @ chemistry.pv_weights
        tr["omega_C"] = chemistry.progress_source(tr["omega_k"])
        C, outputs = resample_by_progress(tr["C"], np.column_stack([tr["Y"][:, keep], tr["T"], tr["omega_C"]]), n)
        rows["C"].append(C)
        rows["outputs"].append(outputs)
        for key, value in (("T0", condition.T0), ("phi", condition.phi), ("Z", Z[index]),
                           ("p", condition.streams.pressure), ("trajectory", index)):
            rows[key].append(np.full(len(C), value))
    stacked = {key: np.concatenate(value) for key, value in rows.items()}
    mixture, alternative = mixture_axis_columns(opts, stacked["phi"], stacked["Z"])
    inputs = [Column("T0", stacked["T0"], "K", "initial temperature of the reactor"), mixture]
    if len(opts["pressure"]) > 1:
        inputs.append(Column("p", stacked["p"], "Pa", "pressure"))
    inputs.append(Column("C", stacked["C"], "1", "progress variable " + " + ".join(
        f"{c:g}*Y_{s}" for s, c in opts["progress_variable"].items())))
    inputs.append(alternative)
    outputs = [Column(name, stacked["outputs"][:, j], u, d) for j, (name, (u, d)) in enumerate(units.items())]
    labels = [Column("trajectory", stacked["trajectory"], "1", "index of the row's reactor, /trajectories/NNNNN")]
    defaults = mixture_defaults(inputs, species, "trajectory", not_default=[alternative])
    attrs = {
        **mixture_provenance(opts, chemistry, gas, species),
        "reactor": "adiabatic IdealGasConstPressureReactor, CVODES steps of ReactorNet.step",
        "ignition_delay_definition": IGNITION_DELAY_DEFINITION,
        "equivalence_ratio_definition": "Cantera set_equivalence_ratio(phi, fuel, oxidizer), mole basis",
        **({"refinement": refinement} if refinement is not None else {}),
    }

    def extra(h5: Any) -> None:
        write_columns(h5.create_group("ignition"), [
            Column("T0", np.array([c.T0 for c in conditions]), "K", "initial temperature"),
            Column("phi", np.array([c.phi for c in conditions]), "1", "equivalence ratio"),
            Column("p", np.array([c.streams.pressure for c in conditions]), "Pa", "pressure"),
            Column("Z", Z, "1", "Bilger mixture fraction of the unburnt mixture"),
            Column("tau_ign", np.array([float(tr["tau_ign"]) for tr in trajectories]), "s", IGNITION_DELAY_DEFINITION),
            Column("T_eq", np.array([float(tr["T_eq"]) for tr in trajectories]), "K",
                   "HP equilibrium temperature of the unburnt mixture"),
        ])
        group = h5.create_group("trajectories")
        group.attrs["description"] = f"every k-th CVODES step, at most {RAW_POINTS} per reactor"
        for index, tr in enumerate(trajectories):
            g = group.create_group(f"{index:05d}")
            steps = np.unique(np.linspace(0, len(tr["t"]) - 1, min(len(tr["t"]), RAW_POINTS)).astype(int))
            for name, values, unit in (("t", tr["t"], "s"), ("T", tr["T"], "K"), ("Y", tr["Y"][:, keep], "1"),
                                       ("C", tr["C"], "1"), ("omega_C", tr["omega_C"], "kg/m^3/s")):
                create_dataset(g, name, unit, name, data=values[steps])
            g["Y"].attrs["species"] = json.dumps(species)

    write_table(target, kind=KIND, inputs=inputs, outputs=outputs, attrs=attrs, defaults=defaults, labels=labels,
                extra=extra)
    return len(stacked["C"])

