"""Table generators for the PDE problems of :mod:`.equations`: each writes a collocation dataset (no samples,
only the domain, the problem's name and parameters and how to sample collocation points) that the ``pinn``
task trains on with the ``pde`` physics loss, both declared in the file so ``surrogate train FILE`` needs no
more.

Sampling: ``uniform`` (a fixed grid), ``random`` (points drawn once) or ``resample`` (drawn anew each epoch);
interior, boundary and initial points alike.
"""

from __future__ import annotations

import os
import time
from typing import Any, ClassVar

from surrogate.contracts import BuildReport, TableGenerator
from surrogate.datasets import write_collocation

from ..tasks.collocation import OPTIONS as SAMPLING_OPTIONS
from .equations import Equation, Heat, Poisson2D, PoissonMultiscale, SharpLayer


class CollocationTable(TableGenerator):
    """Writes the collocation dataset of ``equation`` (the problem registered as ``kind``): a subclass names the
    two; its description is the equation's and its options are the equation's parameters and the sampling
    options."""

    kind: ClassVar[str]
    equation: ClassVar[type[Equation]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.description = cls.equation.description
        cls.options = cls.equation.options + SAMPLING_OPTIONS

    @classmethod
    def build(cls, output: str | os.PathLike, *, progress: bool = True, **options: Any) -> BuildReport:
        started = time.perf_counter()
        problem = {"name": cls.kind, **{o.name: options[o.name] for o in cls.equation.options},
                   **{o.name: options[o.name] for o in SAMPLING_OPTIONS}}
        path = write_collocation(output, kind=cls.kind, domain=cls.equation.domain(), outputs=["u"],
                                 problem=problem, attrs={"task": "pinn", "physics": ["pde"],
                                                         "equation": cls.equation.formula})
        return BuildReport(path=path, rows=0, seconds=time.perf_counter() - started,
                           notes=[f"{cls.equation.formula}; {options['sampling']} collocation points, sampled by "
                                  "the pinn task at training time"])


class PoissonMultiscaleTable(CollocationTable):
    kind = "poisson-multiscale"
    equation = PoissonMultiscale


class SharpLayerTable(CollocationTable):
    kind = "sharp-layer"
    equation = SharpLayer


class Poisson2DTable(CollocationTable):
    kind = "poisson-2d"
    equation = Poisson2D


class HeatTable(CollocationTable):
    kind = "heat"
    equation = Heat
