"""Benchmark of S-curve generation: strain continuation against solving each strain rate from scratch.

Both solve the same stable-branch flamelets (nominal strain rates spaced geometrically) with the same
mechanism, streams and grid refinement. The continuation starts each solve from the previous solution
scaled by the Fiala & Sattelmayer rules (:func:`cantera_tables.flamelet.scale_strain`); the baseline builds
a new flame at each strain and lets Cantera's ``auto`` solve start from its own initial guess.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .flamelet import FlameletSetup, burning_temperature, load_gas, make_flame, scale_strain, solve_from_scratch


@dataclass
class BenchResult:
    """Flamelets per second (burning solutions only) and T_max of each solve, for one method."""

    method: str
    seconds: float
    burning: int
    T_max: list[float]

    @property
    def flamelets_per_second(self) -> float:
        return self.burning / self.seconds if self.seconds > 0 else float("nan")


def bench_continuation(setup: FlameletSetup, strains: np.ndarray) -> BenchResult:
    """Solve at each strain in turn, each from the previous solution scaled to the new strain."""
    import cantera as ct

    gas = load_gas(setup.mechanism)
    T_burning = burning_temperature(setup)
    started = time.perf_counter()
    flame = make_flame(setup, gas, float(strains[0]))
    T_max: list[float] = []
    for i, strain in enumerate(strains):
        try:
            if i == 0:
                flame.solve(loglevel=0, auto=True)
            else:
                scale_strain(flame, float(strain / strains[i - 1]))
                flame.solve(loglevel=0)
            T_max.append(float(max(flame.T)))
        except ct.CanteraError:
            T_max.append(float("nan"))
    seconds = time.perf_counter() - started
    return BenchResult("continuation", seconds, int(np.sum(np.array(T_max) >= T_burning)), T_max)


def bench_from_scratch(setup: FlameletSetup, strains: np.ndarray) -> BenchResult:
    """A fresh flame at each strain, solved from Cantera's initial guess."""
    gas = load_gas(setup.mechanism)
    started = time.perf_counter()
    results = [solve_from_scratch(setup, float(strain), gas) for strain in strains]
    seconds = time.perf_counter() - started
    return BenchResult("from scratch", seconds, sum(burning for burning, _ in results), [t for _, t in results])
