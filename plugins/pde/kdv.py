"""Korteweg–de Vries trajectories: two solitons that travel at different speeds and collide.

u_t + 6 u u_x + u_xxx = 0 is u_t = ∂x δH/δu with H = ∫ (-u³ + ½ u_x²) dx. On the periodic grid,
u_t = D (-3u² - D2 u) with D the central and D2 the second difference: D is skew-symmetric, so the discrete H
(forward differences for u_x) and the mass ∫u are conserved exactly in continuous time (Matsubara et al.
2020, whose data set this reproduces: length 10, 50 points, dt = 0.001, 500 steps; initial states
2k_i² sech²(k_i (x - d_i)) with k_i ~ U(0.5, 2), d_1 ~ U(0.2, 0.3) L, d_2 = d_1 + U(0.2, 0.5) L, mirrored
with probability ½). A soliton (c/2) sech²(√c/2 (x - ct)) travels at speed c = 4k².
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from surrogate.errors import UserError
from surrogate.options import Option
from surrogate.ranges import POSITIVE

from .functionals import GradientFunctional
from .periodic import PeriodicPDE, PeriodicProblem, common_options
from .stencils import central, second


def soliton(x: np.ndarray, speed: float, position: float, length: float) -> np.ndarray:
    """(c/2) sech²(√c/2 (x - x0)) on the periodic domain (the nearest image of x0)."""
    distance = (x - position + 0.5 * length) % length - 0.5 * length
    return 0.5 * speed / np.cosh(0.5 * np.sqrt(speed) * distance) ** 2


class KdV(PeriodicPDE):
    """Two-soliton KdV trajectories (collisions), mass and energy conserved to ~1e-10."""

    kind: ClassVar[str] = "kdv"
    description: ClassVar[str] = "KdV u_t + 6uu_x + u_xxx = 0, periodic, two colliding solitons (RK4 reference)"
    equation: ClassVar[str] = "u_t + 6 u u_x + u_xxx = 0"
    specific: ClassVar[tuple[Option, ...]] = (
        Option("k_min", 0.5, "smallest soliton wave number k (speed 4k², height 2k²)", bounds=POSITIVE),
        Option("k_max", 2.0, "largest soliton wave number k (above k_min)", bounds=POSITIVE),
    )
    options: ClassVar[tuple[Option, ...]] = common_options(length=10.0, dt=1e-3, substeps=10) + specific

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        if not options["k_min"] < options["k_max"]:
            raise UserError(f"table kind {cls.kind!r}: options k_min={options['k_min']!r}, k_max={options['k_max']!r}: "
                            "expected k_min < k_max")

    @staticmethod
    def rate(u: np.ndarray, dx: float, **physics: Any) -> np.ndarray:
        return central(-3.0 * u ** 2 - second(u, dx), dx)

    @staticmethod
    def initial_state(rng: np.random.Generator, x: np.ndarray, length: float, k_min: float = 0.5,
                      k_max: float = 2.0, **physics: Any) -> tuple[np.ndarray, dict[str, float]]:
        k1, k2 = rng.uniform(k_min, k_max, 2)
        d1 = rng.uniform(0.2, 0.3) * length
        d2 = d1 + rng.uniform(0.2, 0.5) * length
        u = soliton(x, 4 * k1 ** 2, d1, length) + soliton(x, 4 * k2 ** 2, d2, length)
        if rng.integers(2):
            u = np.roll(u[::-1], 1)  # mirror x -> -x on the grid, so the faster soliton may lead or follow
        return u, {"k1": float(k1), "k2": float(k2)}

    @staticmethod
    def functionals(**physics: Any) -> dict[str, GradientFunctional]:
        return {"mass": GradientFunctional({1: 1.0}, 0.0, "conserved", "mass ∫u dx"),
                "energy": GradientFunctional({3: -1.0}, 1.0, "conserved", "energy ∫(-u³ + u_x²/2) dx")}


class KdVProblem(PeriodicProblem):
    generator = KdV
    description = "KdV u_t + 6uu_x + u_xxx = 0 on a periodic grid; mass and energy conserved"
    options = KdV.specific
