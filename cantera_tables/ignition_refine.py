"""Adaptive ignition tables: after the given T0 grid is solved, add reactors along each (p, φ) line until the
ignition delay of every interior reactor is predicted by its neighbours within a tolerance.

Where one chemistry regime controls ignition, ln τ_ign is nearly linear in 1/T0 (an Arrhenius law with one
global activation energy), so the error of predicting it by linear interpolation in 1000/T0 between two
neighbours measures the curvature of the delay curve: a change of the controlling chain-branching path (H2's
extended second explosion limit, where HO2 takes over from H + O2 -> O + OH), the negative-temperature-coefficient
region of a fuel with low-temperature chemistry. The estimate is leave-one-out along each line, as for the adaptive
flamelet tables (:mod:`cantera_tables.refine`): each interior ignited reactor of the line, ordered by T0, is
compared with the interpolation between its two ignited neighbours, and |Δ ln τ_ign| is its error (about the
relative error of τ_ign: 0.05 is 5 %). Where the largest error of a line exceeds the tolerance, the wider (in 1/T0)
of the two intervals beside that reactor gets a new reactor at its midpoint in 1/T0; the estimate is recomputed,
and a line is done when every error is within the tolerance, when its budget of added reactors is spent, or when
the intervals beside every reactor above the tolerance are narrower than :data:`MIN_INTERVAL_T0`.

A reactor that did not ignite within ``end_time`` has no delay: it is left out of the estimate (its ignited
neighbours are interpolated across it), and no reactor is added to find where ignition stops, a boundary that
moves with ``end_time`` rather than with the chemistry. A line of fewer than three ignited reactors has no
estimate.

Each round adds at most one reactor per line, and the new reactors of all lines run together on the build's
executor. A round's new conditions are a function of the saved reactors alone and take the next indices, so a
killed build replays the rounds from the reactors it saved and gives the table of an uninterrupted build.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from surrogate.errors import UserError

# K: narrower T0 intervals are not split, so that a tolerance below the noise of tau_ign (a CVODES step time, 1e-4
# to 1e-3 of it near ignition) cannot add reactors without end
MIN_INTERVAL_T0 = 1.0
ERROR_DEFINITION = ("largest leave-one-out error |ln tau_ign - linear interpolation in 1000/T0 of ln tau_ign of the "
                    "two ignited neighbours| over the interior ignited reactors of each (p, phi) line")


@dataclass(frozen=True)
class RefineSettings:
    """Target of the refinement: the largest leave-one-out error of ln τ_ign along each line, and the most reactors
    added per line."""

    tolerance: float
    max_added: int


def refine_settings(opts: dict[str, Any]) -> RefineSettings | None:
    """The refinement an ignition build asks for (None without a tolerance); a tolerance with fewer than three
    initial temperatures, which leave no interior reactor to estimate from, is a one-line error."""
    if not opts["tolerance"]:
        return None
    if len(set(opts["initial_temperature"])) < 3:
        raise UserError(f"option tolerance={opts['tolerance']:g}: the leave-one-out estimate needs at least 3 "
                        f"initial temperatures per line, got initial_temperature={opts['initial_temperature']}")
    return RefineSettings(float(opts["tolerance"]), int(opts["max_refine"]))


def line_errors(T0: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the ignited reactors of one line by rising T0; the leave-one-out error of ln τ_ign of each,
    NaN at both ends and everywhere for fewer than three)."""
    ignited = np.flatnonzero(np.isfinite(tau))
    order = ignited[np.argsort(T0[ignited], kind="stable")]
    errors = np.full(len(order), np.nan)
    if len(order) >= 3:
        x, y = 1000.0 / T0[order], np.log(tau[order])
        span = x[2:] - x[:-2]
        w = np.divide(x[1:-1] - x[:-2], span, out=np.full(len(span), 0.5), where=span != 0.0)
        errors[1:-1] = np.abs((1.0 - w) * y[:-2] + w * y[2:] - y[1:-1])
    return order, errors


def next_T0(T0: np.ndarray, errors: np.ndarray, tolerance: float) -> float | None:
    """The initial temperature of the reactor to add to a line whose ignited reactors have the rising `T0` and
    leave-one-out `errors`: the midpoint in 1/T0 of the wider interval beside the reactor of largest error above
    `tolerance` that spans at least :data:`MIN_INTERVAL_T0` (else beside the next worst); None when there is none."""
    for j in np.argsort(-np.nan_to_num(errors, nan=-1.0), kind="stable"):
        if not errors[j] > tolerance:
            return None
        widths = {(j - 1, j): 1.0 / T0[j - 1] - 1.0 / T0[j], (j, j + 1): 1.0 / T0[j] - 1.0 / T0[j + 1]}
        for a, b in sorted(widths, key=lambda pair: -widths[pair]):
            if T0[b] - T0[a] >= MIN_INTERVAL_T0:
                return float(2.0 / (1.0 / T0[a] + 1.0 / T0[b]))
    return None


def line_keys(phi: np.ndarray, p: np.ndarray) -> list[tuple[float, float]]:
    """The (p, φ) lines of a set of reactors, in the order they first appear."""
    return list(dict.fromkeys(zip(p.tolist(), phi.tolist())))


def largest_error(T0: np.ndarray, phi: np.ndarray, p: np.ndarray, tau: np.ndarray) -> tuple[float | None, int | None]:
    """(largest leave-one-out error of ln τ_ign over every line of the reactors (T0, φ, p, τ_ign), index of the
    reactor where it is; None and None when no line has three ignited reactors)."""
    worst: tuple[float | None, int | None] = (None, None)
    for line_p, line_phi in line_keys(phi, p):
        members = np.flatnonzero((p == line_p) & (phi == line_phi))
        order, errors = line_errors(T0[members], tau[members])
        if np.isfinite(errors).any():
            j = int(np.nanargmax(errors))
            if worst[0] is None or errors[j] > worst[0]:
                worst = (float(errors[j]), int(members[order[j]]))
    return worst


def refine_lines(conditions: Sequence[Any], saved: Sequence[dict[str, np.ndarray]], settings: RefineSettings,
                 solve_round: Callable[[list[Any]], list[dict[str, np.ndarray]]]
                 ) -> tuple[list[Any], list[dict[str, np.ndarray]], dict[str, Any]]:
    """(every condition, what each saved, the refinement record) after adding reactors to the solved
    `conditions` (dataclasses with T0, phi, streams.pressure and index; `saved` their trajectories with
    ``tau_ign``) round by round until every line is done; `solve_round(new)` runs a round's new conditions and
    returns what they saved. The record holds the tolerance, the budget, per round ``[reactors, largest error,
    T0, phi, p of the reactor where it is]`` and per line its reactors, the reactors added and its error."""
    conditions, saved = list(conditions), list(saved)
    n_initial = len(conditions)
    rounds: list[list[Any]] = []
    while True:
        T0, phi, p, tau = _arrays(conditions, saved)
        keys = line_keys(phi, p)
        reached, worst = largest_error(T0, phi, p, tau)
        where = (float(T0[worst]), float(phi[worst]), float(p[worst])) if worst is not None else (None, None, None)
        rounds.append([len(conditions), reached, *where])
        new = []
        for line_p, line_phi in keys:
            members = np.flatnonzero((p == line_p) & (phi == line_phi))
            if np.sum(members >= n_initial) >= settings.max_added:
                continue
            order, errors = line_errors(T0[members], tau[members])
            T0_new = next_T0(T0[members][order], errors, settings.tolerance)
            if T0_new is not None:
                new.append(dataclasses.replace(conditions[members[0]], T0=T0_new, index=len(conditions) + len(new)))
        if not new:
            break
        saved += solve_round(new)
        conditions += new
    lines = []
    for line_p, line_phi in keys:
        members = np.flatnonzero((p == line_p) & (phi == line_phi))
        error, at = largest_error(T0[members], phi[members], p[members], tau[members])
        lines.append({"pressure": line_p, "phi": line_phi, "reactors": len(members),
                      "added": int(np.sum(members >= n_initial)), "error": error,
                      "T0_worst": float(T0[members][at]) if at is not None else None})
    record = {"tolerance": settings.tolerance, "max_refine": settings.max_added, "min_interval_T0": MIN_INTERVAL_T0,
              "error": ERROR_DEFINITION, "rounds": rounds, "lines": lines}
    return conditions, saved, record


def _arrays(conditions: Sequence[Any], saved: Sequence[dict[str, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """T0, φ, p and τ_ign of every reactor, as float arrays."""
    return (np.array([c.T0 for c in conditions], dtype=float), np.array([c.phi for c in conditions], dtype=float),
            np.array([c.streams.pressure for c in conditions], dtype=float),
            np.array([float(s["tau_ign"]) for s in saved]))


def verdict(record: dict[str, Any]) -> str:
    """Whether an adaptive build met its tolerance, and where and why not: at the reactor of largest error, the
    budget of its line was spent or the intervals beside it are narrower than the floor."""
    _, reached, T0, phi, p = record["rounds"][-1]
    if reached is None:
        return "no estimate: no (p, phi) line has three ignited reactors"
    if reached <= record["tolerance"]:
        return "met"
    line = next(line for line in record["lines"] if line["pressure"] == p and line["phi"] == phi)
    why = ("the line's budget is spent" if line["added"] >= record["max_refine"] else
           f"the intervals beside it are narrower than {record['min_interval_T0']:g} K")
    return f"not met: the largest error is at T0={T0:.6g} K, phi={phi:g}, p={p:g} Pa, and {why}"


def history_text(record: dict[str, Any]) -> str:
    """The reactors against the largest error after each round, e.g. ``18: 0.41, 21: 0.12``."""
    return ", ".join(f"{n}: {'none' if error is None else f'{error:.3g}'}" for n, error, *_ in record["rounds"])


def report(record: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Build notes (the table size against the largest error per round, whether the tolerance was met) and
    numbers (reactors added, largest error) of an adaptive ignition build."""
    added = sum(line["added"] for line in record["lines"])
    note = (f"adaptive: reactors against the largest leave-one-out error of ln tau_ign after each round, "
            f"{history_text(record)} (tolerance {record['tolerance']:g}, {verdict(record)}; {added} added, at most "
            f"{record['max_refine']} per (phi, p) line)")
    reached = record["rounds"][-1][1]
    return [note], {"adaptive: reactors added": added,
                    "adaptive: largest leave-one-out error": reached if reached is not None else "none"}


def summary(record: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Lines for ``table info`` of an adaptive build (none for a plain one): reactors and largest error before and
    after the refinement against the tolerance, and the history per round."""
    if not record:
        return []
    (before, first, *_), (after, reached, *_) = record["rounds"][0], record["rounds"][-1]
    figures = ["none" if e is None else f"{e:.3g}" for e in (first, reached)]
    return [("adaptive", f"{before} -> {after} reactors, largest leave-one-out error of ln tau_ign {figures[0]} -> "
                         f"{figures[1]} (tolerance {record['tolerance']:g}, {verdict(record)})"),
            ("adaptive rounds", f"reactors: largest error, {history_text(record)}")]
