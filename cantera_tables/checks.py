"""The physics checks ``surrogate table check`` adds for each Cantera table kind, each ``(what, figure, passed)``
(passed None: a figure to read, without a bound). They recompute from the stored solutions what the physics
demands, with Cantera where a property is needed:

- equilibrium: every row's enthalpy is that of its unburnt mixture (HP equilibrium conserves it);
- ignition: every reactor keeps its enthalpy (adiabatic, constant p) and ends at its HP equilibrium
  temperature; the ignition delay falls as T0 rises (no NTC region in CH4 or H2 chemistry);
- premixed-fgm: C rises through every stored flame (else C is no coordinate), the free flames' burnt gas has
  the unburnt enthalpy (to a fraction of the heat release: at the inlet of a 1-D free flame species diffuse
  and heat conducts upstream, so x = 0 is not quite the unburnt state), the heat-loss flames lie below it;
- counterflow-flamelet: C falls along the S-curve at every Z node and the FPV lookup error, as stored by the
  build.
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np

from surrogate.table import Table

from .flamelet import load_gas

Checks = list[tuple[str, str, "bool | None"]]
ENTHALPY_TOLERANCE = 10.0  # J/kg (about 0.01 K of sensible heat): largest enthalpy error that passes
MONOTONE_TOLERANCE = 1e-9  # relative to the flame's C range: a smaller dip of C counts as round-off
ADIABATIC_TOLERANCE = 0.01  # free flame: largest |h_burnt - h_unburnt| as a fraction of its sensible heat rise


def enthalpies(gas: Any, T: np.ndarray, p: np.ndarray | float, Y: np.ndarray, species: Sequence[str]) -> np.ndarray:
    """Mass enthalpy [J/kg] of each state (T, p, Y of the stored `species`; the others, below the storage
    threshold, set to zero)."""
    import cantera as ct

    full = np.zeros((len(T), gas.n_species))
    full[:, [gas.species_index(s) for s in species]] = Y
    states = ct.SolutionArray(gas, len(T))
    states.TPY = np.asarray(T), np.broadcast_to(p, np.shape(T)), full
    return np.asarray(states.enthalpy_mass)


def equilibrium_checks(path: str | os.PathLike) -> Checks:
    """Every row's enthalpy against that of its unburnt mixture: the streams mixed adiabatically
    (Z h_fuel + (1 - Z) h_oxidizer) or the mixture at T_in."""
    table = Table(path)
    gas = load_gas(table.attrs["mechanism"])
    Z, line, h = table.read("Z"), table.read_labels("line"), table.read("h")
    T_in, p = np.asarray(table.attrs["line_T_in"], dtype=float)[line], np.asarray(table.attrs["line_pressure"])[line]
    streams = {name: table.attrs[name] for name in ("fuel", "oxidizer")}
    species = sorted(set(streams["fuel"]["Y"]) | set(streams["oxidizer"]["Y"]))
    Y_fuel, Y_oxidizer = (np.array([streams[name]["Y"].get(s, 0.0) for s in species]) for name in streams)
    unburnt = Z[:, None] * Y_fuel + (1.0 - Z[:, None]) * Y_oxidizer
    adiabatic = np.isnan(T_in)
    expected = np.empty_like(h)
    if adiabatic.any():
        h_streams = [float(enthalpies(gas, np.array([streams[name].get("T", 300.0)]), p[adiabatic][0],
                                      Y[None, :], species)[0]) for name, Y in (("fuel", Y_fuel),
                                                                               ("oxidizer", Y_oxidizer))]
        expected[adiabatic] = Z[adiabatic] * h_streams[0] + (1.0 - Z[adiabatic]) * h_streams[1]
    if (~adiabatic).any():
        expected[~adiabatic] = enthalpies(gas, T_in[~adiabatic], p[~adiabatic], unburnt[~adiabatic], species)
    worst = float(np.abs(h - expected).max())
    return [("enthalpy of the unburnt mixture kept", f"largest |h - h_unburnt| {worst:.3g} J/kg "
             f"(bound {ENTHALPY_TOLERANCE:g})", worst <= ENTHALPY_TOLERANCE)]


def ignition_checks(path: str | os.PathLike) -> Checks:
    """Enthalpy drift along every raw reactor trajectory, the end temperature against T_eq, and the ignition
    delay against T0."""
    import h5py

    table = Table(path)
    gas = load_gas(table.attrs["mechanism"])
    species = list(table.attrs["species"])
    end_delta_T = float(table.attrs["build_options"]["end_delta_T"])
    with h5py.File(path, "r") as h5:
        delays = {name: h5["ignition"][name][()] for name in h5["ignition"]}
        drift, short = 0.0, 0.0
        for k, (_, g) in enumerate(sorted(h5["trajectories"].items())):
            h = enthalpies(gas, g["T"][()], delays["p"][k], g["Y"][()], species)
            drift = max(drift, float(np.abs(h - h[0]).max()))
            if np.isfinite(delays["tau_ign"][k]):
                short = max(short, float(delays["T_eq"][k] - g["T"][-1]))
    lines = [(p, phi) for p in np.unique(delays["p"]) for phi in np.unique(delays["phi"])]
    falling = sum(bool(np.all(np.diff(delays["tau_ign"][at][np.argsort(delays["T0"][at])]) < 0))
                  for at in ((delays["p"] == p) & (delays["phi"] == phi) for p, phi in lines))
    return [
        ("reactor enthalpy conserved", f"largest |h - h(t=0)| {drift:.3g} J/kg (bound {ENTHALPY_TOLERANCE:g})",
         drift <= ENTHALPY_TOLERANCE),
        ("ignited reactors reach T_eq", f"largest T_eq - T_end {short:.3g} K (bound end_delta_T={end_delta_T:g})",
         short <= end_delta_T),
        ("tau_ign falls as T0 rises", f"on {falling} of {len(lines)} (phi, p) lines (an NTC fuel may not)", None),
    ]


def premixed_checks(path: str | os.PathLike) -> Checks:
    """C monotone through every raw flame profile; the free flames' enthalpy at both ends; the heat-loss
    flames' lowest enthalpy below their free flame's."""
    import h5py

    table = Table(path)
    gas = load_gas(table.attrs["mechanism"])
    species = list(table.attrs["species"])
    with h5py.File(path, "r") as h5:
        flames = {name: h5["flames"][name][()] for name in h5["flames"]}
        profiles = [{name: g[name][()] for name in ("C", "h", "T", "Y")} for _, g in sorted(h5["profiles"].items())]
    not_monotone = [k for k, f in enumerate(profiles)
                    if np.any(np.diff(f["C"]) < -MONOTONE_TOLERANCE * (f["C"].max() - f["C"].min()))]
    free = flames["mass_flux_ratio"] == 1.0
    gap = 0.0
    for k in np.flatnonzero(free):
        f = profiles[k]
        burnt = np.repeat(f["Y"][-1:], 2, axis=0)  # the burnt composition at T_b and at T_u: its sensible heat
        h_b, h_cold = enthalpies(gas, np.array([f["T"][-1], f["T"][0]]), flames["p"][k], burnt, species)
        gap = max(gap, abs(float(f["h"][-1] - f["h"][0])) / (h_b - h_cold))
    checks: Checks = [
        ("C rises through every flame", f"{len(profiles) - len(not_monotone)} of {len(profiles)} flames"
         + (f"; not flames {not_monotone[:10]}" if not_monotone else ""), not not_monotone),
        ("free flames adiabatic", f"largest |h_burnt - h_unburnt| {100 * gap:.3g} % of the sensible heat rise "
         f"(bound {100 * ADIABATIC_TOLERANCE:g} %)", gap <= ADIABATIC_TOLERANCE),
    ]
    if (~free).any():
        h_free = {(phi, p): h for phi, p, h, is_free in zip(flames["phi"], flames["p"], flames["h_min"], free)
                  if is_free}
        below = sum(flames["h_min"][k] < h_free[(flames["phi"][k], flames["p"][k])] - ENTHALPY_TOLERANCE
                    for k in np.flatnonzero(~free))
        checks.append(("heat-loss flames below adiabatic h", f"{below} of {int((~free).sum())} flames",
                       below == int((~free).sum())))
    failed = table.attrs.get("failed_solves", [])
    checks.append(("flames that did not converge or burn", f"{len(failed)}" + (f": {failed[0]}" if failed else ""),
                   None))
    return checks


def counterflow_checks(path: str | os.PathLike) -> Checks:
    """The monotonicity of C along the S-curve per Z node and the FPV lookup error, as the build stored them
    in ``/structured`` (a table without a structured part has neither)."""
    import h5py

    with h5py.File(path, "r") as h5:
        if "structured" not in h5:
            return [("structured (Z, Lambda) table", "none stored (several pressures, or an older file)", None)]
        group = h5["structured"]
        verdict, Z = group["C_monotone"][()], group["Z"][()]
        error = json.loads(group.attrs["lookup_error"]) if "lookup_error" in group.attrs else None
    varying = verdict >= 0
    failing = Z[verdict == 0]
    where = f"{len(failing)} of {int(varying.sum())} Z nodes where C varies"
    checks: Checks = [("C monotone along the S-curve",
                       (f"not monotone at {where}: Z = {', '.join(f'{z:.3g}' for z in failing[:8])}"
                        + (" ..." if len(failing) > 8 else "")) if len(failing)
                       else f"monotone at all {int(varying.sum())} of {int(varying.sum())} Z nodes where C varies",
                       len(failing) == 0)]
    if error is not None:
        checks += [
            ("FPV lookup error T", f"max {error['T_max_error']:.3g} K (at Z={error['T_worst_Z']:.3g}, chi_st="
             f"{error['T_worst_chi_st']:.3g} 1/s), rms {error['T_rms_error']:.3g} K", None),
            ("FPV lookup error omega_C", f"max {error['omega_C_max_error']:.3g}, rms {error['omega_C_rms_error']:.3g} "
             f"kg/m^3/s (|omega_C| up to {error['omega_C_scale']:.3g})", None),
        ]
    return checks
