"""Adaptive flamelet tables: after the S-curve sweep, solve new flamelets between neighbours along the curve until
every chosen output is interpolated along it within a tolerance.

The error estimate is leave-one-out along the S-curve. T_max falls monotonically along the whole curve (see
:func:`cantera_tables.flamelet.turning_point`), so it is the curve's parameter: each interior burning flamelet j
is predicted by linear interpolation in T_max between its two neighbours, its profiles compared with that
prediction at the table's mixture-fraction nodes, and the largest difference of each chosen output, divided by
that output's range over the curve, is the flamelet's error. Where it exceeds the tolerance, the wider (in
T_max) of the two intervals around j gets a new flamelet, and the estimate is recomputed; the loop ends when
every error is within the tolerance, when the budget of added flamelets is spent, or when no interval with too
large an error can be split any more (its solve failed, or it is narrower than the solutions' own noise: T_max
moves by about a kelvin when Cantera's grid refinement adds a point).

A new flamelet is solved from the hotter neighbour's own solution (Cantera's save of it, kept per flamelet in the
work directory): between two stable flamelets by strain continuation to the geometric mean of their strain
rates, as the sweep steps; across the turning point and on the middle branch by two-point flame control
(Nishioka, Law & Takeno 1996), the control temperature lowered by half the T_max drop to the cooler neighbour. A
solution that does not split the interval near its middle is retried with the step rescaled by what the previous
try achieved.
Every step starts from committed files only, so a killed refinement resumes where it stood and gives the same
flamelets; the curves of several pressures refine in parallel, each in its own job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .flamelet import (FROZEN, STRAIN_CONTINUATION, TWO_POINT, Flamelet, FlameletChemistry, FlameletSetup,
                       burning_temperature, cantera_message, flamelet_from_flame, reaches_streams, scale_strain)
from .structured import covers, profile_at

MAJOR_Y = 0.05  # default refined outputs: T and every species whose mass fraction reaches this somewhere
ATTEMPTS = 4  # solves tried per interval before it is given up
MIN_INTERVAL_T = 2.0  # K: narrower intervals in T_max are not split (their flamelets differ by the grid's noise)
SPLIT = 0.2  # a new flamelet must lie at least this fraction of its interval's T_max drop from either end
CONTROL_SPACING = 0.8  # control points at this fraction of the way from the inlets' T up to T_max
ESTIMATE_NODES = 200  # mixture-fraction nodes of the error estimate (z_nodes: clustered around Z_st)


@dataclass(frozen=True)
class RefineSettings:
    """Target of the refinement: the largest leave-one-out error of each output in `outputs` (``T`` or
    ``Y_<species>``; empty: T and the major species), relative to its range over the curve, and the most
    flamelets added per curve."""

    tolerance: float
    outputs: tuple[str, ...]
    max_added: int
    n_Z: int = ESTIMATE_NODES


def default_outputs(flamelets: Sequence[Flamelet], species: Sequence[str]) -> list[str]:
    """T and every species whose mass fraction reaches :data:`MAJOR_Y` in some flamelet."""
    peak = np.max([f.Y.max(axis=0) for f in flamelets], axis=0)
    return ["T", *(f"Y_{s}" for s, y in zip(species, peak) if y >= MAJOR_Y)]


def output_profiles(flamelet: Flamelet, outputs: Sequence[str], species: Sequence[str]) -> np.ndarray:
    """(n_points, len(outputs)) profiles of the named outputs (``T`` or ``Y_<species>``) of one flamelet."""
    return np.column_stack([flamelet.T if name == "T" else flamelet.Y[:, species.index(name[2:])]
                            for name in outputs])


def leave_one_out(flamelets: Sequence[Flamelet], outputs: Sequence[str], species: Sequence[str],
                  Z: np.ndarray) -> tuple[list[int], np.ndarray]:
    """(indices of the burning flamelets along the curve, hottest first; error of each, NaN at both ends): the
    largest |flamelet − interpolation between its neighbours in T_max| over the mixture fractions `Z` all three
    span, per output relative to its range over the curve, maximum over the outputs."""
    along = sorted((k for k, f in enumerate(flamelets) if f.method != FROZEN), key=lambda k: -flamelets[k].T_max)
    profiles = [output_profiles(flamelets[k], outputs, species) for k in along]
    low = np.min([p.min(axis=0) for p in profiles], axis=0)
    high = np.max([p.max(axis=0) for p in profiles], axis=0)
    scale = np.where(high > low, high - low, 1.0)
    sampled = [profile_at(flamelets[k], p, Z) for k, p in zip(along, profiles)]
    inside = [covers(flamelets[k], Z) for k in along]
    errors = np.full(len(along), np.nan)
    T = np.array([flamelets[k].T_max for k in along])
    for j in range(1, len(along) - 1):
        w = (T[j] - T[j - 1]) / (T[j + 1] - T[j - 1]) if T[j + 1] < T[j - 1] else 0.5
        predicted = (1.0 - w) * sampled[j - 1] + w * sampled[j + 1]
        mask = inside[j - 1] & inside[j] & inside[j + 1]
        errors[j] = float((np.abs(predicted - sampled[j])[mask] / scale).max()) if mask.any() else 0.0
    return along, errors


def largest_error(along: Sequence[int], errors: np.ndarray) -> tuple[float, int | None]:
    """(largest of the :func:`leave_one_out` `errors` of a curve, index of the flamelet where it is; 0 and None
    for a curve of fewer than three burning flamelets)."""
    if not np.isfinite(errors).any():
        return 0.0, None
    worst = int(np.nanargmax(errors))
    return float(errors[worst]), along[worst]


def next_interval(flamelets: Sequence[Flamelet], along: list[int], errors: np.ndarray, tolerance: float,
                  failed: Sequence[Sequence[int]]) -> tuple[int, int] | None:
    """(hotter, cooler) flamelet indices of the interval to split next: around the flamelet of largest error above
    `tolerance`, the wider of its two intervals in T_max that has not `failed` and spans at least
    :data:`MIN_INTERVAL_T`; None when there is none."""
    failed_pairs = {tuple(pair) for pair in failed}
    for j in np.argsort(-np.nan_to_num(errors, nan=-1.0)):
        if not errors[j] > tolerance:
            return None
        pairs = sorted(((along[j - 1], along[j]), (along[j], along[j + 1])),
                       key=lambda p: flamelets[p[1]].T_max - flamelets[p[0]].T_max)
        for pair in pairs:
            if pair not in failed_pairs and flamelets[pair[0]].T_max - flamelets[pair[1]].T_max >= MIN_INTERVAL_T:
                return pair
    return None


def solve_between(flame: Any, restore: Any, setup: FlameletSetup, chemistry: FlameletChemistry,
                  hotter: Flamelet, cooler: Flamelet, stable: bool) -> tuple[Flamelet | None, list[str], int]:
    """(a flamelet between `hotter` and `cooler` or None, failure notes, solves made), solved from the hotter one's
    solution (``restore(flame)`` puts it into `flame`): on the `stable` branch by strain continuation to the
    geometric mean of their strain rates (:func:`cantera_tables.flamelet.scale_strain`), elsewhere by two-point
    control with the control temperature lowered by half their T_max drop. A solution counts when it splits the
    interval in T_max into parts of at least :data:`SPLIT` each; otherwise the step is rescaled by the fraction it
    achieved and tried again."""
    import cantera as ct

    span = hotter.T_max - cooler.T_max
    step = 0.5 * math.log(cooler.strain_rate / hotter.strain_rate) if stable else 0.5 * span
    notes, solves = [], 0
    T_burning = burning_temperature(setup)
    for _ in range(ATTEMPTS):
        restore(flame)
        if stable:
            flame.two_point_control_enabled = False
            scale_strain(flame, math.exp(step))
        else:
            flame.two_point_control_enabled = True
            flame.flame.set_bounds(spread_rate=(-1e-5, 1e20))
            T = np.asarray(flame.T)
            level = T.min() + CONTROL_SPACING * (T.max() - T.min())
            flame.set_left_control_point(level)
            flame.set_right_control_point(level)
            flame.left_control_point_temperature = level - step
            flame.right_control_point_temperature = level - step
        solves += 1
        try:
            flame.solve(loglevel=0)
        except ct.CanteraError as exc:
            notes.append(f"refinement between T_max {hotter.T_max:.0f} and {cooler.T_max:.0f} K: {cantera_message(exc)}")
            step *= 0.5
            continue
        found = flamelet_from_flame(flame, chemistry, STRAIN_CONTINUATION if stable else TWO_POINT)
        achieved = (hotter.T_max - found.T_max) / span
        if SPLIT <= achieved <= 1.0 - SPLIT and found.T_max >= T_burning and reaches_streams(found.Z):
            return found, notes, solves
        step *= 0.5 / achieved if achieved > 0.01 else 4.0
    notes.append(f"refinement between T_max {hotter.T_max:.0f} and {cooler.T_max:.0f} K found no flamelet between "
                 f"them in {ATTEMPTS} tries")
    return None, notes, solves
