"""Derivatives of a network's output u with respect to the points it was computed at, for the residuals of
differential equations (physics-informed training).

Reverse-mode automatic differentiation yields the whole gradient ∇u at every point in one backward pass, and a
pure second derivative ∂²u/∂x_a² one more pass over the a-th component of that gradient. A residual that needs
several derivatives of one u (u_xx + u_yy, or u_t and u_xx) should therefore take ∇u once and reuse it:
:class:`Derivatives` does, so the Laplacian in d dimensions costs d + 1 backward passes instead of 2d (each
kept in the graph, as training differentiates the residual again with respect to the parameters).
"""

from __future__ import annotations

import torch


class Derivatives:
    """First and pure second derivatives of u (n, 1) with respect to points (n, d), each computed once."""

    def __init__(self, u: torch.Tensor, points: torch.Tensor):
        self.u, self.points = u, points
        self._gradient: torch.Tensor | None = None
        self._second: dict[int, torch.Tensor] = {}

    @property
    def gradient(self) -> torch.Tensor:
        """∇u per point, (n, d), with the graph kept for higher derivatives and training."""
        if self._gradient is None:
            (self._gradient,) = torch.autograd.grad(self.u, self.points, grad_outputs=torch.ones_like(self.u),
                                                    create_graph=True)
        return self._gradient

    def first(self, axis: int) -> torch.Tensor:
        """∂u/∂(points[:, axis]) per point, (n,)."""
        return self.gradient[:, axis]

    def second(self, axis: int) -> torch.Tensor:
        """∂²u/∂(points[:, axis])² per point, (n,)."""
        if axis not in self._second:
            first = self.first(axis)
            (hessian_row,) = torch.autograd.grad(first, self.points, grad_outputs=torch.ones_like(first),
                                                 create_graph=True)
            self._second[axis] = hessian_row[:, axis]
        return self._second[axis]

    def laplacian(self, axes: tuple[int, ...]) -> torch.Tensor:
        """Σ_a ∂²u/∂x_a² over `axes`, (n,)."""
        return sum((self.second(axis) for axis in axes[1:]), self.second(axes[0]))
