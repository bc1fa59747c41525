"""Geometries of OCS to explode, and the internal coordinates used to judge predicted ones (NumPy only).

Positions are arrays (n, 3 atoms, 3) in bohr, atoms in the order C, O, S, centre of mass at the origin, each
molecule turned by a uniformly random rotation (the momenta then carry the orientation, as measured ones do).

Two distributions (Ghanaatian 2024 names them "random" and "sim"; it does not give their parameters, these are ours):

- ``random``: bond lengths r_CO uniform in [0.8, 1.2] × 2.19 bohr, r_CS uniform in [0.8, 1.2] × 2.95 bohr, the
  O-C-S angle uniform in [100°, 180°];
- ``sim``: thermal vibration around the linear equilibrium, r_CO ~ N(2.19, 0.045²), r_CS ~ N(2.95, 0.06²) bohr
  (about 2 % spread, so a constant bond length is off by ~1.7 % on average), and a bend of the O-C-S angle
  from 180° by |δ| with δ a two-dimensional isotropic normal of 10° per component (Rayleigh-distributed |δ|).
"""

from __future__ import annotations

import numpy as np

from .physics import MASSES

R_CO, R_CS = 2.19, 2.95  # equilibrium bond lengths of OCS, bohr
RANDOM_SPREAD = 0.2  # random: bond lengths within ±20 % of equilibrium
RANDOM_ANGLE = (100.0, 180.0)  # random: O-C-S angle range, degrees
SIM_SIGMA = (0.045, 0.06)  # sim: standard deviations of r_CO and r_CS, bohr
SIM_BEND = 10.0  # sim: standard deviation of each bending component, degrees
DISTRIBUTIONS = ("random", "sim")


def internal_coordinates(rng: np.random.Generator, n: int, distribution: str) -> tuple[np.ndarray, ...]:
    """(r_CO, r_CS, angle O-C-S in radians) of n molecules drawn from `distribution`."""
    if distribution == "random":
        r_co = rng.uniform(1 - RANDOM_SPREAD, 1 + RANDOM_SPREAD, n) * R_CO
        r_cs = rng.uniform(1 - RANDOM_SPREAD, 1 + RANDOM_SPREAD, n) * R_CS
        angle = np.radians(rng.uniform(*RANDOM_ANGLE, n))
    elif distribution == "sim":
        r_co = rng.normal(R_CO, SIM_SIGMA[0], n)
        r_cs = rng.normal(R_CS, SIM_SIGMA[1], n)
        angle = np.pi - np.radians(np.hypot(*rng.normal(0.0, SIM_BEND, (2, n))))
    else:
        raise ValueError(f"unknown distribution {distribution!r}; expected one of {DISTRIBUTIONS}")
    return r_co, r_cs, angle


def random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    """n rotation matrices (n, 3, 3) uniform on SO(3), from unit quaternions uniform on the 3-sphere."""
    q = rng.standard_normal((n, 4))
    w, x, y, z = (q / np.linalg.norm(q, axis=1, keepdims=True)).T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
    ], axis=1)


def centred(positions: np.ndarray, masses: np.ndarray = MASSES) -> np.ndarray:
    """Positions moved so that the centre of mass of every row is at the origin."""
    centre = np.sum(masses[:, None] * positions, axis=1, keepdims=True) / masses.sum()
    return positions - centre


def sample_geometries(rng: np.random.Generator, n: int, distribution: str) -> np.ndarray:
    """n geometries (n, 3, 3): C at the origin, O on +x, S in the xy plane at the drawn angle, then centred and
    turned by a random rotation."""
    r_co, r_cs, angle = internal_coordinates(rng, n, distribution)
    positions = np.zeros((n, 3, 3))
    positions[:, 1, 0] = r_co
    positions[:, 2, 0] = r_cs * np.cos(angle)
    positions[:, 2, 1] = r_cs * np.sin(angle)
    return np.einsum("nij,naj->nai", random_rotations(rng, n), centred(positions))


def bonds_and_angle(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(r_CO, r_CS, O-C-S angle in degrees) of positions (n, 3, 3)."""
    co = positions[:, 1] - positions[:, 0]
    cs = positions[:, 2] - positions[:, 0]
    r_co, r_cs = np.linalg.norm(co, axis=-1), np.linalg.norm(cs, axis=-1)
    cosine = np.clip(np.sum(co * cs, axis=-1) / (r_co * r_cs), -1.0, 1.0)
    return r_co, r_cs, np.degrees(np.arccos(cosine))
