"""Judging predicted geometries in the units users care about (NumPy): Ghanaatian's (2024) MRE, energy, MSE,
bond lengths, the bond angle, a forward check by re-exploding the prediction, and the trivial baselines they
compare with.

Arrays are (n, 9): momenta p_C_x ... p_S_z (ħ/bohr) and positions C_x ... S_z (bohr), atoms C, O, S.
"""

from __future__ import annotations

import numpy as np

from .geometry import bonds_and_angle
from .physics import explode, kinetic_energy, potential_energy

FORWARD_ROWS = 4000  # rows re-exploded for the forward check (each costs one integration)
GUARD = 0.1  # bohr: the guarded relative error divides by max(|x|, GUARD)


def atoms(values: np.ndarray) -> np.ndarray:
    """(n, 9) -> (n, 3 atoms, 3)."""
    return np.asarray(values, dtype=np.float64).reshape(len(values), 3, 3)


def mre_percent(true: np.ndarray, predicted: np.ndarray) -> float:
    """Ghanaatian's (2024) MRE in %: mean over every coordinate of |x̂ - x| / |x| × 100 (predicting zeros gives
    exactly 100; a coordinate near zero weighs a lot, as in Ghanaatian 2024)."""
    return float(100.0 * np.mean(np.abs(predicted - true) / np.abs(true)))


def energy_error(momenta: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """|K - U| / K per row: kinetic energy of the momenta against the Coulomb energy of the predicted geometry."""
    kinetic = kinetic_energy(atoms(momenta))
    return np.abs(kinetic - potential_energy(atoms(predicted))) / kinetic


def forward_error(momenta: np.ndarray, predicted: np.ndarray) -> float:
    """Mean of |p(x̂) - p| / |p| in %: re-explode the predicted geometry (first FORWARD_ROWS rows) and compare
    its momenta (9-vectors) with the given ones."""
    n = min(len(momenta), FORWARD_ROWS)
    again, _ = explode(atoms(predicted[:n]))
    return float(100.0 * np.mean(np.linalg.norm(again.reshape(n, -1) - momenta[:n], axis=1)
                                 / np.linalg.norm(momenta[:n], axis=1)))


def geometry_metrics(momenta: np.ndarray, true: np.ndarray, predicted: np.ndarray,
                     forward: bool = True) -> dict[str, float]:
    """Every measure of predicted geometries against the true ones."""
    r_co, r_cs, angle = bonds_and_angle(atoms(true))
    q_co, q_cs, q_angle = bonds_and_angle(atoms(predicted))
    result = {
        "mre_percent": mre_percent(true, predicted),
        "guarded_mre_percent": float(100.0 * np.mean(np.abs(predicted - true) / np.maximum(np.abs(true), GUARD))),
        "energy_error": float(np.mean(energy_error(momenta, predicted))),
        "mse_bohr2": float(np.mean((predicted - true) ** 2)),
        "bond_error_percent": float(50.0 * np.mean(np.abs(q_co - r_co) / r_co + np.abs(q_cs - r_cs) / r_cs)),
        "angle_error_deg": float(np.mean(np.abs(q_angle - angle))),
    }
    if forward:
        result["forward_error_percent"] = forward_error(momenta, predicted)
    return result


def baselines(train: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Trivial predictions: all coordinates zero (MRE exactly 100 %), and the training mean bond lengths and
    angle for every molecule."""
    r_co, r_cs, angle = bonds_and_angle(atoms(true))
    t_co, t_cs, t_angle = bonds_and_angle(atoms(train))
    return {
        "mre_percent": mre_percent(true, np.zeros_like(true)),
        "mse_bohr2": float(np.mean(true**2)),
        "bond_error_percent": float(50.0 * np.mean(np.abs(t_co.mean() - r_co) / r_co
                                                   + np.abs(t_cs.mean() - r_cs) / r_cs)),
        "angle_error_deg": float(np.mean(np.abs(t_angle.mean() - angle))),
    }
