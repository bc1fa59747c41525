"""Flamelets resampled in mixture fraction: the scattered (Z, C, χ) points and the structured (Z, Λ) table.

Structured table, HDF5 group ``/structured`` (flamelet/progress-variable form, Pierce & Moin 2004, J. Fluid
Mech. 504; Ihme & Pitsch 2008, Combust. Flame 155), written for a single S-curve:

- ``/structured/Z``       (nZ,)  mixture-fraction axis, 0..1, clustered around Z_st (see :func:`z_nodes`);
- ``/structured/Lambda``  (nL,)  normalized progress variable axis, uniform 0..1;
- ``/structured/C_min``, ``/structured/C_max``  (nZ,)  C of the least- and the most-burning flamelet at each Z
  (the frozen-chemistry flamelet gives C_min = 0 where it is present); Λ = (C - C_min) / (C_max - C_min);
- ``/structured/outputs/<name>``  (nZ, nL)  every output of the scattered table (``Y_<species>``, ``T``,
  ``omega_C``) with ``units`` and ``description`` attributes.

A lookup at (Z, C) computes Λ from C_min(Z), C_max(Z) and interpolates multilinearly on (Z, Λ), e.g. with
``scipy.interpolate.RegularGridInterpolator((Z, Lambda), outputs[name])``. Built as follows: at each Z node
every flamelet that spans that Z is interpolated linearly in Z; its C gives its Λ; outputs are then
interpolated linearly in Λ between the flamelets sorted by Λ. Where C_max - C_min is below 1e-12 (the
inlets) all flamelets are in the same state and their mean fills the Λ row.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from .flamelet import Flamelet

Z_COVER_TOL = 1e-3


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


def structured_table(
    flamelets: Sequence[Flamelet], Z: np.ndarray, n_lambda: int, species_index: Sequence[int]
) -> dict[str, np.ndarray]:
    """C_min, C_max (nZ,) and outputs (nZ, nL, n_outputs) on the (Z, Λ) grid described in the module docstring."""
    Lambda = np.linspace(0.0, 1.0, n_lambda)
    n_out = len(species_index) + 2
    C_min = np.empty(len(Z))
    C_max = np.empty(len(Z))
    outputs = np.empty((len(Z), n_lambda, n_out))
    per_flamelet = [
        (covers(f, Z), profile_at(f, f.C, Z), profile_at(f, flamelet_outputs(f, species_index), Z)) for f in flamelets
    ]
    for i in range(len(Z)):
        C = np.array([c[i] for mask, c, _ in per_flamelet if mask[i]])
        out = np.array([o[i] for mask, _, o in per_flamelet if mask[i]])
        C_min[i], C_max[i] = C.min(), C.max()
        span = C_max[i] - C_min[i]
        if span < 1e-12:
            outputs[i] = out.mean(axis=0)
            continue
        lam = (C - C_min[i]) / span
        order = np.argsort(lam, kind="stable")
        for j in range(n_out):
            outputs[i, :, j] = np.interp(Lambda, lam[order], out[order, j])
    return {"Z": Z, "Lambda": Lambda, "C_min": C_min, "C_max": C_max, "outputs": outputs}


def output_units(species: Sequence[str]) -> Mapping[str, tuple[str, str]]:
    """{output name: (units, description)} in output order."""
    table = {f"Y_{s}": ("1", f"mass fraction of {s}") for s in species}
    table["T"] = ("K", "temperature")
    table["omega_C"] = ("kg/m^3/s", "source term of the progress variable C, sum_k c_k W_k omega_k")
    return table
