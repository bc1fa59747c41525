"""Explicit one-step integrators u_{n+1} = Φ_h(f, u_n) and rollouts: how a learned vector field becomes a
time-stepper. The imbalance-aware loss paper (seed 001) trains and rolls out with Euler and the explicit
midpoint rule (RK2); RK4 is the classical four-stage method."""

from __future__ import annotations

from typing import Callable

import torch

Field = Callable[[torch.Tensor], torch.Tensor]


def euler(f: Field, u: torch.Tensor, h: float) -> torch.Tensor:
    return u + h * f(u)


def rk2(f: Field, u: torch.Tensor, h: float) -> torch.Tensor:
    """Explicit midpoint: u + h f(u + h/2 f(u))."""
    return u + h * f(u + 0.5 * h * f(u))


def rk4(f: Field, u: torch.Tensor, h: float) -> torch.Tensor:
    k1 = f(u)
    k2 = f(u + 0.5 * h * k1)
    k3 = f(u + 0.5 * h * k2)
    k4 = f(u + h * k3)
    return u + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


INTEGRATORS: dict[str, Callable[[Field, torch.Tensor, float], torch.Tensor]] = {"euler": euler, "rk2": rk2,
                                                                                  "rk4": rk4}


@torch.no_grad()
def rollout(f: Field, u0: torch.Tensor, steps: int, h: float, integrator: str = "euler") -> torch.Tensor:
    """States (batch, steps + 1, M) from u0 (batch, M), `steps` integrator steps of size h."""
    step = INTEGRATORS[integrator]
    states = [u0]
    for _ in range(steps):
        states.append(step(f, states[-1], h))
    return torch.stack(states, dim=1)
