"""Cahn–Hilliard trajectories: small random noise separates into phases ±1 that coarsen.

u_t = ∂²(u³ - u - γ ∂²u) is u_t = ∂² δH/δu with the free energy H = ∫ (u⁴/4 - u²/2 + γ/2 u_x²) dx. On the
periodic grid, u_t = D2 (u³ - u - γ D2 u) with D2 the second difference (symmetric, negative semi-definite):
mass is conserved and the discrete H never increases (Matsubara et al. 2020, whose data set this reproduces:
length 1, 50 points, γ = 0.0005, dt = 1e-4, 500 steps, u(0) ~ U(-0.05, 0.05) at each point).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from surrogate.options import Option
from surrogate.ranges import POSITIVE

from .functionals import GradientFunctional
from .periodic import PeriodicPDE, PeriodicProblem, common_options
from .stencils import second


class CahnHilliard(PeriodicPDE):
    """Phase separation from noise; mass conserved, free energy non-increasing."""

    kind: ClassVar[str] = "cahn-hilliard"
    description: ClassVar[str] = "Cahn–Hilliard u_t = ∂²(u³ - u - γ∂²u), periodic, from small noise (RK4 reference)"
    equation: ClassVar[str] = "u_t = d2/dx2 (u^3 - u - gamma d2u/dx2)"
    specific: ClassVar[tuple[Option, ...]] = (
        Option("gamma", 5e-4, "γ: squared interface width", bounds=POSITIVE),
        Option("noise", 0.05, "initial states are uniform in [-noise, noise] at each point", bounds=POSITIVE),
    )
    options: ClassVar[tuple[Option, ...]] = common_options(length=1.0, dt=1e-4, substeps=5) + specific

    @staticmethod
    def rate(u: np.ndarray, dx: float, gamma: float = 5e-4, **physics: Any) -> np.ndarray:
        return second(u ** 3 - u - gamma * second(u, dx), dx)

    @staticmethod
    def initial_state(rng: np.random.Generator, x: np.ndarray, length: float, noise: float = 0.05,
                      **physics: Any) -> tuple[np.ndarray, dict[str, float]]:
        return rng.uniform(-noise, noise, len(x)), {}

    @staticmethod
    def functionals(gamma: float = 5e-4, **physics: Any) -> dict[str, GradientFunctional]:
        return {"mass": GradientFunctional({1: 1.0}, 0.0, "conserved", "mass ∫u dx"),
                "energy": GradientFunctional({2: -0.5, 4: 0.25}, gamma, "dissipated",
                                             "free energy ∫(u⁴/4 - u²/2 + γ u_x²/2) dx")}


class CahnHilliardProblem(PeriodicProblem):
    generator = CahnHilliard
    description = "Cahn–Hilliard u_t = ∂²(u³ - u - γ∂²u), periodic; mass conserved, free energy dissipated"
    options = CahnHilliard.specific
