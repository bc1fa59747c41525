"""Boundary and initial conditions built into the network (``--constraints hard`` of a collocation problem).

u(x) = g(x) + D(x) N(x): D vanishes on the Dirichlet faces (both ends of every spatial axis) and at the initial
time, so u meets the conditions exactly whatever the network N gives, and training sees the PDE residual alone.
g is the transfinite interpolation of the conditions (the Boolean sum of one projector per axis: linear between
the two faces of a spatial axis, the initial state along time), built from the same Dirichlet data the soft
boundary terms compare with: the problem's ``conditions`` evaluated on the faces. With soft conditions the
boundary term competes with the residual, and a power-transformed residual weighs more as it shrinks, so the
boundary is given up (2-D Poisson, README benchmarks); here there is nothing to give up.
"""

from __future__ import annotations

import itertools
from typing import Callable, Sequence

import torch
from torch import nn

from surrogate.contracts import Problem


class HardConstraints(nn.Module):
    """The network's output made to meet the conditions: ``forward`` takes inputs scaled to [-1, 1] per axis
    (the PINN task's model space) and returns u."""

    def __init__(self, network: nn.Module, problem: Problem, ranges: Sequence[Sequence[float]],
                 spatial: Sequence[int], time_axis: int | None):
        super().__init__()
        self.network = network
        self.problem = problem
        self.register_buffer("lo", torch.tensor([r[0] for r in ranges], dtype=torch.float64))
        self.register_buffer("span", torch.tensor([r[1] - r[0] for r in ranges], dtype=torch.float64))
        self.spatial, self.time_axis = list(spatial), time_axis
        self.axes = [*self.spatial, *([time_axis] if time_axis is not None else [])]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.constrain(self.network, x)

    def constrain(self, network: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """g + D · network(x) at scaled inputs x (the trainer's forward function in training, which may wrap the
        network for data parallelism)."""
        unit = (x + 1) / 2  # [0, 1] per axis
        physical = self.lo.to(x.dtype) + self.span.to(x.dtype) * unit
        distance = torch.ones_like(unit[:, :1])
        for axis in self.spatial:
            distance = distance * 4 * unit[:, axis:axis + 1] * (1 - unit[:, axis:axis + 1])
        if self.time_axis is not None:
            distance = distance * unit[:, self.time_axis:self.time_axis + 1]
        return self.lift(physical, unit) + distance * network(x)

    def lift(self, physical: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
        """g = (I - prod_i (I - P_i)) u_data = sum over non-empty axis sets S of (-1)^(|S|+1) P_S u_data, P_S
        the projectors of the axes in S applied together."""
        total = torch.zeros_like(unit[:, :1])
        for size in range(1, len(self.axes) + 1):
            for subset in itertools.combinations(self.axes, size):
                total = total + (-1) ** (size + 1) * self.projected(subset, physical, unit)
        return total

    def projected(self, axes: Sequence[int], physical: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
        """P_S u_data: the data at every combination of faces of the axes in S, weighted linearly along each
        spatial axis (1 - s at its low face, s at its high face) and with weight 1 at the initial time."""
        faces = [((0.0, 1 - unit[:, a:a + 1]), (1.0, unit[:, a:a + 1])) if a != self.time_axis
                 else ((0.0, torch.ones_like(unit[:, :1])),) for a in axes]
        total = torch.zeros_like(unit[:, :1])
        for choice in itertools.product(*faces):
            columns = [physical[:, i:i + 1] for i in range(physical.shape[1])]
            weight = torch.ones_like(unit[:, :1])
            for axis, (end, factor) in zip(axes, choice):
                value = self.lo[axis] + end * self.span[axis]
                columns[axis] = torch.full_like(columns[axis], float(value))
                weight = weight * factor
            total = total + weight * self.problem.conditions(torch.cat(columns, dim=1))
        return total
