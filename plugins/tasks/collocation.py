"""Collocation points in a box domain: interior points, points on faces (spatial boundary, initial time) and
the dense grid on which a solution is judged.

``uniform`` points lie on a tensor grid (about n^(1/d) per axis, interior grids without the box's faces);
``random`` and ``resample`` points are uniform random draws (the task draws ``random`` once and
``resample`` each epoch). Every function returns (points, len(ranges)) tensors in the requested dtype.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from surrogate.options import Option
from surrogate.ranges import COUNT

SAMPLINGS = ("uniform", "random", "resample")
CONSTRAINTS = ("soft", "hard")
OPTIONS = (  # how a problem is sampled: table generator options, stored in the dataset's problem attribute
    Option("points", 1000, "interior collocation points", bounds=COUNT),
    Option("boundary_points", 256, "points on the spatial boundary (1-D problems use the two ends)",
           bounds=COUNT),
    Option("initial_points", 256, "points at the initial time (time-dependent problems)", bounds=COUNT),
    Option("sampling", "uniform", "uniform grid, random once, or resample each epoch", choices=SAMPLINGS),
    Option("constraints", "soft", "boundary and initial conditions as loss terms (soft) or built into the "
           "network, u = g + D N (hard: the loss is the residual alone)", choices=CONSTRAINTS),
)
Ranges = Sequence[tuple[float, float]]


def per_axis(n: int, dims: int) -> int:
    """Grid points per axis for about n points in `dims` dimensions."""
    return max(1, math.ceil(n ** (1.0 / dims) - 1e-9))


def box(ranges: Ranges, n: int, how: str, generator: torch.Generator | None, dtype: torch.dtype,
        inner: bool = False) -> torch.Tensor:
    """About n points in the box `ranges`: a grid (without the faces when `inner`) or uniform random draws.
    A box of no dimension is one point with no coordinate."""
    if not ranges:
        return torch.empty(1, 0, dtype=dtype)
    if how == "uniform":
        m = per_axis(n, len(ranges))
        axes = [torch.linspace(lo, hi, m + 2, dtype=dtype)[1:-1] if inner else torch.linspace(lo, hi, m, dtype=dtype)
                for lo, hi in ranges]
        return torch.cartesian_prod(*axes).reshape(-1, len(ranges))
    lo = torch.tensor([r[0] for r in ranges], dtype=dtype)
    span = torch.tensor([r[1] - r[0] for r in ranges], dtype=dtype)
    return lo + span * torch.rand(n, len(ranges), generator=generator, dtype=dtype)


def face(ranges: Ranges, axis: int, value: float, n: int, how: str, generator: torch.Generator | None,
         dtype: torch.dtype) -> torch.Tensor:
    """About n points on the face where coordinate `axis` equals `value`, the other coordinates in the box."""
    others = box([r for i, r in enumerate(ranges) if i != axis], n, how, generator, dtype)
    column = torch.full((len(others), 1), float(value), dtype=dtype)
    return torch.cat([others[:, :axis], column, others[:, axis:]], dim=1)


def boundary(ranges: Ranges, spatial: Sequence[int], n: int, how: str, generator: torch.Generator | None,
             dtype: torch.dtype) -> torch.Tensor:
    """About n points spread over both faces of every spatial axis (the two ends of a 1-D interval)."""
    share = max(1, n // (2 * len(spatial)))
    return torch.cat([face(ranges, axis, ranges[axis][side], share, how, generator, dtype)
                      for axis in spatial for side in (0, 1)])


def grid(ranges: Ranges, n: int, dtype: torch.dtype) -> tuple[torch.Tensor, list[int]]:
    """A grid of about n points over the closed box and its points per axis (to reshape fields for plots)."""
    return box(ranges, n, "uniform", None, dtype), [per_axis(n, len(ranges))] * len(ranges)
