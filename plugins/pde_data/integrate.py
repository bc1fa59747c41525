"""Classical RK4 with sub-steps: the reference time integrator of the generators (Matsubara et al. solve the
same semi-discretizations with an implicit energy-preserving scheme; explicit RK4 with small sub-steps
conserves the discrete invariants to ~1e-10 on the reference configuration, which the tests check)."""

from __future__ import annotations

from typing import Callable

import numpy as np

Rate = Callable[[np.ndarray], np.ndarray]


def rk4_step(rate: Rate, u: np.ndarray, h: float) -> np.ndarray:
    k1 = rate(u)
    k2 = rate(u + 0.5 * h * k1)
    k3 = rate(u + 0.5 * h * k2)
    k4 = rate(u + h * k3)
    return u + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def rk4_trajectories(rate: Rate, u0: np.ndarray, dt: float, steps: int, substeps: int) -> np.ndarray:
    """States (trajectory, steps + 1, M) every `dt` from u0 (trajectory, M), each interval in `substeps` RK4
    steps (all trajectories advance together, vectorized)."""
    states = np.empty((u0.shape[0], steps + 1, u0.shape[1]))
    states[:, 0] = u = u0
    h = dt / substeps
    for n in range(steps):
        for _ in range(substeps):
            u = rk4_step(rate, u, h)
        states[:, n + 1] = u
    return states
