"""Periodic finite differences on the last axis (NumPy): the semi-discretizations of Matsubara et al. (2020),
whose central first difference is skew-symmetric and whose second difference is symmetric negative
semi-definite, so the discrete energy laws hold exactly in continuous time."""

from __future__ import annotations

import numpy as np


def central(u: np.ndarray, dx: float) -> np.ndarray:
    """(u_{k+1} - u_{k-1}) / (2 dx)."""
    return (np.roll(u, -1, axis=-1) - np.roll(u, 1, axis=-1)) / (2.0 * dx)


def second(u: np.ndarray, dx: float) -> np.ndarray:
    """(u_{k+1} - 2 u_k + u_{k-1}) / dx^2."""
    return (np.roll(u, -1, axis=-1) - 2.0 * u + np.roll(u, 1, axis=-1)) / dx ** 2
