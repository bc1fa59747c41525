"""Collocation problems with exact solutions (``surrogate.problems`` entry points): what the ``pinn`` task and the
``pde`` physics loss ask the registry for.

Each equation names its inputs (space, then time), its parameters (typed options, so the table generator
offers them), the exact solution u(points) and the residual of the PDE at points, with derivatives taken by
automatic differentiation with respect to the physical inputs. The residual of the exact solution is zero to
round-off; Dirichlet data and initial states are the exact solution on the boundary (the contract's default
``conditions``).

Problems follow MMPINN (arXiv 2308.06672): multi-scale solutions whose residual dwarfs the boundary term.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch

from surrogate.contracts import Problem
from surrogate.derivatives import Derivatives
from surrogate.options import Option
from surrogate.ranges import ANY, POSITIVE, UNIT, Range

TWO_PI = 2.0 * math.pi


def partial(u: torch.Tensor, points: torch.Tensor, axis: int) -> torch.Tensor:
    """∂u/∂(points[:, axis]) per point, (n,), with the graph kept for higher derivatives and training."""
    return Derivatives(u, points).first(axis)


def second(u: torch.Tensor, points: torch.Tensor, axis: int) -> torch.Tensor:
    """∂²u/∂(points[:, axis])² per point, (n,)."""
    return Derivatives(u, points).second(axis)


class Equation(Problem):
    """A PDE on the unit box with an exact solution. ``points`` are (n, len(inputs)) physical coordinates in
    the order of ``inputs``; ``exact`` returns (n, 1); ``residual(points, u)`` returns (n,) and needs
    ``points.requires_grad`` with ``u`` computed from them."""

    formula: ClassVar[str] = ""
    spatial: ClassVar[tuple[str, ...]] = ("x",)

    @classmethod
    def domain(cls) -> dict[str, tuple[float, float]]:
        return {name: (0.0, 1.0) for name in cls.inputs()}


class PoissonMultiscale(Equation):
    """-u'' = f on [0, 1], u = sin 2πx + a sin 2πkx (MMPINN's 1-D case: k = 10, and k = 25 where plain MLPs
    fail from spectral bias), so f = (2π)² sin 2πx + a (2πk)² sin 2πkx: the residual scales as a k²."""

    description = "1-D Poisson, multi-scale exact solution sin 2πx + a sin 2πkx (MMPINN)"
    formula = "-u'' = f on [0, 1], u = sin(2 pi x) + a sin(2 pi k x)"
    options = (Option("k", 10.0, "frequency of the fine mode", bounds=POSITIVE),
               Option("a", 0.1, "amplitude of the fine mode", bounds=ANY))
    k: float
    a: float

    def exact(self, points: torch.Tensor) -> torch.Tensor:
        x = points[:, :1]
        return torch.sin(TWO_PI * x) + self.a * torch.sin(TWO_PI * self.k * x)

    def forcing(self, x: torch.Tensor) -> torch.Tensor:
        return TWO_PI ** 2 * torch.sin(TWO_PI * x) + self.a * (TWO_PI * self.k) ** 2 * torch.sin(TWO_PI * self.k * x)

    def residual(self, points: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return second(u, points, 0) + self.forcing(points[:, 0])


class SharpLayer(Equation):
    """-u'' = f on [0, 1], u = tanh((x - x0) / width): f = 2 tanh(s) sech²(s) / width² with s = (x - x0) / width
    is of order 1/width² inside the layer and vanishes away from it, so residual magnitudes differ by
    subdomain (MMPINN's case for grouping)."""

    description = "1-D Poisson with a steep tanh interior layer (residual magnitudes differ by subdomain)"
    formula = "-u'' = f on [0, 1], u = tanh((x - x0) / width)"
    options = (Option("x0", 0.5, "position of the layer", bounds=UNIT),
               Option("width", 0.02, "thickness of the layer", bounds=POSITIVE))
    x0: float
    width: float

    def exact(self, points: torch.Tensor) -> torch.Tensor:
        return torch.tanh((points[:, :1] - self.x0) / self.width)

    def residual(self, points: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        s = (points[:, 0] - self.x0) / self.width
        forcing = 2.0 * torch.tanh(s) / torch.cosh(s) ** 2 / self.width ** 2
        return second(u, points, 0) + forcing


class Poisson2D(Equation):
    """-(u_xx + u_yy) = f on [0, 1]², u = sin 2πx sin 2πy + a sin 2πkx sin 2πky (zero on the boundary for
    integer k): the 2-D analogue of ``poisson-multiscale``."""

    description = "2-D Poisson on the unit square, multi-scale exact solution"
    formula = "-(u_xx + u_yy) = f on [0, 1]^2, u = sin(2 pi x) sin(2 pi y) + a sin(2 pi k x) sin(2 pi k y)"
    spatial = ("x", "y")
    options = (Option("k", 4.0, "frequency of the fine mode", bounds=POSITIVE),
               Option("a", 0.1, "amplitude of the fine mode", bounds=ANY))
    k: float
    a: float

    def mode(self, points: torch.Tensor, k: float) -> torch.Tensor:
        return torch.sin(TWO_PI * k * points[:, :1]) * torch.sin(TWO_PI * k * points[:, 1:2])

    def exact(self, points: torch.Tensor) -> torch.Tensor:
        return self.mode(points, 1.0) + self.a * self.mode(points, self.k)

    def residual(self, points: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        forcing = 2 * TWO_PI ** 2 * self.mode(points, 1.0) + self.a * 2 * (TWO_PI * self.k) ** 2 * self.mode(points, self.k)
        return Derivatives(u, points).laplacian((0, 1)) + forcing[:, 0]  # ∇u taken once for both axes


class Heat(Equation):
    """u_t = nu u_xx on [0, 1] x [0, 1] (x, t), u = exp(-nu π² t) sin πx + a exp(-nu (kπ)² t) sin kπx: the fine
    mode decays k² times faster, so early and late times differ in scale (time-dependent case of the seed)."""

    description = "1-D heat equation u_t = nu u_xx, two decaying modes (exact solution)"
    formula = "u_t = nu u_xx on [0, 1] x [0, 1], u = exp(-nu pi^2 t) sin(pi x) + a exp(-nu (k pi)^2 t) sin(k pi x)"
    time = "t"
    options = (Option("nu", 0.05, "diffusivity", bounds=POSITIVE),
               Option("k", 4.0, "wave number of the fast mode (a whole number)", bounds=Range(1, whole=True)),
                  Option("a", 0.5, "amplitude of the fast mode", bounds=ANY))
    nu: float
    k: float
    a: float

    def exact(self, points: torch.Tensor) -> torch.Tensor:
        x, t = points[:, :1], points[:, 1:2]
        modes = [(1.0, 1.0), (self.k, self.a)]
        return sum(a * torch.exp(-self.nu * (k * math.pi) ** 2 * t) * torch.sin(k * math.pi * x) for k, a in modes)

    def residual(self, points: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        derivatives = Derivatives(u, points)  # ∇u taken once for u_t and u_xx
        return derivatives.first(1) - self.nu * derivatives.second(0)

