"""``premixed-fgm``: a flamelet-generated manifold of one-dimensional premixed flames over φ (or Z), with heat
loss.

For every equivalence ratio φ one freely propagating, adiabatic flame (Cantera ``FreeFlame``) is solved from the
unburnt mixture (fuel and oxidizer at φ, temperature ``unburnt_temperature``, ``set_equivalence_ratio``),
giving the laminar flame speed S_L (inflow velocity of the converged free flame) and the thermal thickness
δ_L = (T_b − T_u) / max |dT/dx|. With ``burner_mass_flux_ratio`` the same mixture is also burnt as
burner-stabilized flames (``BurnerFlame``, burner at T_u) with the inlet mass flux cut to a fraction of the free
flame's ρ_u S_L: the flame sits on the burner and loses heat to it, so its enthalpy falls below the adiabatic
one (the heat-loss flamelets of van Oijen & de Goey's FGM). The rows then add the input ``h`` (local mixture
enthalpy) as the heat-loss coordinate.

- rows ``(phi, C[, h]) -> Y_k, T, omega_C``: each flame resampled at ``points_per_flame`` nodes uniform in C
  (:mod:`cantera_tables.progress`); ``/labels/flame`` for grouped splits; the unburnt mixture's Bilger Z is
  stored as the input ``Z`` too, and with ``mixture_fraction`` the flames are given in Z (converted to φ with
  the streams) and ``(Z, C[, h])`` are the default inputs, for a solver that transports Z;
- ``/flames/<column>``: one row per flame: phi, Z (Bilger), mass_flux_ratio (1 for the free flame), S_L (of
  the free flame at that φ), delta_L, T_b (end of the domain), T_max, h_min (lowest enthalpy in the flame);
- ``/profiles/NNNNN``: the raw solution (grid, T, Y, velocity, C, omega_C, h).

One φ (its free flame, then its burner flames, each from the previous one) is one job on the executor; a
finished φ is saved in the work directory, so a killed build resumes with the φ left. A φ whose free flame does
not converge or does not burn (outside the flammable range for this mechanism) is reported and skipped.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from surrogate.chunks import ChunkWorkDir, remove_work_dir
from surrogate.contracts import BuildReport, TableGenerator
from surrogate.errors import UserError
from surrogate.options import Option, parse_floats, parse_mapping
from surrogate.ranges import NON_NEGATIVE, POSITIVE, Range, at_least
from surrogate.table import Column, create_dataset, write_columns, write_table

from .build import build_conditions
from .checks import premixed_checks
from .executors import EXECUTOR_OPTION_NAMES, executor_options
from .flamelet import FlameletChemistry, cantera_message, load_gas
from .mixture import (CH4_PROGRESS_VARIABLE, TRANSPORT_MODELS, Streams, complete_refine,
                      check_mixture_axis, equivalence_ratios, mixture_axis_columns, mixture_axis_options,
                      mixture_defaults, mixture_provenance, present_species, resolve_stream_options, stream_options,
                      streams_of, unburnt_Z, unburnt_mixture)
from .progress import resample_by_progress
from .structured import output_units

KIND = "premixed-fgm"
DEFAULT_REFINE = {"ratio": 3.0, "slope": 0.05, "curve": 0.1, "prune": 0.0}
FLAME_SPEED_DEFINITION = "inflow velocity of the converged adiabatic FreeFlame, u(x = 0)"
THICKNESS_DEFINITION = "thermal thickness (T_b - T_u) / max|dT/dx| of the free flame"
NOT_IN_SOLVES = ("points_per_flame", *EXECUTOR_OPTION_NAMES)
BURNING_RISE = 100.0  # K: a flame whose T_max is not this far above T_u has not burnt
PROFILES = ("grid", "T", "Y", "velocity", "h")


@dataclass(frozen=True)
class PremixedJob:
    """One equivalence ratio: its free flame, then its burner-stabilized flames at the given mass-flux ratios."""

    streams: Streams
    phi: float
    T_u: float
    width: float
    transport: str
    refine: Mapping[str, float]
    mass_flux_ratios: tuple[float, ...]
    work: Path
    index: int


def flame_profiles(flame: Any) -> dict[str, np.ndarray]:
    """Grid, T, Y (clipped at 0, renormalized), velocity and mass enthalpy of a converged 1-D flame."""
    states = flame.to_array()
    Y = np.clip(np.asarray(states.Y), 0.0, None)
    return {"grid": np.asarray(flame.grid, dtype=float), "T": np.asarray(flame.T, dtype=float),
            "Y": Y / Y.sum(axis=1, keepdims=True), "velocity": np.asarray(flame.velocity, dtype=float),
            "h": np.asarray(states.enthalpy_mass, dtype=float),
            "omega_k": np.asarray(states.net_production_rates)}


def thermal_thickness(grid: np.ndarray, T: np.ndarray) -> float:
    """δ_L = (T_b − T_u) / max |dT/dx| (see :data:`THICKNESS_DEFINITION`)."""
    return float((T[-1] - T[0]) / np.max(np.abs(np.gradient(T, grid))))


def free_flame(gas: Any, job: PremixedJob) -> Any:
    """The adiabatic freely propagating flame of the job's mixture, solved from Cantera's initial guess."""
    import cantera as ct

    unburnt_mixture(gas, job.streams, job.T_u, job.phi)
    flame = ct.FreeFlame(gas, width=job.width)
    flame.transport_model = job.transport
    flame.set_refine_criteria(**job.refine)
    flame.solve(loglevel=0, auto=True)
    return flame


def burner_flame(gas: Any, job: PremixedJob, mass_flux: float) -> Any:
    """A burner-stabilized flame of the job's mixture at inlet mass flux `mass_flux` [kg/m²/s], burner at T_u."""
    import cantera as ct

    unburnt_mixture(gas, job.streams, job.T_u, job.phi)
    flame = ct.BurnerFlame(gas, width=job.width)
    flame.transport_model = job.transport
    flame.set_refine_criteria(**job.refine)
    flame.burner.mdot = mass_flux
    flame.solve(loglevel=0, auto=True)
    return flame


def solve_equivalence_ratio(job: PremixedJob) -> None:
    """Solve the job's flames and save them (or the reason there are none) in the work directory."""
    import cantera as ct

    gas = load_gas(job.streams.mechanism)
    saved: dict[str, np.ndarray] = {}
    failures: list[str] = []
    try:
        flame = free_flame(gas, job)
        if max(flame.T) < job.T_u + BURNING_RISE:
            raise ct.CanteraError(f"the free flame did not burn (T_max {max(flame.T):.0f} K)")
    except ct.CanteraError as exc:
        ChunkWorkDir(job.work, "condition").save(job.index, {"failures": np.array([f"phi={job.phi:g}: free flame: "
                                                                          f"{cantera_message(exc)}"])})
        return
    S_L = float(flame.velocity[0])
    rho_u = float(flame.density[0])
    flames = [(1.0, flame_profiles(flame))]
    for ratio in job.mass_flux_ratios:
        try:
            flames.append((ratio, flame_profiles(burner_flame(gas, job, ratio * rho_u * S_L))))
        except ct.CanteraError as exc:
            failures.append(f"phi={job.phi:g}: burner flame at mass-flux ratio {ratio:g}: {cantera_message(exc)}")
    for k, (ratio, profiles) in enumerate(flames):
        saved[f"ratio_{k}"] = np.array(ratio)
        saved.update({f"{name}_{k}": values for name, values in profiles.items()})
    saved.update({"n_flames": np.array(len(flames)), "S_L": np.array(S_L), "failures": np.array(failures, dtype=str)})
    ChunkWorkDir(job.work, "condition").save(job.index, saved)


def unpack_flames(saved: Mapping[str, np.ndarray]) -> list[dict[str, Any]]:
    """The flames of one saved φ as dicts of profiles plus ``ratio`` (mass-flux ratio, 1 for the free flame)."""
    n = int(saved["n_flames"]) if "n_flames" in saved else 0
    return [{"ratio": float(saved[f"ratio_{k}"]), **{name: saved[f"{name}_{k}"] for name in (*PROFILES, "omega_k")}}
            for k in range(n)]


class PremixedFGMTable(TableGenerator):
    """Premixed flamelet-generated manifold: free flames over φ (flame speed, thickness) and burner-stabilized
    heat-loss flames."""

    name = KIND
    description = ("Premixed FGM: freely propagating flames over phi (flame speed, thickness) and optional "
                   "burner-stabilized heat-loss flames, rows in C, Cantera.")
    options = (
        *stream_options("gri30.yaml", "CH4:1", CH4_PROGRESS_VARIABLE, temperatures=False),
        Option("pressure", [101325.0], "pressures [Pa]; several add the input p", type=parse_floats,
               bounds=POSITIVE),
        Option("unburnt_temperature", 300.0, "temperature T_u of the unburnt mixture (and of the burner) [K]",
               bounds=POSITIVE),
        *mixture_axis_options([0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4], ", within the flammable range (a phi "
                              "whose flame does not burn is reported and skipped)"),
        Option("burner_mass_flux_ratio", [], "heat-loss flames: burner-stabilized flames at these fractions of "
               "the free flame's rho_u S_L, adding the input h; empty: adiabatic flames only", type=parse_floats,
               bounds=Range(0, 1, low_open=True, high_open=True)),
        Option("transport", "mixture-averaged", "Cantera transport model", choices=TRANSPORT_MODELS),
        Option("width", 0.03, "domain width [m]", bounds=POSITIVE),
        Option("refine", dict(DEFAULT_REFINE), "Cantera grid refinement criteria (any of ratio, slope, curve, "
               "prune; the rest keep these defaults, which are coarse: they put S_L of stoichiometric CH4/air 0.8 % "
               "above halved slope and curve criteria and 1.4 % above quartered ones; lower both for converged "
               "flame speeds)", type=parse_mapping, bounds=NON_NEGATIVE),
        Option("points_per_flame", 100, "C nodes per flame in the scattered table", bounds=at_least(2)),
        *executor_options("equivalence ratios", "the flames"),
    )

    @classmethod
    def resolve(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Options with defaults filled in and converted, plus range checks (one-line errors)."""
        opts = resolve_stream_options(cls.options, given, KIND)
        check_mixture_axis(opts, cls.options)
        opts["refine"] = complete_refine(opts["refine"], DEFAULT_REFINE, KIND)
        return opts

    @classmethod
    def jobs(cls, opts: dict[str, Any], chemistry: FlameletChemistry, work: Path) -> list[PremixedJob]:
        """One job per (p, φ) (φ converted from Z where Z is given)."""
        grid = [(p, phi) for p in opts["pressure"] for phi in equivalence_ratios(opts, chemistry)]
        return [PremixedJob(streams_of(opts, p), float(phi), float(opts["unburnt_temperature"]), float(opts["width"]),
                            opts["transport"], dict(opts["refine"]), tuple(opts["burner_mass_flux_ratio"]), work, i)
                for i, (p, phi) in enumerate(grid)]

    @classmethod
    def build(cls, output: str | os.PathLike, *, progress: bool = True, executor: Executor | None = None,
              **options: Any) -> BuildReport:
        """Solve every flame and write the table to `output`; resumes the equivalence ratios already solved."""
        started = time.perf_counter()
        run = build_conditions(cls, output, options, not_in_solves=NOT_IN_SOLVES,
                               make_jobs=cls.jobs, solve=solve_equivalence_ratio,
                               desc="flames", progress=progress, executor=executor)
        opts, target, jobs, saved = run.opts, run.target, run.jobs, run.saved
        failures = [str(f) for s in saved for f in s["failures"]]
        solved = [(job, s) for job, s in zip(jobs, saved) if "n_flames" in s]
        if not solved:
            remove_work_dir(target)
            raise UserError(f"{target}: no flame converged ({'; '.join(failures)[:300]})")
        n_rows, speeds = _write(target, opts, run.chemistry, run.gas, solved, failures)
        remove_work_dir(target)
        notes = [f"{len(failures)} flame(s) skipped:", *(f"  {f}" for f in failures)] if failures else []
        return BuildReport(path=target, rows=n_rows, seconds=time.perf_counter() - started,
                           resumed=run.resumed, notes=notes,
                           numbers={"flames": sum(int(s["n_flames"]) for _, s in solved),
                                    "S_L range [m/s]": [min(speeds), max(speeds)]})

    @staticmethod
    def plot(path: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
        """Laminar flame speed and thickness against φ."""
        from .plots import plot_flame_speed

        return [plot_flame_speed(path, out_dir)]

    check = staticmethod(premixed_checks)  # physics checks for ``surrogate table check``

    @staticmethod
    def summary(path: str | os.PathLike) -> list[tuple[str, str]]:
        """S_L and δ_L of every free flame, and the heat-loss flames' enthalpy range."""
        from .plots import read_group

        flames = read_group(path, "flames")
        free = flames["mass_flux_ratio"] == 1.0
        lines = [("laminar flame speed", FLAME_SPEED_DEFINITION), ("flame thickness", THICKNESS_DEFINITION)]
        for phi, Z, p, S_L, delta in zip(flames["phi"][free], flames["Z"][free], flames["p"][free],
                                         flames["S_L"][free], flames["delta_L"][free]):
            lines.append((f"phi={phi:g}, p={p:g} Pa", f"Z={Z:.4g}, S_L={S_L:.4g} m/s, delta_L={delta * 1e3:.3g} mm"))
        if (~free).any():
            lines.append(("heat-loss flames", f"{int((~free).sum())}, T_max {flames['T_max'][~free].min():.0f}-"
                          f"{flames['T_max'][~free].max():.0f} K"))
        return lines


def _write(target: Path, opts: dict[str, Any], chemistry: FlameletChemistry, gas: Any,
           solved: Sequence[tuple[PremixedJob, Mapping[str, np.ndarray]]],
           failures: list[str]) -> tuple[int, list[float]]:
    """Resample every flame in C, add the flame summary and raw profiles, write the table atomically."""
    flames = [(job, float(s["S_L"]), f) for job, s in solved for f in unpack_flames(s)]
    keep = present_species(np.max([f["Y"].max(axis=0) for _, _, f in flames], axis=0), chemistry.species)
    species = [chemistry.species[k] for k in keep]
    units = output_units(species)
    heat_loss = bool(opts["burner_mass_flux_ratio"])
    n = int(opts["points_per_flame"])
    rows: dict[str, list[np.ndarray]] = {key: [] for key in ("phi", "Z", "p", "C", "h", "outputs", "flame")}
    Z = np.array([unburnt_Z(gas, chemistry, job.streams, job.phi) for job, _, _ in flames])
    for index, (job, _, f) in enumerate(flames):
        f["C"] = f["Y"] @ chemistry.pv_weights
        f["omega_C"] = chemistry.progress_source(f["omega_k"])
        C, sampled = resample_by_progress(f["C"], np.column_stack([f["Y"][:, keep], f["T"], f["omega_C"], f["h"]]), n)
        rows["C"].append(C)
        rows["outputs"].append(sampled[:, :-1])
        rows["h"].append(sampled[:, -1])
        for key, value in (("phi", job.phi), ("Z", Z[index]), ("p", job.streams.pressure), ("flame", index)):
            rows[key].append(np.full(len(C), value))
    stacked = {key: np.concatenate(value) for key, value in rows.items()}
    mixture, alternative = mixture_axis_columns(opts, stacked["phi"], stacked["Z"])
    inputs = [mixture]
    if len(opts["pressure"]) > 1:
        inputs.append(Column("p", stacked["p"], "Pa", "pressure"))
    inputs.append(Column("C", stacked["C"], "1", "progress variable " + " + ".join(
        f"{c:g}*Y_{s}" for s, c in opts["progress_variable"].items())))
    if heat_loss:
        inputs.append(Column("h", stacked["h"], "J/kg", "mixture enthalpy (below the adiabatic one: heat loss)"))
    inputs.append(alternative)
    outputs = [Column(name, stacked["outputs"][:, j], u, d) for j, (name, (u, d)) in enumerate(units.items())]
    labels = [Column("flame", stacked["flame"], "1", "index of the row's flame, /profiles/NNNNN")]
    defaults = mixture_defaults(inputs, species, "flame", not_default=[alternative])
    free_speeds = [S_L for _, S_L, f in flames if f["ratio"] == 1.0]
    attrs = {
        **mixture_provenance(opts, chemistry, gas, species),
        "unburnt_temperature": float(opts["unburnt_temperature"]),
        "transport_model": opts["transport"],
        "refine_criteria": dict(opts["refine"]),
        "flame_speed_definition": FLAME_SPEED_DEFINITION,
        "thickness_definition": THICKNESS_DEFINITION,
        "heat_loss": ("burner-stabilized flames at mass-flux ratios "
                      + ", ".join(map(str, opts["burner_mass_flux_ratio"]))
                      if heat_loss else "none (adiabatic free flames only)"),
        "equivalence_ratio_definition": "Cantera set_equivalence_ratio(phi, fuel, oxidizer), mole basis",
        "failed_solves": failures,
    }

    def extra(h5: Any) -> None:
        write_columns(h5.create_group("flames"), [
            Column("phi", np.array([job.phi for job, _, _ in flames]), "1", "equivalence ratio"),
            Column("p", np.array([job.streams.pressure for job, _, _ in flames]), "Pa", "pressure"),
            Column("Z", Z, "1", "Bilger mixture fraction of the unburnt mixture"),
            Column("mass_flux_ratio", np.array([f["ratio"] for _, _, f in flames]), "1",
                   "inlet mass flux / (rho_u S_L); 1: the free flame"),
            Column("S_L", np.array([S_L for _, S_L, _ in flames]), "m/s",
                   "laminar flame speed of the free flame at this phi"),
            Column("delta_L", np.array([thermal_thickness(f["grid"], f["T"]) for _, _, f in flames]), "m",
                   "(T_b - T_u) / max|dT/dx| of this flame"),
            Column("T_b", np.array([f["T"][-1] for _, _, f in flames]), "K", "temperature at the end of the domain"),
            Column("T_max", np.array([f["T"].max() for _, _, f in flames]), "K", "peak temperature"),
            Column("h_min", np.array([f["h"].min() for _, _, f in flames]), "J/kg", "lowest mixture enthalpy"),
        ])
        group = h5.create_group("profiles")
        for index, (_, _, f) in enumerate(flames):
            g = group.create_group(f"{index:05d}")
            for name, values, unit in (("grid", f["grid"], "m"), ("T", f["T"], "K"), ("Y", f["Y"][:, keep], "1"),
                                       ("velocity", f["velocity"], "m/s"), ("C", f["C"], "1"),
                                       ("omega_C", f["omega_C"], "kg/m^3/s"), ("h", f["h"], "J/kg")):
                create_dataset(g, name, unit, name, data=values)
            g["Y"].attrs["species"] = json.dumps(species)

    write_table(target, kind=KIND, inputs=inputs, outputs=outputs, attrs=attrs, defaults=defaults, labels=labels,
                extra=extra)
    return len(stacked["C"]), free_speeds
