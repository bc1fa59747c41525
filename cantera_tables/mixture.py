"""What every Cantera table shares: the two inlet streams, their options, mixing in Bilger's mixture fraction,
the species worth storing and the provenance root attributes.

A table over mixture states (equilibrium, ignition, premixed flames) is defined by a mechanism, a pressure and
a fuel and an oxidizer stream, exactly like a flamelet S-curve; :class:`Streams` (defined with
:class:`~cantera_tables.flamelet.FlameletSetup`, which extends it) carries them so
:class:`~cantera_tables.flamelet.FlameletChemistry` (Bilger's Z, Z_st, the progress variable) serves every
generator.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from surrogate.errors import UserError
from surrogate.options import Option, parse_floats, parse_mapping, resolve_options
from surrogate.ranges import ANY, NON_NEGATIVE, POSITIVE, UNIT, Range
from surrogate.table import Column, DatasetDefaults

from .flamelet import FlameletChemistry, Streams, parse_composition

# Cantera's grid refinement criteria and the range of each (Refiner::setCriteria; also prune <= slope, curve)
REFINE_RANGES = {"ratio": Range(2), "slope": UNIT, "curve": UNIT, "prune": NON_NEGATIVE}
TRANSPORT_MODELS = ("mixture-averaged", "unity-Lewis-number", "multicomponent")
STREAM_T = 300.0  # K, stream temperature of generators without that option (mass fractions do not depend on it)
PRESENT_Y = 1e-10  # a species whose mass fraction never exceeds this anywhere is absent (e.g. AR in H2/air)
CH4_PROGRESS_VARIABLE = {"CO2": 1.0, "CO": 1.0, "H2O": 1.0, "H2": 1.0}


def stream_options(mechanism: str, fuel: str, progress_variable: Mapping[str, float],
                   temperatures: bool = True) -> tuple[Option, ...]:
    """The options naming the mechanism, the two streams and the progress variable, with a generator's defaults
    (an empty default is filled from a preset); without `temperatures` for generators that set the unburnt
    temperature themselves (ignition, premixed)."""
    stream_T = (Option("fuel_temperature", STREAM_T, "fuel stream temperature [K]", bounds=POSITIVE),
                Option("oxidizer_temperature", STREAM_T, "oxidizer stream temperature [K]", bounds=POSITIVE)
                ) if temperatures else ()

    def preset(default: Any) -> str:
        return "" if default else "; empty: the preset's"

    return (
        Option("mechanism", mechanism, "Cantera mechanism file (YAML)" + preset(mechanism), input_file=True),
        Option("fuel", fuel, "fuel stream mole fractions, species:amount,..." + preset(fuel)),
        Option("oxidizer", "O2:0.21,N2:0.79", "oxidizer stream mole fractions, species:amount,..."),
        *stream_T,
        Option("progress_variable", dict(progress_variable), "progress variable C = sum c_k Y_k as species:c_k,..."
               + preset(progress_variable), type=parse_mapping, bounds=ANY),
    )


def complete_refine(given: Mapping[str, float], defaults: Mapping[str, float], kind: str) -> dict[str, float]:
    """Cantera grid refinement criteria: the given ones over a generator's `defaults`; an unknown criterion, one
    outside its range or a prune above slope or curve is a one-line error (Cantera would refuse it only
    when the first flame is set up); `kind` names the generator in it."""
    owner = f"table kind {kind!r}: option refine"
    unknown = sorted(set(given) - set(REFINE_RANGES))
    if unknown:
        raise UserError(f"{owner}: unknown criterion {unknown[0]!r}; valid: {', '.join(REFINE_RANGES)}")
    refine = {**defaults, **given}
    for name, value in refine.items():
        if not REFINE_RANGES[name].contains(value):
            raise UserError(f"{owner}: {name}={value!r}: expected a number {REFINE_RANGES[name].describe()}")
    if not refine["prune"] <= min(refine["slope"], refine["curve"]):
        raise UserError(f"{owner}: prune={refine['prune']!r}: expected at most slope={refine['slope']!r} and "
                        f"curve={refine['curve']!r}")
    return refine


def check_streams(opts: Mapping[str, Any], pressures: Sequence[float]) -> None:
    """One-line errors for an empty list of pressures or an empty progress variable (the ranges of their values
    are declared with the options and checked when they are resolved)."""
    if not pressures:
        raise UserError("option pressure: give at least one pressure [Pa]")
    if not opts["progress_variable"]:
        raise UserError("option progress_variable: give at least one species:coefficient")


def resolve_stream_options(options: Iterable[Option], given: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """A generator's options with defaults filled in, converted and range-checked, then the checks of
    :func:`check_streams` (one-line errors)."""
    opts = resolve_options(options, given, f"table kind {kind!r}")
    check_streams(opts, opts["pressure"])
    return opts


def streams_of(opts: Mapping[str, Any], pressure: float) -> Streams:
    return Streams(
        mechanism=opts["mechanism"], pressure=float(pressure), fuel=opts["fuel"],
        fuel_temperature=float(opts.get("fuel_temperature", STREAM_T)), oxidizer=opts["oxidizer"],
        oxidizer_temperature=float(opts.get("oxidizer_temperature", STREAM_T)),
        progress_variable=dict(opts["progress_variable"]),
    )


def stream_arrays(chemistry: FlameletChemistry) -> tuple[np.ndarray, np.ndarray]:
    """Mass fractions of the fuel and the oxidizer stream as arrays in mechanism species order."""
    return (np.array([chemistry.fuel_Y[s] for s in chemistry.species]),
            np.array([chemistry.oxidizer_Y[s] for s in chemistry.species]))


def mixed_Y(chemistry: FlameletChemistry, Z: float) -> np.ndarray:
    """Mass fractions of the unburnt mixture at Bilger mixture fraction `Z` (the streams mixed by mass)."""
    Y_fuel, Y_oxidizer = stream_arrays(chemistry)
    return Z * Y_fuel + (1.0 - Z) * Y_oxidizer


def stream_enthalpies(gas: Any, chemistry: FlameletChemistry, streams: Streams) -> tuple[float, float]:
    """Mass enthalpies [J/kg] of the fuel and the oxidizer stream at their temperatures and the pressure."""
    Y_fuel, Y_oxidizer = stream_arrays(chemistry)
    gas.TPY = streams.fuel_temperature, streams.pressure, Y_fuel
    h_fuel = float(gas.enthalpy_mass)
    gas.TPY = streams.oxidizer_temperature, streams.pressure, Y_oxidizer
    return h_fuel, float(gas.enthalpy_mass)


def unburnt_mixture(gas: Any, streams: Streams, T0: float, phi: float) -> None:
    """Set `gas` to fuel and oxidizer at equivalence ratio `phi`, temperature `T0` and the streams' pressure."""
    gas.set_equivalence_ratio(phi, parse_composition(gas, streams.fuel, "fuel"),
                              parse_composition(gas, streams.oxidizer, "oxidizer"))
    gas.TP = T0, streams.pressure


def unburnt_Z(gas: Any, chemistry: FlameletChemistry, streams: Streams, phi: float) -> float:
    """Bilger mixture fraction of fuel and oxidizer at equivalence ratio `phi`."""
    unburnt_mixture(gas, streams, streams.fuel_temperature, phi)
    return float(chemistry.mixture_fraction(np.asarray(gas.Y)[None, :])[0])


def mixture_axis_options(default_phi: Sequence[float], phi_help: str) -> tuple[Option, Option]:
    """The two ways to give the unburnt mixtures of a table over φ: ``equivalence_ratio`` (with a generator's
    defaults) or ``mixture_fraction`` (Bilger Z, converted to φ with the streams), which makes Z the table's
    default input so that a solver transporting Z can look the table up directly."""
    return (
        Option("equivalence_ratio", list(default_phi), "equivalence ratios phi" + phi_help, type=parse_floats,
               bounds=POSITIVE),
        Option("mixture_fraction", [], "Bilger mixture fractions Z of the unburnt mixture (pure oxidizer and fuel "
               "do not burn), in place of equivalence_ratio: each is converted to phi with the fuel and oxidizer "
               "streams, and Z becomes the table's default input instead of phi; empty: use equivalence_ratio",
               type=parse_floats, bounds=Range(0, 1, low_open=True, high_open=True)),
    )


def check_mixture_axis(opts: Mapping[str, Any], options: Iterable[Option]) -> None:
    """One-line errors for the options of :func:`mixture_axis_options` among a generator's `options`: both given
    (``equivalence_ratio`` not at its default next to ``mixture_fraction``) or none (their values' ranges are
    declared with the options)."""
    if opts["mixture_fraction"]:
        default_phi = next(option.default for option in options if option.name == "equivalence_ratio")
        if list(opts["equivalence_ratio"]) != list(default_phi):
            raise UserError("options equivalence_ratio and mixture_fraction: give one of them, not both")
    elif not opts["equivalence_ratio"]:
        raise UserError("option equivalence_ratio: give at least one value")


def equivalence_ratio_of(Z: float, Z_st: float) -> float:
    """φ of the two streams mixed at Bilger mixture fraction `Z`: (Z / (1 − Z)) / (Z_st / (1 − Z_st)), the mass
    ratio of fuel to oxidizer stream over its stoichiometric value (the mixture Cantera's
    ``set_equivalence_ratio(phi, fuel, oxidizer)`` makes has Bilger Z equal to `Z` again)."""
    return Z * (1.0 - Z_st) / ((1.0 - Z) * Z_st)


def equivalence_ratios(opts: Mapping[str, Any], chemistry: FlameletChemistry) -> list[float]:
    """The φ of every unburnt mixture of a build, in option order: ``equivalence_ratio`` as given, or each
    ``mixture_fraction`` converted with the streams."""
    if opts["mixture_fraction"]:
        return [equivalence_ratio_of(float(Z), chemistry.Z_st) for Z in opts["mixture_fraction"]]
    return [float(phi) for phi in opts["equivalence_ratio"]]


def mixture_axis_columns(opts: Mapping[str, Any], phi: np.ndarray, Z: np.ndarray) -> tuple[Column, Column]:
    """The rows' φ and Z columns, the chosen axis first: (default input, extra input stored for the other
    convention)."""
    phi_column = Column("phi", phi, "1", "equivalence ratio of the unburnt mixture")
    Z_column = Column("Z", Z, "1", "Bilger mixture fraction of the unburnt mixture")
    return (Z_column, phi_column) if opts["mixture_fraction"] else (phi_column, Z_column)


def present_species(Y_max: np.ndarray, species: Sequence[str]) -> list[int]:
    """Indices of the species whose largest mass fraction exceeds :data:`PRESENT_Y`."""
    return [k for k in range(len(species)) if Y_max[k] > PRESENT_Y]


def provenance(opts: Mapping[str, Any], chemistry: FlameletChemistry, gas: Any,
               species: Sequence[str]) -> dict[str, Any]:
    """Root attributes every Cantera table carries: mechanism, streams, versions, the progress variable and the
    element data :class:`surrogate.chemistry.BilgerMixtureFraction` needs to recompute Z from stored Y."""
    import cantera as ct

    def stream(name: str, Y: dict[str, float]) -> dict[str, Any]:
        """Mole fractions as given, the temperature where the generator has one, and the mass fractions."""
        T = {"T": float(opts[f"{name}_temperature"])} if f"{name}_temperature" in opts else {}
        return {"X": opts[name], **T, "Y": {s: Y[s] for s in species if Y.get(s, 0.0) > 0.0}}

    return {
        "mechanism": opts["mechanism"],
        "mechanism_source": str(getattr(gas, "source", opts["mechanism"])),
        "fuel": stream("fuel", chemistry.fuel_Y),
        "oxidizer": stream("oxidizer", chemistry.oxidizer_Y),
        "cantera_version": ct.__version__,
        "progress_variable": dict(opts["progress_variable"]),
        "mixture_fraction_definition": "Bilger",
        "Z_st": chemistry.Z_st,
        "build_options": dict(opts),
        "species": list(species),
        "species_presence_threshold": PRESENT_Y,
        "species_composition": {s: chemistry.composition[s] for s in species},
        "species_molecular_weights": {s: chemistry.molecular_weights[s] for s in species},
        "element_atomic_weights": chemistry.element_weights,
        "bilger_beta_fuel": chemistry.bilger.beta_fuel,
        "bilger_beta_oxidizer": chemistry.bilger.beta_oxidizer,
    }


def mixture_provenance(opts: Mapping[str, Any], chemistry: FlameletChemistry, gas: Any,
                       species: Sequence[str]) -> dict[str, Any]:
    """:func:`provenance` and the ``pressure`` of a table over mixture states (the list when it has several)."""
    return {
        **provenance(opts, chemistry, gas, species),
        "pressure": opts["pressure"][0] if len(opts["pressure"]) == 1 else list(opts["pressure"]),
    }


def mixture_defaults(inputs: Sequence[Column], species: Sequence[str], group_column: str,
                     not_default: Sequence[Column] = ()) -> DatasetDefaults:
    """Declared defaults of a table over mixture states: its inputs but `not_default` (a stored alternative
    coordinate); the mass fractions of `species` (closed by a softmax) and T as outputs; rows grouped by
    `group_column`."""
    mass_fractions = [f"Y_{s}" for s in species]
    skipped = {c.name for c in not_default}
    return DatasetDefaults(default_inputs=[c.name for c in inputs if c.name not in skipped],
                           default_outputs=[*mass_fractions, "T"],
                           softmax_outputs=mass_fractions, group_column=group_column)
