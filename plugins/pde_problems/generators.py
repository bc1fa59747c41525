"""Table generators for the PDE problems of :mod:`.equations`: each writes a collocation dataset (no samples,
only the domain, the equation's parameters and how to sample collocation points) that the ``pinn`` task
trains on with the ``pde`` physics loss, both declared in the file so ``surrogate train FILE`` needs no more.

Sampling: ``uniform`` (a fixed grid), ``random`` (points drawn once) or ``resample`` (drawn anew each epoch);
interior, boundary and initial points alike.
"""

from __future__ import annotations

import os
import time
from typing import Any, ClassVar

from surrogate.contracts import BuildReport, TableGenerator
from surrogate.datasets import write_collocation

from .equations import Equation, Heat, Poisson2D, PoissonMultiscale, SharpLayer
from .sampling import OPTIONS as SAMPLING_OPTIONS


class CollocationProblem(TableGenerator):
    """Writes the collocation dataset of ``equation``: its options are the equation's parameters and the
    sampling options."""

    equation: ClassVar[type[Equation]]

    @classmethod
    def build(cls, output: str | os.PathLike, *, progress: bool = True, **options: Any) -> BuildReport:
        started = time.perf_counter()
        problem = {"name": cls.equation.name, **{o.name: options[o.name] for o in cls.equation.parameters},
                   **{o.name: options[o.name] for o in SAMPLING_OPTIONS}}
        path = write_collocation(output, kind=cls.equation.name, domain=cls.equation.domain(), outputs=["u"],
                                 problem=problem, attrs={"task": "pinn", "physics": ["pde"],
                                                         "equation": cls.equation.formula})
        return BuildReport(path=path, rows=0, seconds=time.perf_counter() - started,
                           notes=[f"{cls.equation.formula}; {options['sampling']} collocation points, sampled by "
                                  "the pinn task at training time"])


class PoissonMultiscaleProblem(CollocationProblem):
    equation = PoissonMultiscale
    description = "1-D Poisson, multi-scale exact solution sin 2πx + a sin 2πkx (MMPINN)"
    options = PoissonMultiscale.parameters + SAMPLING_OPTIONS


class SharpLayerProblem(CollocationProblem):
    equation = SharpLayer
    description = "1-D Poisson with a steep tanh interior layer (residual magnitudes differ by subdomain)"
    options = SharpLayer.parameters + SAMPLING_OPTIONS


class Poisson2DProblem(CollocationProblem):
    equation = Poisson2D
    description = "2-D Poisson on the unit square, multi-scale exact solution"
    options = Poisson2D.parameters + SAMPLING_OPTIONS


class HeatProblem(CollocationProblem):
    equation = Heat
    description = "1-D heat equation u_t = nu u_xx, two decaying modes (exact solution)"
    options = Heat.parameters + SAMPLING_OPTIONS
