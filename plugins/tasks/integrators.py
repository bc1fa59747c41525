"""Rollouts: how a learned vector field becomes a time-stepper, with the schemes of
:mod:`plugins.time_schemes` (Euler, explicit midpoint, RK4)."""

from __future__ import annotations

from typing import Callable

import torch

from plugins.time_schemes import SCHEMES

Field = Callable[[torch.Tensor], torch.Tensor]


@torch.no_grad()
def rollout(f: Field, u0: torch.Tensor, steps: int, h: float, integrator: str = "euler") -> torch.Tensor:
    """States (batch, steps + 1, M) from u0 (batch, M), `steps` integrator steps of size h."""
    step = SCHEMES[integrator]
    states = [u0]
    for _ in range(steps):
        states.append(step(f, states[-1], h))
    return torch.stack(states, dim=1)
