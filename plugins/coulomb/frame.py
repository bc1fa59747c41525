"""The momentum frame: an orthonormal frame built from the three asymptotic momenta (torch).

An explosion from rest with the centre of mass at the origin is planar: every position and every momentum lies
in one plane through the origin, and that plane (and an orientation in it) is fixed by the momenta. So a model
can predict a geometry's in-plane coordinates in a frame built from the measured momenta, and the lab positions
follow by rotating back (the ``cvae`` task does that for any problem that offers a frame): the orientation, which
no network should have to learn, is exact by construction.

    e1 = unit(p_S - p_O)            (the axis the two heavy ends fly apart along)
    e2 = unit(p_C - (p_C · e1) e1)  (the carbon recoil across it: carries the bend)
    e3 = e1 × e2                    (normal to the plane; every coordinate along it is zero)

Atoms are in the order C, O, S. For an exactly linear molecule e2 is undefined and the in-plane coordinate
along it is zero, so the geometry is still recovered.
"""

from __future__ import annotations

import torch

TINY = 1e-30  # floor of a norm: keeps the frame finite (and differentiable) for an exactly linear molecule


def unit(v: torch.Tensor) -> torch.Tensor:
    return v / torch.linalg.vector_norm(v, dim=-1, keepdim=True).clamp_min(TINY)


def momentum_frame(momenta: torch.Tensor) -> torch.Tensor:
    """Frames (n, 3, 3) whose rows are e1, e2, e3, from momenta (n, 3 atoms C/O/S, 3)."""
    p_c, p_o, p_s = momenta.unbind(dim=1)
    e1 = unit(p_s - p_o)
    e2 = unit(p_c - (p_c * e1).sum(dim=-1, keepdim=True) * e1)
    return torch.stack([e1, e2, torch.linalg.cross(e1, e2)], dim=1)
