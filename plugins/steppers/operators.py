"""Periodic difference operators on the last axis, unit spacing (torch): the structure matrices G of HNN++
(Matsubara et al. 2020). ``central`` is skew-symmetric (Gᵀ = -G: x·Gx = 0, energy conserved), ``second`` is
symmetric negative semi-definite (x·Gx ≤ 0, energy dissipated); both have zero column sums (mass conserved).
Written with slices and concatenation, which every ONNX exporter handles."""

from __future__ import annotations

import torch


def shift(u: torch.Tensor, by: int) -> torch.Tensor:
    """u_{k+by} on the periodic grid."""
    return torch.cat([u[..., by:], u[..., :by]], dim=-1)


def central(u: torch.Tensor) -> torch.Tensor:
    """(u_{k+1} - u_{k-1}) / 2."""
    return 0.5 * (shift(u, 1) - shift(u, -1))


def second(u: torch.Tensor) -> torch.Tensor:
    """u_{k+1} - 2 u_k + u_{k-1}."""
    return shift(u, 1) - 2.0 * u + shift(u, -1)


def backward(u: torch.Tensor) -> torch.Tensor:
    """u_k - u_{k-1}: the divergence of fluxes u_k at the cell faces k + 1/2."""
    return u - shift(u, -1)
