"""What the periodic 1-D PDE generators share: options, initial states per trajectory, RK4 over a process
pool with a progress bar, conserved quantities, the trajectories file and the build report.

Builds are resumable: trajectories are integrated in chunks of ``chunk_trajectories`` (the unit of parallel
work and of resuming), each saved to ``<output>.work/chunk-NNNNN.npz`` as it finishes
(:class:`surrogate.chunks.ChunkWorkDir`, shared with the Coulomb-explosion generator); a build killed
part-way and run again with the same options integrates only the chunks not saved yet and writes the same
file. Each trajectory is integrated on its own rows (no sums across trajectories), so neither the chunk size
nor the number of workers changes a single bit of the result.

A generator subclasses :class:`PeriodicPDE` and supplies the physics: ``rate(u, dx, **options)`` (the
semi-discrete right-hand side), ``initial_state(rng, x, **options)`` and ``functionals(**options)``; its
:class:`PeriodicProblem` (entry point of ``surrogate.problems`` under the same name) hands the functionals to
any task that reads the dataset, which names it in its root attribute ``problem``. The reference solution is
classical RK4 with sub-steps (Matsubara et al. solve the same semi-discretizations with an implicit
energy-preserving scheme; explicit RK4 with small sub-steps conserves the discrete invariants to ~1e-10 on the
reference configuration, which the tests check).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from surrogate.atomic import check_writable
from surrogate.chunks import ChunkWorkDir, solve_missing_chunks, workers_option
from surrogate.contracts import BuildReport, Problem, TableGenerator
from surrogate.datasets import write_trajectories
from surrogate.errors import UserError
from surrogate.options import Option
from surrogate.ranges import COUNT, POSITIVE, SEED, at_least
from surrogate.table import Column

from ..time_schemes import integrate
from .functionals import GradientFunctional, largest_increase, relative_drift


def common_options(length: float, dt: float, substeps: int) -> tuple[Option, ...]:
    """Grid, time and sampling options of every periodic generator (defaults: the reference configuration
    of Matsubara et al. 2020, 40 training + 20 test trajectories of 500 steps on 50 points)."""
    return (
        Option("trajectories", 60, "number of trajectories (split into train/val/test by the task)", bounds=COUNT),
        Option("points", 50, "grid points on the periodic domain (the stencils need 5)", bounds=at_least(5)),
        Option("length", length, "length of the periodic domain", bounds=POSITIVE),
        Option("steps", 500, "stored time steps per trajectory (each trajectory has steps + 1 states)",
               bounds=COUNT),
        Option("dt", dt, "time between stored states", bounds=POSITIVE),
        Option("substeps", substeps, "RK4 steps per stored step", bounds=COUNT),
        Option("seed", 0, "seed of the initial states", bounds=SEED),
        Option("chunk_trajectories", 10, "trajectories per chunk: the unit of parallel work and of resuming",
               bounds=COUNT),
        workers_option("integrating chunks of trajectories"),
    )


RESUME_INDEPENDENT = ("workers",)  # options that never change the result: a resume may change them


@dataclass(frozen=True)
class Chunk:
    """Trajectories `u0` (trajectory, M) of chunk `index` to integrate and save (picklable for the pool)."""

    index: int
    generator: type["PeriodicPDE"]
    u0: np.ndarray
    dx: float
    options: dict[str, Any]
    work: ChunkWorkDir


def solve_chunk(chunk: Chunk) -> None:
    """Integrate one chunk of trajectories and save its states in the work directory (a module-level function,
    so a process pool can run it)."""
    options = chunk.options
    physics = {name: options[name] for name in chunk.generator.physics_options()}
    states = np.stack(integrate(lambda u: chunk.generator.rate(u, chunk.dx, **physics), chunk.u0, options["dt"],
                                options["steps"], "rk4", options["substeps"]), axis=1)
    chunk.work.save(chunk.index, {"u": states})


def integrate_all(generator: type["PeriodicPDE"], u0: np.ndarray, dx: float, options: dict[str, Any],
                  work: ChunkWorkDir, progress: bool) -> tuple[np.ndarray, int]:
    """(states (trajectory, time, M) of every trajectory from its initial state u0 (trajectory, M), how many
    an earlier, interrupted build had saved): the chunks `work` does not hold yet are integrated over a
    process pool (inline for one worker), with a progress bar counting trajectories, and all are loaded."""
    size = options["chunk_trajectories"]
    jobs = [Chunk(index, generator, u0[start:start + size], dx, options, work)
            for index, start in enumerate(range(0, len(u0), size))]
    saved, resumed = solve_missing_chunks(work, jobs, solve_chunk, size=lambda job: len(job.u0),
                                          workers=options["workers"], progress=progress, desc=generator.kind,
                                          unit="trajectory")
    return np.concatenate([part["u"] for part in saved]), resumed


def conservation_numbers(functionals: dict[str, GradientFunctional], values: dict[str, np.ndarray]) -> dict[str, float]:
    """The build report's check of each law: worst relative drift (conserved) or largest increase (dissipated)."""
    numbers = {}
    for name, series in values.items():
        if functionals[name].law == "conserved":
            numbers[f"worst relative {name} drift"] = relative_drift(series)
        else:
            numbers[f"largest {name} increase per step"] = largest_increase(series)
    return numbers


class PeriodicPDE(TableGenerator):
    """A trajectories dataset of u_t = rate(u) on a periodic grid x_k = length * k / points."""

    kind: ClassVar[str] = ""
    equation: ClassVar[str] = ""
    specific: ClassVar[tuple[Option, ...]] = ()  # the physics options, passed to rate/initial_state/functionals

    @classmethod
    def check(cls, options: dict[str, Any]) -> None:
        """One-line UserErrors for options that are valid alone but not together (each option's own range is
        declared and checked by the core before ``build``)."""

    @classmethod
    def physics_options(cls) -> list[str]:
        return [option.name for option in cls.specific]

    @staticmethod
    def rate(u: np.ndarray, dx: float, **physics: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def initial_state(rng: np.random.Generator, x: np.ndarray, length: float,
                      **physics: Any) -> tuple[np.ndarray, dict[str, float]]:
        """u(0, x) and the trajectory's parameters (stored under /parameters)."""
        raise NotImplementedError

    @staticmethod
    def functionals(**physics: Any) -> dict[str, GradientFunctional]:
        raise NotImplementedError

    @classmethod
    def build(cls, output: str | os.PathLike, *, progress: bool = True, **options: Any) -> BuildReport:
        started = time.perf_counter()
        cls.check(options)
        target = check_writable(output)
        physics = {name: options[name] for name in cls.physics_options()}
        x = options["length"] * np.arange(options["points"]) / options["points"]
        dx = float(x[1] - x[0])
        rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(options["seed"]).spawn(options["trajectories"])]
        starts = [cls.initial_state(rng, x, options["length"], **physics) for rng in rngs]
        u0 = np.stack([u for u, _ in starts])
        work = ChunkWorkDir.open(target, {k: v for k, v in options.items() if k not in RESUME_INDEPENDENT})
        u, resumed = integrate_all(cls, u0, dx, options, work, progress)
        if not np.all(np.isfinite(u)):
            work.remove()  # a rerun with other --substeps or --dt must not be refused as another build's resume
            raise UserError(f"{cls.kind}: the reference solution blew up; raise --substeps or lower --dt")
        functionals = cls.functionals(**physics)
        conserved = {name: f(u, dx) for name, f in functionals.items()}
        parameter_names = list(starts[0][1])
        path = write_trajectories(
            target, kind=cls.kind, dt=options["dt"], time_units="1",
            fields=[Column("u", u, "1", "the PDE's field u(t, x)")],
            grid=[Column("x", x, "1", "position on the periodic domain")],
            parameters=[Column(name, np.array([p[name] for _, p in starts]), "1", "initial-state parameter")
                        for name in parameter_names],
            conserved=[Column(name, values, "1", functionals[name].description)
                       for name, values in conserved.items()],
            attrs={"equation": cls.equation, "boundary": "periodic", "task": "rollout", "length": options["length"],
                   "substeps": options["substeps"], "seed": options["seed"], **physics,
                   "problem": {"name": cls.kind, **physics}})
        work.remove()
        numbers: dict[str, Any] = {"trajectories": len(u), "states per trajectory": u.shape[1],
                                   "grid points": u.shape[2], "max |u|": float(np.abs(u).max()),
                                   **conservation_numbers(functionals, conserved)}
        return BuildReport(path=path, rows=len(u) * u.shape[1], seconds=time.perf_counter() - started,
                           resumed=resumed * u.shape[1], numbers=numbers)


class PeriodicProblem(Problem):
    """The problem of a periodic generator's datasets: u(x, t) on the periodic grid, with the generator's
    conserved or dissipated functionals at the dataset's physics parameters."""

    generator: ClassVar[type[PeriodicPDE]]
    spatial = ("x",)
    time = "t"

    def functionals(self) -> dict[str, GradientFunctional]:
        return self.generator.functionals(**{name: getattr(self, name) for name in self.generator.physics_options()})
