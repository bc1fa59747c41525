"""Flamelets resampled in mixture fraction: the scattered (Z, C, χ) points and the structured (Z, Λ) table.

Structured table, HDF5 group ``/structured`` (flamelet/progress-variable form, Pierce & Moin 2004, J. Fluid
Mech. 504; Ihme & Pitsch 2008, Combust. Flame 155), written for a single S-curve:

- ``/structured/Z``       (nZ,)  mixture-fraction axis, 0..1, clustered around Z_st (see :func:`z_nodes`);
- ``/structured/Lambda``  (nL,)  normalized progress variable axis 0..1, half its nodes uniform and half
  following the flamelets' own Λ values (:func:`lambda_nodes`), or uniform; both axes then refined by bisection
  where the lookup error is largest (:mod:`cantera_tables.structured_refine`, attribute ``refinement``);
- ``/structured/C_min``, ``/structured/C_max``  (nZ,)  C of the least- and the most-burning flamelet at each Z
  (the frozen-chemistry flamelet gives C_min = 0 where it is present); Λ = (C - C_min) / (C_max - C_min);
- ``/structured/outputs/<name>``  (nZ, nL)  every output of the scattered table (``Y_<species>``, ``T``,
  ``omega_C``) with ``units`` and ``description`` attributes;
- ``/structured/C_monotone``  (nZ,)  whether C falls along the S-curve at each Z, to within
  :data:`MONOTONE_TOLERANCE` of its range (:func:`progress_monotonicity`: 1 yes, 0 no, -1 C does not vary), and the attribute ``lookup_error``: the
  table looked up at the stored flamelets, against them (:func:`lookup_error`).

A lookup at (Z, C) interpolates C_min and C_max linearly to that Z, forms Λ there and interpolates bilinearly
in (Z, Λ) (:func:`lookup`; the one scheme of every lookup, see :mod:`surrogate.lookup`). Built as follows: at each Z node
every flamelet that spans that Z is interpolated linearly in Z; its C gives its Λ; outputs are then
interpolated linearly in Λ between the flamelets sorted by Λ (:func:`progress_columns`, then
:meth:`Columns.grid` on any Λ axis). Where C_max - C_min is below 1e-12 (the inlets) all flamelets are in the same
state and their mean fills the Λ row.
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from surrogate.lookup import normalized_progress

from .flamelet import Flamelet

Z_COVER_TOL = 1e-3
# width over which each flamelet's Λ is spread to place the Λ nodes (:func:`lambda_nodes`): far below a node
# spacing, so the lookup error stays that of the unspread ECDF (default table: T max 20.5 K against 20.6 K)
LAMBDA_SMOOTHING = 1e-3
# largest rise of C between neighbours along the S-curve, as a fraction of the curve's C range, that still counts
# as monotone (:func:`progress_monotonicity`)
MONOTONE_TOLERANCE = 1e-3
# mass fractions whose peak over the flamelets is below this are left out of the relative species lookup error
SPECIES_FLOOR = 1e-6


def z_nodes(n: int, Z_st: float) -> np.ndarray:
    """n nodes from 0 to 1, Z_i = s_i^p with s uniform and p chosen so Z_st sits a third of the way along.

    For hydrogen-air Z_st ≈ 0.03, so a uniform grid would put a handful of nodes on the lean side where the
    flame sits; the power stretch puts a third of them there and keeps the nodes monotone.
    """
    if n < 2:
        raise ValueError("need at least two Z nodes")
    p = max(1.0, math.log(Z_st) / math.log(1.0 / 3.0)) if 0.0 < Z_st < 1.0 else 1.0
    return np.linspace(0.0, 1.0, n) ** p


def profile_at(flamelet: Flamelet, values: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """`values` (n_points, ...) of one flamelet, linearly interpolated to mixture fractions `Z`.

    Z decreases along x (fuel at x = 0); the reversed profile is made non-decreasing so interpolation is
    defined even where differential diffusion leaves a tiny plateau.
    """
    z = np.maximum.accumulate(flamelet.Z[::-1])
    v = np.asarray(values)[::-1]
    if v.ndim == 1:
        return np.interp(Z, z, v)
    return np.stack([np.interp(Z, z, v[:, j]) for j in range(v.shape[1])], axis=1)


def covers(flamelet: Flamelet, Z: np.ndarray) -> np.ndarray:
    """Which of the mixture fractions `Z` lie within the flamelet's Z range (to ``Z_COVER_TOL``)."""
    return (Z >= flamelet.Z.min() - Z_COVER_TOL) & (Z <= flamelet.Z.max() + Z_COVER_TOL)


def flamelet_outputs(flamelet: Flamelet, species_index: Sequence[int]) -> np.ndarray:
    """(n_points, n_outputs) of one flamelet in output order: Y of the kept species, T, omega_C."""
    return np.column_stack([flamelet.Y[:, species_index], flamelet.T, flamelet.omega_C])


def resample(flamelet: Flamelet, Z: np.ndarray, species_index: Sequence[int]) -> dict[str, np.ndarray]:
    """Scattered rows of one flamelet at the nodes `Z` it spans: inputs Z, C, chi and the output matrix."""
    Z = Z[covers(flamelet, Z)]
    Z = np.unique(np.clip(Z, flamelet.Z.min(), flamelet.Z.max()))
    return {
        "Z": profile_at(flamelet, flamelet.Z, Z),
        "C": profile_at(flamelet, flamelet.C, Z),
        "chi": profile_at(flamelet, flamelet.chi, Z),
        "outputs": profile_at(flamelet, flamelet_outputs(flamelet, species_index), Z),
    }


def lambda_nodes(n: int, samples: np.ndarray, width: float = LAMBDA_SMOOTHING) -> np.ndarray:
    """n Λ nodes from 0 to 1 spaced by F⁻¹ of a uniform grid, F(λ) = (λ + G(λ)) / 2 with G the distribution of
    the flamelets' own Λ values, each spread uniformly over `width`: half the nodes spread uniformly, half follow
    the flamelets. Where C changes little along the burning branch its flamelets crowd near Λ = 1 and a uniform
    axis puts the whole branch inside one cell; these nodes resolve it and stay strictly increasing.

    The spreading makes G, and so every node, a Lipschitz function of the samples: moving them by δ_k moves a
    node by about Σ|δ_k| / (samples.size * width) at most. The axis is shared by every Z node, and the step
    function of an ECDF would shift it by O(1 / samples.size) whenever a sample becomes exactly equal to another
    (e.g. a C clipped at zero, equal to C_min): 1e-12 noise in the flamelets moved the default table's outputs
    by 3e-3 of their range that way.
    """
    samples = np.sort(np.clip(np.asarray(samples, dtype=float), 0.0, 1.0))
    if samples.size == 0:
        return np.linspace(0.0, 1.0, n)
    rising, level = samples - 0.5 * width, samples + 0.5 * width  # where each sample's ramp of G starts, ends
    x = np.unique(np.clip(np.concatenate([[0.0, 1.0], rising, level]), 0.0, 1.0))  # every kink of F in [0, 1]

    def ramps(starts: np.ndarray) -> np.ndarray:  # sum_k max(x - starts_k, 0), starts sorted
        count = np.searchsorted(starts, x, side="right")
        return count * x - np.concatenate([[0.0], np.cumsum(starts)])[count]

    G = (ramps(rising) - ramps(level)) / (width * samples.size)
    F = 0.5 * x + 0.5 * G
    F = (F - F[0]) / (F[-1] - F[0])
    return np.interp(np.linspace(0.0, 1.0, n), F, x)


class Columns(NamedTuple):
    """The flamelets at each Z node, from which any Λ axis is filled: C_min, C_max (nZ,) and per node the
    flamelets' Λ sorted with their outputs (n, n_outputs), or (None, the flamelets' mean) where C_max - C_min
    is below 1e-12 (the inlets)."""

    Z: np.ndarray
    C_min: np.ndarray
    C_max: np.ndarray
    nodes: list[tuple[np.ndarray | None, np.ndarray]]

    def flamelet_lambdas(self) -> np.ndarray:
        """The Λ of the flamelets between the least and the most burning one at every node where C varies (their
        own 0 and 1 are no information): what :func:`lambda_nodes` follows."""
        return np.concatenate([lam[1:-1] for lam, _ in self.nodes if lam is not None] or [np.empty(0)])

    def grid(self, Lambda: np.ndarray) -> dict[str, np.ndarray]:
        """The (Z, Λ) table on the Λ axis `Lambda`: axes, C_min, C_max and outputs (:meth:`tabulate`)."""
        return {"Z": self.Z, "Lambda": Lambda, "C_min": self.C_min, "C_max": self.C_max,
                "outputs": self.tabulate(Lambda)}

    def tabulate(self, Lambda: np.ndarray) -> np.ndarray:
        """Outputs (nZ, len(Lambda), n_outputs): each node's flamelets interpolated linearly in Λ to `Lambda`."""
        n_out = self.nodes[0][1].shape[-1]
        outputs = np.empty((len(self.Z), len(Lambda), n_out))
        for i, (lam, out) in enumerate(self.nodes):
            if lam is None:
                outputs[i] = out
                continue
            for j in range(n_out):
                outputs[i, :, j] = np.interp(Lambda, lam, out[:, j])
        return outputs


def progress_columns(flamelets: Sequence[Flamelet], Z: np.ndarray, species_index: Sequence[int]) -> Columns:
    """Every flamelet that spans a node of `Z`, interpolated linearly in Z to it, its C giving its Λ there."""
    C_min = np.empty(len(Z))
    C_max = np.empty(len(Z))
    per_flamelet = [
        (covers(f, Z), profile_at(f, f.C, Z), profile_at(f, flamelet_outputs(f, species_index), Z)) for f in flamelets
    ]
    nodes: list[tuple[np.ndarray | None, np.ndarray]] = []
    for i in range(len(Z)):
        C = np.array([c[i] for mask, c, _ in per_flamelet if mask[i]])
        out = np.array([o[i] for mask, _, o in per_flamelet if mask[i]])
        C_min[i], C_max[i] = C.min(), C.max()
        span = C_max[i] - C_min[i]
        if span < 1e-12:
            nodes.append((None, out.mean(axis=0)))
            continue
        lam = (C - C_min[i]) / span
        order = np.argsort(lam, kind="stable")
        nodes.append((lam[order], out[order]))
    return Columns(Z, C_min, C_max, nodes)


def structured_table(
    flamelets: Sequence[Flamelet], Z: np.ndarray, n_lambda: int, species_index: Sequence[int],
    spacing: str = "flamelets",
) -> dict[str, np.ndarray]:
    """C_min, C_max (nZ,) and outputs (nZ, nL, n_outputs) on the (Z, Λ) grid described in the module docstring;
    Λ nodes ``uniform`` or following the ``flamelets`` (:func:`lambda_nodes`)."""
    columns = progress_columns(flamelets, Z, species_index)
    Lambda = (lambda_nodes(n_lambda, columns.flamelet_lambdas()) if spacing == "flamelets"
              else np.linspace(0.0, 1.0, n_lambda))
    return columns.grid(Lambda)


def grid_bytes(grid: Mapping[str, np.ndarray]) -> int:
    """Bytes of the arrays a lookup of the (Z, Λ) table holds (axes, C_min, C_max, outputs) in double."""
    return sum(int(np.asarray(grid[name]).size) * 8 for name in ("Z", "Lambda", "C_min", "C_max", "outputs"))


def lookup(grid: Mapping[str, np.ndarray], Z: np.ndarray, C: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    """The FPV lookup: outputs `columns` of a structured table at points (Z, C): Z clamped to the table, Λ from
    C_min, C_max interpolated to that Z (:func:`surrogate.lookup.normalized_progress`), bilinear in (Z, Λ).
    (n_points, len(columns))."""
    from scipy.interpolate import RegularGridInterpolator

    Z = np.clip(Z, grid["Z"][0], grid["Z"][-1])
    points = np.column_stack([Z, normalized_progress(Z, C, grid["Z"], grid["C_min"], grid["C_max"])])
    return np.column_stack([RegularGridInterpolator((grid["Z"], grid["Lambda"]), grid["outputs"][:, :, j])(points)
                            for j in columns])


def lookup_error(grid: Mapping[str, np.ndarray], flamelets: Sequence[Flamelet], Z: np.ndarray,
                 species_index: Sequence[int], species: Sequence[str]) -> dict[str, float | str]:
    """How well the structured table gives back the stored flamelets: every flamelet sampled at the mixture
    fractions `Z` it spans, looked up at its own (Z, C), errors in T [K] and ω_C [kg/m³/s] (max and RMS), the
    largest |ω_C| for scale, where the largest T error sits (Z, χ_st of its flamelet), and the mass fractions'
    largest error relative to each one's peak (`species`, named in column order; those whose peak is below
    :data:`SPECIES_FLOOR` are left out) with the species it belongs to."""
    T_col = len(species_index)
    truth, found, owner, at_Z = [], [], [], []
    for k, flamelet in enumerate(flamelets):
        sample = resample(flamelet, Z, species_index)
        truth.append(sample["outputs"])
        found.append(lookup(grid, sample["Z"], sample["C"], range(T_col + 2)))
        owner.append(np.full(len(sample["Z"]), k))
        at_Z.append(sample["Z"])
    truth_all = np.concatenate(truth)
    error = np.abs(np.concatenate(found) - truth_all)
    worst = int(np.argmax(error[:, T_col]))
    peak = truth_all[:, :T_col].max(axis=0)
    relative = np.where(peak >= SPECIES_FLOOR, error[:, :T_col].max(axis=0) / np.maximum(peak, SPECIES_FLOOR), 0.0)
    k_worst = int(np.argmax(relative)) if T_col else 0
    return {
        "T_max_error": float(error[:, T_col].max()), "T_rms_error": float(np.sqrt(np.mean(error[:, T_col] ** 2))),
        "omega_C_max_error": float(error[:, T_col + 1].max()),
        "omega_C_rms_error": float(np.sqrt(np.mean(error[:, T_col + 1] ** 2))),
        "omega_C_scale": float(np.abs(truth_all[:, T_col + 1]).max()),
        "T_worst_Z": float(np.concatenate(at_Z)[worst]),
        "T_worst_chi_st": float(flamelets[int(np.concatenate(owner)[worst])].chi_st),
        "Y_max_relative_error": float(relative[k_worst]) if T_col else 0.0,
        "Y_worst_species": str(species[k_worst]) if T_col else "",
    }


def progress_monotonicity(flamelets: Sequence[Flamelet], s_curve_order: Sequence[int], Z: np.ndarray,
                          tolerance: float = MONOTONE_TOLERANCE) -> tuple[np.ndarray, float]:
    """At every Z node: 1 where C does not rise along the S-curve (flamelets in `s_curve_order`: the stable
    branch from low to high χ_st, the unstable branch down to the extinguished flamelet), so Λ names one
    flamelet; 0 where it does (the lookup is ambiguous there); -1 where C hardly varies (the inlets), which the
    table fills with the mean state. Also returns the largest rise found, as a fraction of the curve's C range.

    Both are judged against `tolerance` times the curve's whole C range (largest minus smallest C of all its
    flamelets), not the range at the node: near a pure stream C is nearly zero in every flamelet, and its
    reversals there, a fraction of that tiny local range, change no output. A rise of at most `tolerance` of the
    whole range moves Λ by less than that much wherever C varies, far below the spacing of the Λ nodes."""
    ordered = [flamelets[k] for k in s_curve_order]
    C = np.array([profile_at(f, f.C, Z) for f in ordered])
    inside = np.array([covers(f, Z) for f in ordered])
    C_range = max(max(float(f.C.max()) for f in ordered) - min(float(f.C.min()) for f in ordered), 1e-300)
    verdict = np.empty(len(Z), dtype=np.int8)
    worst = 0.0
    for i in range(len(Z)):
        c = C[inside[:, i], i]
        if c.max() - c.min() <= tolerance * C_range:
            verdict[i] = -1
            continue
        rise = float(np.max(np.diff(c))) / C_range
        verdict[i] = int(rise <= tolerance)
        worst = max(worst, rise)
    return verdict, worst


def output_units(species: Sequence[str]) -> Mapping[str, tuple[str, str]]:
    """{output name: (units, description)} in output order."""
    table = {f"Y_{s}": ("1", f"mass fraction of {s}") for s in species}
    table["T"] = ("K", "temperature")
    table["omega_C"] = ("kg/m^3/s", "source term of the progress variable C, sum_k c_k W_k omega_k")
    return table


def monotonicity_warning(Z: np.ndarray, verdict: np.ndarray, worst: float | None = None) -> list[str]:
    """A note for the build report naming the Z ranges where C rises along the S-curve (none if it never does);
    `worst`: the largest rise as a fraction of the C range, when known."""
    bad = np.flatnonzero(verdict == 0)
    if bad.size == 0:
        return []
    runs = np.split(bad, np.flatnonzero(np.diff(bad) > 1) + 1)
    ranges = ", ".join(f"{Z[r[0]]:.4g}-{Z[r[-1]]:.4g}" if len(r) > 1 else f"{Z[r[0]]:.4g}" for r in runs)
    by = f" by up to {worst:.3g} of its range" if worst is not None else ""
    return [f"warning: the progress variable rises along the S-curve{by} (more than {MONOTONE_TOLERANCE:g}) at "
            f"{bad.size} of {int(np.sum(verdict >= 0))} Z nodes where C varies (Z {ranges}): the (Z, Lambda) "
            "lookup is ambiguous there; choose another progress_variable"]
