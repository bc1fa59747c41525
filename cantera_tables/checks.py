"""The physics checks ``surrogate table check`` adds for each Cantera table kind, each ``(what, figure, passed)``
(passed None: a figure to read, without a bound). They recompute from the stored solutions what the physics
demands, with Cantera where a property is needed:

- equilibrium: every row's enthalpy is that of its unburnt mixture (HP equilibrium conserves it);
- ignition: every reactor keeps its enthalpy (adiabatic, constant p) and ends at its HP equilibrium
  temperature; the ignition delay falls as T0 rises (no NTC region in CH4 or H2 chemistry); an adaptive table
  meets its tolerance, recomputed from the stored delays;
- premixed-fgm: C rises through every stored flame (else C is no coordinate), the free flames' burnt gas has
  the unburnt enthalpy (to a fraction of the heat release: at the inlet of a 1-D free flame species diffuse
  and heat conducts upstream, so x = 0 is not quite the unburnt state), the heat-loss flames lie below it;
- counterflow-flamelet: the branch labels and the extinction follow the S-curve, C falls along the S-curve at
  every Z node, the FPV lookup error is within a bound, and an adaptive table meets its tolerance, all
  recomputed from the stored flamelets;
- presumed-pdf: the zero-variance rows are the laminar source table, and a few means equal an independent
  quadrature of the β-PDF over the source.
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np

from surrogate.table import Table

from . import ignition_refine, structured
from .flamelet import Flamelet, curve_turning_point, label_branches, load_gas, s_curve_order
from .refine import ESTIMATE_NODES, largest_error, leave_one_out
from .stored_flamelets import read_curve

Checks = list[tuple[str, str, "bool | None"]]
ENTHALPY_TOLERANCE = 10.0  # J/kg (about 0.01 K of sensible heat): largest enthalpy error that passes
MONOTONE_TOLERANCE = 1e-9  # relative to the flame's C range: a smaller dip of C counts as round-off
MAX_LOOKUP_T_ERROR = 10.0  # K: default bound on the FPV lookup's T error against the stored flamelets
PDF_T_TOLERANCE = 1e-6  # K: presumed-PDF means against the laminar source and an independent quadrature
PDF_Y_TOLERANCE = 1e-9  # the same for the mass fractions
QUADRATURE_NODES = 6  # presumed-PDF nodes checked by quadrature
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
    """Enthalpy drift along every raw reactor trajectory, the end temperature against T_eq, the ignition
    delay against T0, and for an adaptive build the leave-one-out error of ln τ_ign along each (φ, p) line
    (:mod:`cantera_tables.ignition_refine`) against its tolerance."""
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
    ignited = np.isfinite(delays["tau_ign"])  # a reactor that did not ignite has no delay to compare
    falling = sum(bool(np.all(np.diff(delays["tau_ign"][at][np.argsort(delays["T0"][at])]) < 0))
                  for at in ((delays["p"] == p) & (delays["phi"] == phi) & ignited for p, phi in lines))
    checks: Checks = [
        ("reactor enthalpy conserved", f"largest |h - h(t=0)| {drift:.3g} J/kg (bound {ENTHALPY_TOLERANCE:g})",
         drift <= ENTHALPY_TOLERANCE),
        ("ignited reactors reach T_eq", f"largest T_eq - T_end {short:.3g} K (bound end_delta_T={end_delta_T:g})",
         short <= end_delta_T),
        ("tau_ign falls as T0 rises", f"on {falling} of {len(lines)} (phi, p) lines (an NTC fuel may not)", None),
    ]
    refinement = table.attrs.get("refinement")
    if refinement:
        tolerance = float(refinement["tolerance"])
        reached, at = ignition_refine.largest_error(delays["T0"], delays["phi"], delays["p"], delays["tau_ign"])
        where = (f" at T0={delays['T0'][at]:.6g} K, phi={delays['phi'][at]:g}, p={delays['p'][at]:g} Pa"
                 if at is not None else "")
        checks.append(("adaptive tolerance", f"largest leave-one-out error of ln tau_ign in 1000/T0 "
                       f"{'none' if reached is None else f'{reached:.3g}'}{where}, {len(delays['T0'])} reactors on "
                       f"{len(lines)} (phi, p) lines (bound: the build's tolerance {tolerance:g})",
                       reached is not None and reached <= tolerance))
    return checks


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


def counterflow_checks(path: str | os.PathLike, max_T_error: float = MAX_LOOKUP_T_ERROR) -> Checks:
    """Recomputed from the stored flamelets of a single-pressure table: the branch labels and the turning point
    from the S-curve, C monotone along the S-curve at every Z node of ``/structured`` (to
    :data:`structured.MONOTONE_TOLERANCE` of the C range), and the FPV lookup error of ``/structured`` at the
    flamelets' scattered rows against `max_T_error` [K]; for an adaptive build (any number of pressures) the
    leave-one-out error along each S-curve against its tolerance."""
    import h5py

    table = Table(path)
    refinement = table.attrs.get("refinement")
    checks = _refinement_checks(path, refinement, float(table.attrs["Z_st"])) if refinement else []
    with h5py.File(path, "r") as h5:
        if "structured" not in h5:
            return [*checks, ("structured (Z, Lambda) table", "none stored (several pressures, or an older file)",
                              None)]
        grid = read_structured(h5["structured"])
        stored_branches = [str(g.attrs["branch"]) for _, g in sorted(h5["flamelets"].items())]
    flamelets, species = read_curve(path)
    checks.insert(0, _branch_check(flamelets, stored_branches, float(table.attrs["extinction_chi_st"])))
    verdict, worst = structured.progress_monotonicity(flamelets, s_curve_order(flamelets), grid["Z"])
    failing, varying = grid["Z"][verdict == 0], int(np.sum(verdict >= 0))
    bound = f"bound: a rise of {structured.MONOTONE_TOLERANCE:g} of the C range"
    checks.append(("C monotone along the S-curve",
                   (f"C rises at {len(failing)} of {varying} Z nodes where C varies, by up to {worst:.3g} of its range "
                    f"({bound}): Z = {', '.join(f'{z:.3g}' for z in failing[:8])}" + (" ..." if len(failing) > 8 else ""))
                   if len(failing) else f"at all {varying} Z nodes where C varies (largest rise {worst:.2g} of the C "
                   f"range; {bound})", len(failing) == 0))
    options = table.attrs["build_options"]
    samples = structured.z_nodes(int(options["points_per_flamelet"]), float(table.attrs["Z_st"]))
    error = structured.lookup_error(grid, flamelets, samples, range(len(species)), species)
    checks += [
        ("FPV lookup error T", f"max {error['T_max_error']:.3g} K (at Z={error['T_worst_Z']:.3g}, chi_st="
         f"{error['T_worst_chi_st']:.3g} 1/s), rms {error['T_rms_error']:.3g} K, recomputed at the stored flamelets' "
         f"rows (bound --max-T-error {max_T_error:g} K)", error["T_max_error"] <= max_T_error),
        ("FPV lookup error omega_C", f"max {error['omega_C_max_error']:.3g}, rms {error['omega_C_rms_error']:.3g} "
         f"kg/m^3/s (|omega_C| up to {error['omega_C_scale']:.3g})", None),
        ("FPV lookup error Y", f"largest {error['Y_max_relative_error']:.3g} of the peak of "
         f"{error['Y_worst_species']}", None),
    ]
    return checks


def _refinement_checks(path: str | os.PathLike, refinement: dict[str, Any], Z_st: float) -> Checks:
    """Per S-curve of an adaptive build: the largest leave-one-out error along the curve
    (:mod:`cantera_tables.refine`), recomputed from the stored flamelets, against the build's tolerance."""
    checks = []
    tolerance = float(refinement["tolerance"])
    Z = structured.z_nodes(ESTIMATE_NODES, Z_st)
    for curve, record in enumerate(refinement["curves"]):
        flamelets, species = read_curve(path, curve)
        reached, worst = largest_error(*leave_one_out(flamelets, record["outputs"], species, Z))
        where = f" (at T_max {flamelets[worst].T_max:.0f} K)" if worst is not None else ""
        checks.append((f"adaptive tolerance at p={record['pressure']:g} Pa",
                       f"largest leave-one-out error along the S-curve {reached:.3g}{where}, {len(flamelets)} "
                       f"flamelets (bound: the build's tolerance {tolerance:g} of each range of "
                       f"{', '.join(record['outputs'])})", reached <= tolerance))
    return checks


def _branch_check(flamelets: list[Flamelet], stored: list[str], extinction_chi_st: float) -> tuple[str, str, bool]:
    """The stored branch labels and extinction χ_st against those the S-curve gives (:func:`label_branches`)."""
    expected = label_branches(flamelets)
    turn = curve_turning_point(flamelets)
    wrong = [k for k, (a, b) in enumerate(zip(stored, expected)) if a != b]
    chi_ext = turn.chi_st if turn is not None else float("nan")
    same_extinction = bool(np.isclose(extinction_chi_st, chi_ext, rtol=1e-9))
    figure = (f"{len(wrong)} of {len(stored)} flamelets labelled off their S-curve position"
              + (f" (flamelets {wrong[:6]})" if wrong else "")
              + f"; extinction at the turning point chi_st={chi_ext:.4g} 1/s, T_max={turn.T_max if turn else 0:.0f} K"
              + ("" if same_extinction else f" (the table says chi_st={extinction_chi_st:.4g})"))
    return "branch labels from the S-curve", figure, not wrong and same_extinction


def read_structured(group: Any) -> dict[str, np.ndarray]:
    """A ``/structured`` group as the grid dict of :mod:`cantera_tables.structured` (outputs in stored order)."""
    order = json.loads(group["outputs"].attrs["order"])
    grid = {name: group[name][()] for name in ("Z", "Lambda", "C_min", "C_max")}
    grid["outputs"] = np.stack([group["outputs"][name][()] for name in order], axis=-1)
    return grid


def presumed_pdf_checks(path: str | os.PathLike, nodes: int = QUADRATURE_NODES) -> Checks:
    """The stored means against their source flamelet table: the zero-variance (δ-PDF) rows equal the source
    interpolated at Z̃, and at `nodes` random interior (Z̃, S) nodes the Favre mean T and Y_k equal an
    independent adaptive quadrature of the β-PDF (QUADPACK's algebraic-weight rule, which integrates the
    endpoint singularities of β exactly) over the source's piecewise-linear profile. With a β-PDF in Λ only the
    Λ-variance-zero slice is compared (δ in Λ). The source must be where the table says it was built from."""
    from .presumed_pdf_table import read_source

    table = Table(path)
    source_path = str(table.attrs["source_table"])
    if not os.path.isfile(source_path) or Table(source_path).sha256() != table.attrs["source_sha256"]:
        return [("integration against the source", f"source {source_path} missing or changed since the build; "
                 "nothing to compare with", None)]
    import h5py

    source = read_source(source_path)
    with h5py.File(path, "r") as h5:
        group = h5["structured"]
        axes = json.loads(group.attrs["axes"])
        Z_mean, S = group["Z_mean"][()], group["Z_var_norm"][()]
        names = [f"Y_{s}" for s in source.species] + ["T"]
        stored = np.stack([group["outputs"][n][()] for n in names], axis=-1)
    if len(axes) == 4:
        stored = stored[..., 0, :]  # Λ variance 0: δ in Λ
    profiles = source.values[..., [source.names.index(n) for n in names]]  # (nZ, nΛ, nq)
    laminar = np.stack([np.stack([np.interp(Z_mean, source.Z, profiles[:, j, q]) for q in range(len(names))], -1)
                        for j in range(len(source.Lambda))], axis=1)  # (nZ̃, nΛ, nq)
    delta_T = float(np.abs(stored[:, 0, :, -1] - laminar[..., -1]).max())
    delta_Y = float(np.abs(stored[:, 0, :, :-1] - laminar[..., :-1]).max())
    rng = np.random.default_rng(0)
    inner_Z, inner_S = np.flatnonzero((Z_mean > 0) & (Z_mean < 1)), np.flatnonzero((S > 0) & (S < 1))
    quad_T, quad_Y = 0.0, 0.0
    for _ in range(nodes):
        i, k, j = int(rng.choice(inner_Z)), int(rng.choice(inner_S)), int(rng.integers(len(source.Lambda)))
        reference = beta_quadrature(source.Z, profiles[:, j, :], float(Z_mean[i]), float(S[k]))
        quad_T = max(quad_T, abs(float(stored[i, k, j, -1] - reference[-1])))
        quad_Y = max(quad_Y, float(np.abs(stored[i, k, j, :-1] - reference[:-1]).max()))
    return [
        ("zero variance: the laminar table", f"largest |T - T_source(Z_mean)| {delta_T:.2g} K, |Y - Y_source| "
         f"{delta_Y:.2g} (bounds {PDF_T_TOLERANCE:g} K, {PDF_Y_TOLERANCE:g})",
         delta_T <= PDF_T_TOLERANCE and delta_Y <= PDF_Y_TOLERANCE),
        ("beta-PDF means vs quadrature", f"{nodes} random (Z_mean, S, Lambda) nodes: largest |T - T_quad| "
         f"{quad_T:.2g} K, |Y - Y_quad| {quad_Y:.2g} (bounds {PDF_T_TOLERANCE:g} K, {PDF_Y_TOLERANCE:g})",
         quad_T <= PDF_T_TOLERANCE and quad_Y <= PDF_Y_TOLERANCE),
    ]


def beta_quadrature(Z: np.ndarray, profile: np.ndarray, mean: float, S: float) -> np.ndarray:
    """∫ φ(Z) β(Z; mean, S) dZ for each column of the piecewise-linear `profile` (len(Z), n) by adaptive
    quadrature, independent of the closed form of :mod:`cantera_tables.presumed_pdf`: Gauss–Kronrod between the
    second and the last but one node (φ's kinks as break points), QUADPACK's algebraic-weight rule (QAWS) on the
    two end segments, where the weight Z^(a−1) (1 − Z)^(b−1) may be singular."""
    from scipy.integrate import quad, quad_vec
    from scipy.special import betaln

    from .presumed_pdf import beta_parameters

    a, b = beta_parameters(mean, S)
    log_norm = float(betaln(a, b))

    def phi(z: float) -> np.ndarray:
        return np.array([np.interp(z, Z, column) for column in profile.T])

    def inner(z: float) -> np.ndarray:
        return phi(z) * np.exp((a - 1.0) * np.log(z) + (b - 1.0) * np.log1p(-z) - log_norm)

    def left(z: float, q: int) -> float:  # times Z^(a-1) by QAWS
        return float(np.interp(z, Z, profile[:, q])) * np.exp((b - 1.0) * np.log1p(-z) - log_norm)

    def right(z: float, q: int) -> float:  # times (1 - Z)^(b-1) by QAWS
        return float(np.interp(z, Z, profile[:, q])) * np.exp((a - 1.0) * np.log(z) - log_norm)

    total = quad_vec(inner, Z[1], Z[-2], points=Z[2:-2], epsabs=0.0, epsrel=1e-12, limit=10000)[0]
    ends = (((0.0, Z[1]), (a - 1.0, 0.0), left), ((Z[-2], 1.0), (0.0, b - 1.0), right))
    for (lo, hi), wvar, f in ends:
        total += np.array([quad(f, lo, hi, args=(q,), weight="alg", wvar=wvar, epsabs=0.0, epsrel=1e-12)[0]
                           for q in range(profile.shape[1])])
    return total
