"""Steady counterflow diffusion flamelets with Cantera, traced along the whole S-curve.

One S-curve is traced in three stages, each step starting from the previous solution:

1. **Stable (burning) branch, strain continuation.** From a low strain rate the inlet flows are scaled up by a
   factor ``n`` per step with the rules of Fiala & Sattelmayer (2014, doi:10.1155/2014/484372), which keep
   the previous solution a good Newton guess: grid ∝ n^-1/2, inlet mass fluxes and axial velocity ∝ n^1/2,
   radial spread rate ∝ n, radial pressure-gradient eigenvalue Λ ∝ n². A step that extinguishes the flame is
   undone and retried with the square root of the factor (the logarithmic step is halved) until the step is
   below ``extinction_tolerance``: the last burning solution is then within that relative distance of the
   turning point. Extinction is detected by temperature (T_max less than ``burning_rise`` above the hotter
   inlet), never by the solver's word, because Cantera happily converges onto the extinguished solution.
   A step the solver cannot converge is reported, undone and retried the same way.
2. **Extinguished (lower) branch**: at the last strain the flow is solved once more with every reaction rate
   multiplied by zero (frozen chemistry, pure mixing, C = 0); this anchors Λ = 0 of the structured table.
3. **Unstable (middle) branch, two-point flame control** (Nishioka, Law & Takeno 1996, Combust. Flame 104;
   Cantera's ``two_point_control_enabled``): the temperatures at two control points on either side of the
   flame are imposed and lowered step by step, the inlet velocities becoming unknowns. Past the turning
   point this walks down the middle branch as far as the solver converges: it ends after ``max_errors``
   failed solves in a row (one is enough once the strain rate is below ``unstable_end_strain`` of its
   maximum), after ``max_unstable`` flamelets, when the control temperature nears the inlets, when a
   solution has collapsed to the extinguished state (again judged by temperature), or when the thickening
   flame no longer spans both pure streams (Z within ``STREAM_REACH`` of 0 and 1) in the domain of the
   turning point, which two-point control cannot widen: such a solution is not a flamelet of the two streams.

Branches are labelled from the finished curve by :func:`label_branches`: by position along the curve, on either
side of the turning point fitted between the stored solutions (:func:`turning_point`).

Each accepted solution becomes a :class:`Flamelet`: raw profiles (grid, T, Y, velocity) plus Bilger's
mixture fraction Z, the scalar dissipation rate χ = 2 D_th |dZ/dx|² with the thermal diffusivity
D_th = λ/(ρ c_p), the progress variable C = Σ c_k Y_k and its source ω_C = Σ c_k W_k ω̇_k, and the scalars
strain rates (Cantera's maximum axial velocity gradient, and the Seshadri–Williams global strain rate the
literature quotes), χ_st (χ where Z = Z_st), T_max and the method that produced it.
Mass fractions are clipped at zero and renormalized, and Z, C are computed from those stored Y, so every
stored quantity is consistent with the others.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import numpy as np

from surrogate.chemistry import BilgerMixtureFraction, bilger_beta, bilger_coefficients
from surrogate.errors import UserError

THERMAL_DIFFUSIVITY = "thermal diffusivity D_th = lambda / (rho * cp_mass), mixture value at each grid point"
STRAIN_RATE_DEFINITION = "maximum axial velocity gradient, Cantera CounterflowDiffusionFlame.strain_rate('max')"
GLOBAL_STRAIN_RATE_DEFINITION = ("global strain rate on the oxidizer side, Seshadri & Williams (1978): "
                                 "a = 2 |u_ox| / L (1 + |u_f| sqrt(rho_f) / (|u_ox| sqrt(rho_ox)))")
STRAIN_CONTINUATION, FROZEN, TWO_POINT = "strain-continuation", "frozen-chemistry", "two-point-control"
EXTINGUISHED = "extinguished"
BRANCHES = ("stable", "unstable", EXTINGUISHED)
STREAM_REACH = 1e-3  # a flamelet reaches a pure stream where its Z comes this close to 0 or 1


@dataclass(frozen=True)
class Streams:
    """Mechanism, pressure [Pa], fuel and oxidizer (mole fractions as text, temperatures [K]) and the progress
    variable {species: c_k}: the physics every table over mixtures of two streams starts from."""

    mechanism: str
    pressure: float
    fuel: str
    fuel_temperature: float
    oxidizer: str
    oxidizer_temperature: float
    progress_variable: Mapping[str, float]


@dataclass(frozen=True)
class FlameletSetup(Streams):
    """Everything that defines one S-curve's physics: the streams (mechanism, pressure, inlets, progress
    variable) and the numerics."""

    transport: str
    refine: Mapping[str, float]
    initial_strain: float
    width: float


@dataclass(frozen=True)
class ContinuationSettings:
    """Step control of the S-curve continuation (see the module docstring)."""

    strain_factor: float
    extinction_tolerance: float
    unstable_delta_T: float
    max_unstable: int
    unstable_end_strain: float = 0.1
    burning_rise: float = 100.0
    max_errors: int = 3


def burning_temperature(setup: FlameletSetup, rise: float = ContinuationSettings.burning_rise) -> float:
    """T_max above which a flamelet counts as burning: `rise` above the hotter inlet."""
    return max(setup.fuel_temperature, setup.oxidizer_temperature) + rise


@dataclass
class ContinuationState:
    """Where a continuation stands; persisted after every flamelet so a killed build resumes exactly."""

    stage: str = "start"  # start -> stable -> frozen -> unstable -> done
    strain_factor: float = 0.0
    strain_max: float = 0.0
    control_step: float = 0.0
    T_max_last: float = 0.0
    errors: int = 0
    n_flamelets: int = 0
    n_two_point: int = 0
    n_solves: int = 0
    failures: list[str] = field(default_factory=list)
    refine_added: int = 0  # flamelets added by the adaptive refinement (cantera_tables.refine)
    refine_failed: list[list[int]] = field(default_factory=list)  # intervals it could not split
    refine_history: list[list[float]] = field(default_factory=list)  # [flamelets, largest error, T_max there]
    refine_outputs: list[str] = field(default_factory=list)  # the outputs it refines (T, Y_<species>)
    refine_stuck: bool = False  # the refinement ended with the intervals beside the worst flamelet unsplittable

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ContinuationState":
        return cls(**data)


@dataclass
class Flamelet:
    """One converged flamelet: profiles along the axis x (fuel inlet at x = 0) and its S-curve scalars."""

    method: str
    strain_rate: float
    global_strain_rate: float
    chi_st: float
    T_max: float
    grid: np.ndarray
    T: np.ndarray
    Y: np.ndarray  # (n_points, n_species of the mechanism)
    velocity: np.ndarray
    Z: np.ndarray
    chi: np.ndarray
    C: np.ndarray
    omega_C: np.ndarray

    SCALARS = ("method", "strain_rate", "global_strain_rate", "chi_st", "T_max")
    PROFILES = ("grid", "T", "Y", "velocity", "Z", "chi", "C", "omega_C")

    def to_arrays(self) -> dict[str, np.ndarray]:
        data = {name: np.asarray(getattr(self, name)) for name in self.PROFILES}
        data.update({name: np.asarray(getattr(self, name)) for name in self.SCALARS})
        return data

    @classmethod
    def from_arrays(cls, data: Mapping[str, np.ndarray]) -> "Flamelet":
        scalars = {"method": str(data["method"]), **{k: float(data[k]) for k in cls.SCALARS[1:]}}
        return cls(**scalars, **{name: np.asarray(data[name]) for name in cls.PROFILES})


def cantera_message(exc: Exception, limit: int = 200) -> str:
    """The informative part of a Cantera error on one line (its banner and 'thrown by' header dropped)."""
    lines = [line.strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line and not line.startswith("***") and " thrown by " not in line]
    return (" ".join(lines) or type(exc).__name__)[:limit]


def load_gas(mechanism: str) -> Any:
    """A Cantera Solution with transport; a missing or unparseable mechanism is a one-line UserError."""
    import cantera as ct

    if not str(mechanism).strip() or os.path.isdir(mechanism):  # Cantera would build an empty phase, or crash
        raise UserError(f"mechanism {mechanism!r}: expected a Cantera mechanism file (YAML), e.g. gri30.yaml")
    try:
        return ct.Solution(mechanism)
    except ct.CanteraError as exc:
        raise UserError(f"mechanism {mechanism!r}: cannot be loaded by Cantera ({cantera_message(exc, 160)})") from None


def parse_composition(gas: Any, text: str, what: str) -> dict[str, float]:
    """'H2:1' -> {'H2': 1.0}, checked against the mechanism's species (one-line error otherwise)."""
    composition: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition(":")
        name = name.strip()
        if name not in gas.species_names:
            raise UserError(f"{what}: unknown species {name!r}; the mechanism has {', '.join(gas.species_names)}")
        try:
            composition[name] = float(value) if sep else 1.0
        except ValueError:
            raise UserError(f"{what}: {part.strip()!r} is not species:amount") from None
        if composition[name] < 0:
            raise UserError(f"{what}: negative amount for {name}")
    if not composition or sum(composition.values()) <= 0:
        raise UserError(f"{what}: empty composition {text!r}; expected e.g. 'H2:1' or 'O2:0.21,N2:0.79'")
    return composition


class FlameletChemistry:
    """Element data of the mechanism and the two streams: Bilger's Z, Z_st and the progress variable.

    `setup` is anything with the fields of :class:`Streams` (``fuel``, ``fuel_temperature``, ``oxidizer``,
    ``oxidizer_temperature``, ``pressure``, ``progress_variable``), e.g. a :class:`FlameletSetup`.
    """

    def __init__(self, gas: Any, setup: Any):
        self.species = list(gas.species_names)
        self.composition = {
            s: {e: float(gas.n_atoms(s, e)) for e in gas.element_names if gas.n_atoms(s, e) > 0} for s in self.species
        }
        self.molecular_weights = dict(zip(self.species, map(float, gas.molecular_weights)))
        self.element_weights = dict(zip(gas.element_names, map(float, gas.atomic_weights)))
        coefficients = bilger_coefficients(self.composition, self.molecular_weights)
        self.fuel_Y = self._stream_Y(gas, setup.fuel, setup.fuel_temperature, setup.pressure, "fuel")
        self.oxidizer_Y = self._stream_Y(gas, setup.oxidizer, setup.oxidizer_temperature, setup.pressure, "oxidizer")
        self.bilger = BilgerMixtureFraction(
            coefficients=coefficients,
            beta_fuel=bilger_beta(self.fuel_Y, coefficients),
            beta_oxidizer=bilger_beta(self.oxidizer_Y, coefficients),
        )
        self.Z_st = self.bilger.Z_st
        unknown = [s for s in setup.progress_variable if s not in self.species]
        if unknown:
            raise UserError(
                f"progress_variable: unknown species {unknown[0]!r}; the mechanism has {', '.join(self.species)}"
            )
        self.pv_weights = np.array([setup.progress_variable.get(s, 0.0) for s in self.species])
        self._W = np.array([self.molecular_weights[s] for s in self.species])

    def progress_source(self, net_production_rates: np.ndarray) -> np.ndarray:
        """omega_C = sum_k c_k W_k omega_k [kg/m^3/s] from molar net production rates omega_k [kmol/m^3/s]."""
        return (np.asarray(net_production_rates) * self._W) @ self.pv_weights

    @staticmethod
    def _stream_Y(gas: Any, text: str, T: float, P: float, what: str) -> dict[str, float]:
        gas.TPX = T, P, parse_composition(gas, text, what)
        return dict(zip(gas.species_names, map(float, gas.Y)))

    def mixture_fraction(self, Y: np.ndarray) -> np.ndarray:
        return self.bilger(Y, self.species)


def _first_crossing(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """x where y first crosses `level` (linear interpolation); y must cross it somewhere."""
    above = y >= level
    idx = np.flatnonzero(above[:-1] != above[1:])
    if idx.size == 0:
        return float("nan")
    i = idx[0]
    t = (level - y[i]) / (y[i + 1] - y[i])
    return float(x[i] + t * (x[i + 1] - x[i]))


def global_strain_rate(flame: Any) -> float:
    """The Seshadri–Williams global strain rate of a counterflow flame (:data:`GLOBAL_STRAIN_RATE_DEFINITION`),
    the one the literature quotes for extinction; fuel inlet at x = 0, oxidizer at x = L."""
    u_fuel, u_ox = abs(float(flame.velocity[0])), abs(float(flame.velocity[-1]))
    rho_fuel, rho_ox = float(flame.density[0]), float(flame.density[-1])
    width = float(flame.grid[-1] - flame.grid[0])
    return 2.0 * u_ox / width * (1.0 + u_fuel * math.sqrt(rho_fuel) / (u_ox * math.sqrt(rho_ox)))


def _clipped_Y(flame: Any) -> np.ndarray:
    """(n_points, n_species) mass fractions of the flame's solution, clipped at 0 and renormalized."""
    Y = np.clip(np.asarray(flame.Y).T, 0.0, None)
    return Y / Y.sum(axis=1, keepdims=True)


def reaches_streams(Z: np.ndarray) -> bool:
    """Whether a flamelet's mixture fraction spans both pure streams, 0 and 1, to within :data:`STREAM_REACH`."""
    return bool(Z.min() <= STREAM_REACH and Z.max() >= 1.0 - STREAM_REACH)


def flamelet_from_flame(flame: Any, chemistry: FlameletChemistry, method: str) -> Flamelet:
    """Profiles and scalars of the flame's current solution (Y clipped at 0 and renormalized)."""
    states = flame.to_array()
    Y = _clipped_Y(flame)
    grid = np.asarray(flame.grid, dtype=float)
    Z = chemistry.mixture_fraction(Y)
    D_th = np.asarray(states.thermal_conductivity) / (np.asarray(states.density) * np.asarray(states.cp_mass))
    chi = 2.0 * D_th * np.gradient(Z, grid) ** 2
    omega_C = chemistry.progress_source(states.net_production_rates)
    T = np.asarray(flame.T, dtype=float)
    x_st = _first_crossing(grid, Z, chemistry.Z_st)
    return Flamelet(
        method=method,
        strain_rate=float(flame.strain_rate("max")),
        global_strain_rate=global_strain_rate(flame),
        chi_st=float(np.interp(x_st, grid, chi)),
        T_max=float(T.max()),
        grid=grid,
        T=T,
        Y=Y,
        velocity=np.asarray(flame.velocity, dtype=float),
        Z=Z,
        chi=chi,
        C=Y @ chemistry.pv_weights,
        omega_C=omega_C,
    )


def make_flame(setup: FlameletSetup, gas: Any | None = None, strain_rate: float | None = None) -> Any:
    """A CounterflowDiffusionFlame with the setup's streams at a nominal strain rate (default: the initial one).

    The nominal (global) strain rate of Seshadri & Williams, a = 4 u_ox / L for momentum-balanced jets
    (rho_f u_f² = rho_ox u_ox²), fixes the inlet velocities; the domain width follows L ∝ a^-1/2 from
    ``setup.width`` at ``setup.initial_strain``, as in the strain continuation.
    """
    import cantera as ct

    gas = gas if gas is not None else load_gas(setup.mechanism)
    a = setup.initial_strain if strain_rate is None else strain_rate
    width = setup.width * math.sqrt(setup.initial_strain / a)
    flame = ct.CounterflowDiffusionFlame(gas, width=width)
    flame.transport_model = setup.transport
    flame.P = setup.pressure
    flame.fuel_inlet.X = parse_composition(gas, setup.fuel, "fuel")
    flame.fuel_inlet.T = setup.fuel_temperature
    flame.oxidizer_inlet.X = parse_composition(gas, setup.oxidizer, "oxidizer")
    flame.oxidizer_inlet.T = setup.oxidizer_temperature
    rho_fuel = _density(gas, setup.fuel_temperature, setup.pressure, flame.fuel_inlet.X)
    rho_ox = _density(gas, setup.oxidizer_temperature, setup.pressure, flame.oxidizer_inlet.X)
    u_ox = a * width / 4.0
    u_fuel = u_ox * math.sqrt(rho_ox / rho_fuel)
    flame.fuel_inlet.mdot = rho_fuel * u_fuel
    flame.oxidizer_inlet.mdot = rho_ox * u_ox
    flame.set_refine_criteria(**setup.refine)
    flame.max_time_step_count = 100
    return flame


def _density(gas: Any, T: float, P: float, X: np.ndarray) -> float:
    gas.TPX = T, P, X
    return float(gas.density)


def scale_strain(flame: Any, factor: float) -> None:
    """Scale the current solution to a strain rate `factor` times higher (Fiala & Sattelmayer 2014 rules)."""
    flame.flame.grid = flame.grid * factor ** -0.5
    flame.fuel_inlet.mdot *= factor ** 0.5
    flame.oxidizer_inlet.mdot *= factor ** 0.5
    flame.flame.set_values("velocity", flame.flame.values("velocity") * factor ** 0.5)
    flame.flame.set_values("spreadRate", flame.flame.values("spreadRate") * factor)
    flame.flame.set_values("Lambda", flame.flame.values("Lambda") * factor ** 2)


def _snapshot(flame: Any) -> tuple[Any, float, float]:
    """The solution and inlet mass fluxes (``to_array`` does not carry the latter)."""
    return flame.to_array(), flame.fuel_inlet.mdot, flame.oxidizer_inlet.mdot


def _restore(flame: Any, snapshot: tuple[Any, float, float]) -> None:
    states, mdot_fuel, mdot_ox = snapshot
    flame.from_array(states)
    flame.fuel_inlet.mdot = mdot_fuel
    flame.oxidizer_inlet.mdot = mdot_ox


class SCurveTracer:
    """Traces one S-curve; :meth:`steps` yields each accepted flamelet with the flame at the point to resume from.

    At every yield ``self.state`` and the flame's solution together define the continuation, so a caller that
    saves both (see :mod:`cantera_tables.workdir`) can rebuild a tracer later and carry on. The live flame also
    holds solver state that Cantera's save does not (the Newton Jacobian): to continue bitwise alike whether or
    not a build was interrupted, the caller continues every step from the saved flame (one step per tracer).
    """

    def __init__(self, setup: FlameletSetup, settings: ContinuationSettings, flame: Any,
                 state: ContinuationState | None = None):
        self.setup = setup
        self.settings = settings
        self.flame = flame
        self.chemistry = FlameletChemistry(flame.gas, setup)
        self.state = state if state is not None else ContinuationState()
        self.T_burning = burning_temperature(setup, settings.burning_rise)

    def _solve(self, **kwargs: Any) -> None:
        self.state.n_solves += 1
        self.flame.solve(loglevel=0, **kwargs)

    def _fail(self, what: str, exc: Exception) -> None:
        self.state.failures.append(f"{what}: {cantera_message(exc)}")

    def _accept(self, method: str) -> Flamelet:
        """The current solution as a flamelet; updates the counters and running maxima."""
        flamelet = flamelet_from_flame(self.flame, self.chemistry, method)
        self.state.n_flamelets += 1
        if method != FROZEN:
            self.state.T_max_last = flamelet.T_max
            self.state.strain_max = max(self.state.strain_max, flamelet.strain_rate)
        return flamelet

    def steps(self) -> Iterator[Flamelet]:
        import cantera as ct

        if self.state.stage == "start":
            try:
                self._solve(auto=True)
            except ct.CanteraError as exc:
                self._fail(f"initial solve at strain {self.setup.initial_strain:g} 1/s", exc)
                self.state.stage = "done"
                return
            if max(self.flame.T) < self.T_burning:
                self.state.failures.append(
                    f"initial solve at strain {self.setup.initial_strain:g} 1/s did not ignite "
                    f"(T_max {max(self.flame.T):.0f} K); lower initial_strain"
                )
                self.state.stage = "done"
                return
            self.state.stage = "stable"
            self.state.strain_factor = self.settings.strain_factor
            yield self._accept(STRAIN_CONTINUATION)
        if self.state.stage == "stable":
            yield from self._stable_branch(ct.CanteraError)
        if self.state.stage == "frozen":
            yield from self._frozen_mixing(ct.CanteraError)
        if self.state.stage == "unstable":
            yield from self._unstable_branch(ct.CanteraError)

    def _stable_branch(self, solver_error: type) -> Iterator[Flamelet]:
        state = self.state
        stop_log_step = math.log1p(self.settings.extinction_tolerance)
        while math.log(state.strain_factor) >= stop_log_step:
            snapshot = _snapshot(self.flame)
            scale_strain(self.flame, state.strain_factor)
            try:
                self._solve()
                burning = max(self.flame.T) >= self.T_burning
            except solver_error as exc:
                self._fail(f"stable branch, strain factor {state.strain_factor:.4g}", exc)
                burning = False
            if burning:
                yield self._accept(STRAIN_CONTINUATION)
            else:  # extinguished (by temperature) or not converged: back to the last burning flame, smaller step
                _restore(self.flame, snapshot)
                state.strain_factor = math.sqrt(state.strain_factor)
        state.stage = "frozen"

    def _frozen_mixing(self, solver_error: type) -> Iterator[Flamelet]:
        """The extinguished (lower) branch at the extinction strain: the same flow with all rates set to zero."""
        state = self.state
        snapshot = _snapshot(self.flame)
        gas = self.flame.gas
        gas.set_multiplier(0.0)
        try:
            self._solve()
            frozen = self._accept(FROZEN)
        except solver_error as exc:
            self._fail("frozen-chemistry (extinguished) solution", exc)
            frozen = None
        finally:
            gas.set_multiplier(1.0)
            _restore(self.flame, snapshot)
        state.stage = "unstable"
        state.control_step = self.settings.unstable_delta_T
        if frozen is not None:
            yield frozen

    def _unstable_branch(self, solver_error: type) -> Iterator[Flamelet]:
        state, flame, settings = self.state, self.flame, self.settings
        flame.two_point_control_enabled = True
        flame.flame.set_bounds(spread_rate=(-1e-5, 1e20))  # no solutions with inlet flow reversed
        T_inlet_min = min(self.setup.fuel_temperature, self.setup.oxidizer_temperature)
        while state.n_two_point < settings.max_unstable and state.errors < settings.max_errors:
            T = np.asarray(flame.T)
            # near the turning point keep the control points low on the flanks, further down move them
            # up towards the peak, which lets the solver reach low T_max (as in Cantera's sample)
            strain = flame.strain_rate("max")
            spacing = 0.6 if strain > 0.98 * state.strain_max else 0.95
            control_T = T.min() + spacing * (T.max() - T.min()) - state.control_step
            if control_T < T_inlet_min + settings.burning_rise:
                break
            snapshot = _snapshot(flame)
            flame.set_left_control_point(control_T + state.control_step)
            flame.set_right_control_point(control_T + state.control_step)
            flame.left_control_point_temperature = control_T
            flame.right_control_point_temperature = control_T
            try:
                self._solve()
            except solver_error as exc:
                self._fail(f"two-point control, control temperature {control_T:.0f} K", exc)
                _restore(flame, snapshot)
                if strain < settings.unstable_end_strain * state.strain_max:
                    break  # far enough down the middle branch
                state.errors += 1
                state.control_step *= 0.7
                continue
            if max(flame.T) < self.T_burning:  # collapsed onto the extinguished branch: the middle branch ends
                _restore(flame, snapshot)
                break
            Z = self.chemistry.mixture_fraction(_clipped_Y(flame))
            if not reaches_streams(Z):  # thickened beyond the turning point's domain: not a flamelet of the streams
                state.failures.append(f"unstable branch ended at T_max {max(flame.T):.0f} K: the flamelet no longer "
                                      f"reaches both pure streams in the turning point's domain (Z {Z.min():.3g} to "
                                      f"{Z.max():.3g})")
                _restore(flame, snapshot)
                break
            dT = abs(max(flame.T) - state.T_max_last)
            if dT < 0.8 * settings.unstable_delta_T:
                state.control_step = min(state.control_step * 1.25, 5 * settings.unstable_delta_T)
            elif dT > settings.unstable_delta_T:
                state.control_step *= 0.9 * settings.unstable_delta_T / dT
            state.errors = 0
            state.n_two_point += 1
            yield self._accept(TWO_POINT)
        state.stage = "done"


@dataclass(frozen=True)
class TurningPoint:
    """The extinction turning point of one S-curve: χ_st [1/s], T_max [K] and both strain rates [1/s] there."""

    chi_st: float
    T_max: float
    strain_rate: float
    global_strain_rate: float


def turning_point(chi_st: np.ndarray, T_max: np.ndarray, strain_rate: np.ndarray,
                  global_strain_rate: np.ndarray) -> TurningPoint:
    """The turning point of an S-curve given by its burning flamelets' scalars (any order).

    T_max falls monotonically along the curve (down the stable branch as χ_st rises, on down the middle branch
    as χ_st falls again), so it parametrizes the curve, and χ_st(T_max) has its maximum at the turning point.
    Near a fold that maximum is quadratic, χ_st ≈ χ_ext − k (T_max − T_ext)², so the parabola through the
    stored flamelet of largest χ_st and its two neighbours in T_max gives the turning point between stored
    solutions; the strain rates there come from the parabolas through the same three flamelets. Where the
    largest χ_st is an end of the curve (no middle branch was traced), that flamelet is the turning point.
    """
    order = np.argsort(-np.asarray(T_max, dtype=float), kind="stable")
    columns = [np.asarray(c, dtype=float)[order] for c in (chi_st, T_max, strain_rate, global_strain_rate)]
    chi, T = columns[0], columns[1]
    k = int(np.argmax(chi))
    if k == 0 or k == len(chi) - 1:
        return TurningPoint(*(float(c[k]) for c in columns))
    x = T[k - 1:k + 2] - T[k]  # centred on the largest χ_st: a well-conditioned fit
    a, b, _ = np.polyfit(x, chi[k - 1:k + 2], 2)
    x_turn = float(np.clip(-b / (2.0 * a), x[2], x[0])) if a < 0 else 0.0

    def at_turn(values: np.ndarray) -> float:
        return float(np.polyval(np.polyfit(x, values[k - 1:k + 2], 2), x_turn))

    return TurningPoint(at_turn(chi), float(T[k] + x_turn), at_turn(columns[2]), at_turn(columns[3]))


def curve_turning_point(flamelets: list[Flamelet]) -> TurningPoint | None:
    """:func:`turning_point` of one curve's burning flamelets (None when none burns)."""
    burning = [f for f in flamelets if f.method != FROZEN]
    if not burning:
        return None
    return turning_point(*(np.array([getattr(f, name) for f in burning])
                           for name in ("chi_st", "T_max", "strain_rate", "global_strain_rate")))


def label_branches(flamelets: list[Flamelet]) -> list[str]:
    """S-curve branch of each flamelet of one curve, from its position on the curve, not from how it was solved.

    Burning flamelets at least as hot as the turning point (:func:`curve_turning_point`) lie on the ``stable``
    (upper) branch, cooler ones on the ``unstable`` (middle) branch; frozen-chemistry ones are ``extinguished``.
    Two-point control walks through the turning point, so its first solutions may still be stable, and the
    stored flamelet of largest χ_st is unstable when it lies past the fitted turning point.
    """
    turn = curve_turning_point(flamelets)
    return [EXTINGUISHED if f.method == FROZEN else ("stable" if f.T_max >= turn.T_max else "unstable")
            for f in flamelets]


def solve_from_scratch(setup: FlameletSetup, strain_rate: float, gas: Any | None = None) -> tuple[bool, float]:
    """The naive baseline: a fresh flame at `strain_rate` solved from Cantera's initial guess.

    Returns (burning, T_max); a solver failure counts as not burning.
    """
    import cantera as ct

    flame = make_flame(setup, gas, strain_rate)
    try:
        flame.solve(loglevel=0, auto=True)
    except ct.CanteraError:
        return False, float("nan")
    T_max = float(max(flame.T))
    return T_max >= burning_temperature(setup), T_max


def s_curve_order(flamelets: list[Flamelet]) -> list[int]:
    """Indices of one curve's flamelets along the S-curve: the burning ones from hot to cold (the stable branch from
    low to high χ_st, on through the turning point down the unstable branch; T_max orders them even where χ_st
    differs by less than the solutions' noise), then the extinguished flamelet(s)."""
    burning = sorted((k for k, f in enumerate(flamelets) if f.method != FROZEN), key=lambda k: -flamelets[k].T_max)
    return [*burning, *(k for k, f in enumerate(flamelets) if f.method == FROZEN)]
