"""Explicit one-step schemes u_{n+1} = Φ_h(f, u_n) and the loop that applies them, the toolkit's one time
integrator: written on plain arithmetic so that one definition serves NumPy arrays (the PDE data generators'
reference solutions) and torch tensors (the rollout task's learned vector fields). Euler and the explicit
midpoint rule (RK2) are the schemes of the imbalance-aware loss study on KdV and Cahn–Hilliard data (after
Matsubara et al. 2020, "Deep energy-based modeling of discrete-time physics"); RK4 is the classical four-stage
method."""

from __future__ import annotations

from typing import Any, Callable

Field = Callable[[Any], Any]


def euler(f: Field, u: Any, h: float) -> Any:
    return u + h * f(u)


def rk2(f: Field, u: Any, h: float) -> Any:
    """Explicit midpoint: u + h f(u + h/2 f(u))."""
    return u + h * f(u + 0.5 * h * f(u))


def rk4(f: Field, u: Any, h: float) -> Any:
    k1 = f(u)
    k2 = f(u + 0.5 * h * k1)
    k3 = f(u + 0.5 * h * k2)
    k4 = f(u + h * k3)
    return u + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


SCHEMES: dict[str, Callable[[Field, Any, float], Any]] = {"euler": euler, "rk2": rk2, "rk4": rk4}


def integrate(f: Field, u0: Any, h: float, steps: int, scheme: str = "euler", substeps: int = 1) -> list[Any]:
    """u0 and the state after each of `steps` intervals of length h, each interval taken in `substeps` steps of
    `scheme` (batched states advance together; the caller stacks the list along its time axis)."""
    step, small = SCHEMES[scheme], h / substeps
    states, u = [u0], u0
    for _ in range(steps):
        for _ in range(substeps):
            u = step(f, u, small)
        states.append(u)
    return states
