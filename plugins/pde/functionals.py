"""Discrete energy-type functionals of a periodic 1-D field, described by a few numbers: the periodic problems
(:class:`plugins.pde.periodic.PeriodicProblem`) hand them to any task that evaluates predicted states.

    F[u] = dx * sum_k ( sum_p c_p u_k^p  +  kappa/2 ((u_{k+1} - u_k) / dx)^2 )

covers mass (c_1 = 1), the KdV Hamiltonian (c_3 = -1, kappa = 1) and the Cahn–Hilliard free energy
(c_2 = -1/2, c_4 = 1/4, kappa = gamma) of Matsubara et al. (2020). ``law`` says what the exact dynamics does
with it: ``conserved`` or ``dissipated`` (non-increasing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class GradientFunctional:
    """dx * sum_k (sum_p c_p u_k^p + kappa/2 (forward difference of u)^2), on the last axis of u."""

    powers: Mapping[int, float]
    kappa: float = 0.0
    law: str = "conserved"
    description: str = ""

    def __call__(self, u: np.ndarray, dx: float) -> np.ndarray:
        density = sum(c * u ** p for p, c in self.powers.items())
        if self.kappa:
            density = density + 0.5 * self.kappa * ((np.roll(u, -1, axis=-1) - u) / dx) ** 2
        return dx * np.sum(density, axis=-1)


def relative_drift(values: np.ndarray) -> float:
    """Largest |F(t) - F(0)| over every trajectory (rows) and time (columns), relative to that trajectory's
    largest |F|: the conservation error of a conserved quantity."""
    scale = np.maximum(np.abs(values).max(axis=1), np.finfo(float).tiny)
    return float((np.abs(values - values[:, :1]).max(axis=1) / scale).max())


def largest_increase(values: np.ndarray) -> float:
    """Largest F(t+1) - F(t) over every trajectory and step (<= 0 when F never increases)."""
    return float(np.diff(values, axis=1).max())
