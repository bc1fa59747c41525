"""Classical RK4 with sub-steps: the reference time integrator of the generators (Matsubara et al. solve the
same semi-discretizations with an implicit energy-preserving scheme; explicit RK4 with small sub-steps
conserves the discrete invariants to ~1e-10 on the reference configuration, which the tests check)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from plugins.time_schemes import rk4

Rate = Callable[[np.ndarray], np.ndarray]


def rk4_trajectories(rate: Rate, u0: np.ndarray, dt: float, steps: int, substeps: int) -> np.ndarray:
    """States (trajectory, steps + 1, M) every `dt` from u0 (trajectory, M), each interval in `substeps` RK4
    steps (all trajectories advance together, vectorized)."""
    states = np.empty((u0.shape[0], steps + 1, u0.shape[1]))
    states[:, 0] = u = u0
    h = dt / substeps
    for n in range(steps):
        for _ in range(substeps):
            u = rk4(rate, u, h)
        states[:, n + 1] = u
    return states
