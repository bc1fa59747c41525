"""Derivatives of a network's output u with respect to the points it was computed at, for the residuals of
differential equations (physics-informed training).

Two ways, with the same results to round-off:

- **Taylor mode (forward)**, :func:`with_derivatives`: for a network that is a chain of linear layers and tanh
  (the ``mlp`` model), u, ∂u/∂x_a and ∂²u/∂x_a² along every input axis a are carried through the layers
  together (Griewank & Walther, *Evaluating Derivatives*, 2008, ch. 13): a linear layer maps each derivative by
  its weight matrix, and tanh maps (v, v', v'') to (t, s v', s v'' − 2 t s v'²) with t = tanh v, s = 1 − t². One
  forward pass then yields every derivative a residual needs, and training takes a single backward pass through
  it, instead of a reverse pass per derivative each kept in the graph and differentiated again.
- **Reverse mode**, the fallback for any other network (and for u computed without
  :func:`with_derivatives`): the whole gradient ∇u at every point in one backward pass, and a pure second
  derivative ∂²u/∂x_a² one more pass over the a-th component of that gradient, each kept in the graph. A
  residual that needs several derivatives of one u takes ∇u once (the Laplacian in d dimensions costs d + 1
  passes, not 2d).

A residual asks :class:`Derivatives` ``(u, points)`` and gets whichever u carries. Each point's derivatives
are its own: the network must treat the rows of a batch independently (no batch normalization).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Jet = tuple[torch.Tensor, torch.Tensor | None]  # a direction's first and second derivative; None: zero


class Derivatives:
    """First and pure second derivatives of u (n, 1) with respect to points (n, d), each computed once: read
    from u when :func:`with_derivatives` computed it at these points, else by reverse mode."""

    def __init__(self, u: torch.Tensor, points: torch.Tensor):
        self.u, self.points = u, points
        self._gradient: torch.Tensor | None = None
        self._second: dict[int, torch.Tensor] = {}
        carried = getattr(u, "taylor", None)
        self.taylor: list[Jet] | None = carried[1] if carried is not None and carried[0] is points else None

    @property
    def gradient(self) -> torch.Tensor:
        """∇u per point, (n, d), with the graph kept for higher derivatives and training."""
        if self._gradient is None:
            if self.taylor is not None:
                self._gradient = torch.cat([first for first, _ in self.taylor], dim=1)
            else:
                (self._gradient,) = torch.autograd.grad(self.u, self.points, grad_outputs=torch.ones_like(self.u),
                                                        create_graph=True)
        return self._gradient

    def first(self, axis: int) -> torch.Tensor:
        """∂u/∂(points[:, axis]) per point, (n,)."""
        if self.taylor is not None:
            return self.taylor[axis][0][:, 0]
        return self.gradient[:, axis]

    def second(self, axis: int) -> torch.Tensor:
        """∂²u/∂(points[:, axis])² per point, (n,)."""
        if axis not in self._second:
            if self.taylor is not None:
                second = self.taylor[axis][1]
                self._second[axis] = torch.zeros_like(self.u[:, 0]) if second is None else second[:, 0]
            else:
                first = self.first(axis)
                (hessian_row,) = torch.autograd.grad(first, self.points, grad_outputs=torch.ones_like(first),
                                                     create_graph=True)
                self._second[axis] = hessian_row[:, axis]
        return self._second[axis]

    def laplacian(self, axes: tuple[int, ...]) -> torch.Tensor:
        """Σ_a ∂²u/∂x_a² over `axes`, (n,)."""
        return sum((self.second(axis) for axis in axes[1:]), self.second(axes[0]))


def taylor_layers(network: nn.Module) -> list[nn.Module] | None:
    """The layers of a network Taylor mode can carry derivatives through (linear, tanh, identity, in nested
    sequences), in order; None for any other network."""
    if isinstance(network, nn.Sequential):
        layers: list[nn.Module] = []
        for module in network:
            inner = taylor_layers(module)
            if inner is None:
                return None
            layers += inner
        return layers
    return [network] if isinstance(network, (nn.Linear, nn.Tanh, nn.Identity)) else None


def taylor_forward(layers: list[nn.Module], x: torch.Tensor, directions: list[Jet]) -> tuple[torch.Tensor, list[Jet]]:
    """The layers' output at x and its first and second derivative along each direction, given x's own."""
    for layer in layers:
        if isinstance(layer, nn.Linear):
            x = layer(x)
            directions = [(F.linear(first, layer.weight), None if second is None else F.linear(second, layer.weight))
                          for first, second in directions]
        elif isinstance(layer, nn.Tanh):
            x = torch.tanh(x)
            slope = 1.0 - x * x  # tanh' = 1 - tanh², tanh'' = -2 tanh tanh'
            carried = []
            for first, second in directions:
                steeper = slope * first
                bend = x * steeper  # tanh'' v'² = -2 (tanh) (tanh' v') v'
                carried.append((steeper, -2.0 * bend * first if second is None
                                else torch.addcmul(slope * second, bend, first, value=-2.0)))
            directions = carried
    return x, directions


def with_derivatives(network: nn.Module, x: torch.Tensor, points: torch.Tensor,
                     slopes: torch.Tensor | None) -> torch.Tensor:
    """u = network(x) for x computed from `points` per axis, x_a = slopes_a · points_a + c_a, carrying ∂u/∂points_a
    and ∂²u/∂points_a² along every axis a (Taylor mode) when the network is a chain :func:`taylor_layers` knows;
    plain u, whose derivatives :class:`Derivatives` takes by reverse mode, for any other network or when x is not
    such a map of the points (`slopes` None)."""
    layers = None if slopes is None else taylor_layers(network)
    if layers is None or slopes is None:
        return network(x)
    directions: list[Jet] = []
    for axis in range(points.shape[1]):
        seed = torch.zeros_like(x)
        seed[:, axis] = slopes[axis]
        directions.append((seed, None))
    u, directions = taylor_forward(layers, x, directions)
    u.taylor = (points, directions)
    return u
