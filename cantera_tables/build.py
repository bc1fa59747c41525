"""The resumable, parallel build over independent conditions that the equilibrium, ignition and premixed
generators share (:func:`build_conditions`): resolve the options, check the output, validate the chemistry, open
the work directory, run the conditions not yet saved there on an executor (a Dask cluster when the options name a
scheduler, :func:`solve_missing`, which the presumed-PDF generator uses alone) and load every saved result back.

A generator then writes its table from :class:`ConditionBuild` and removes the work directory
(:func:`surrogate.chunks.remove_work_dir`); the layout of the work directory, one ``condition-NNNNN.npz`` per
finished condition, is :class:`surrogate.chunks.ChunkWorkDir`'s.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from surrogate.atomic import check_writable
from surrogate.chunks import ChunkWorkDir, open_work_dir, solve_missing_chunks

from .executors import dask_executor
from .flamelet import FlameletChemistry, load_gas
from .mixture import streams_of


@dataclass
class ConditionBuild:
    """What a finished run of every condition leaves a generator to write its table from."""

    opts: dict[str, Any]  # resolved options
    target: Path  # the table path, checked writable
    gas: Any  # Cantera Solution of the mechanism
    chemistry: FlameletChemistry  # of the streams at the first pressure
    jobs: list[Any]  # every condition, in table order
    work: ChunkWorkDir  # where each condition's result is saved, for more rounds of conditions (adaptive builds)
    saved: list[dict[str, np.ndarray]]  # what each job saved in the work directory, in job order
    resumed: int  # conditions an earlier, interrupted build had finished


def build_conditions(
    generator: Any,
    output: str | os.PathLike,
    options: dict[str, Any],
    *,
    not_in_solves: Sequence[str],
    make_jobs: Callable[[dict[str, Any], FlameletChemistry, Path], list[Any]],
    solve: Callable[[Any], None],
    desc: str,
    progress: bool,
    executor: Executor | None,
) -> ConditionBuild:
    """Run every condition of a build that the work directory of `output` does not hold yet, and load them all.

    `generator.resolve` resolves `options`; the options but `not_in_solves` must match those of an unfinished
    build to resume it. `make_jobs(opts, chemistry, work_root)` lists the conditions, each with an ``index``;
    `solve(job)` (picklable) saves one in ``ChunkWorkDir(work_root, "condition")``. They run on `executor`, else on
    the Dask cluster of option ``scheduler``, else inline or on ``workers`` local processes, with a progress bar
    named `desc`.
    """
    opts = generator.resolve(options)
    target = check_writable(output)
    gas = load_gas(opts["mechanism"])
    chemistry = FlameletChemistry(gas, streams_of(opts, opts["pressure"][0]))  # validates species first
    root = open_work_dir(target, {k: v for k, v in opts.items() if k not in not_in_solves})
    jobs = make_jobs(opts, chemistry, root)
    work = ChunkWorkDir(root, "condition")
    saved, resumed = solve_missing(work, jobs, solve, scheduler=opts["scheduler"], executor=executor,
                                   workers=int(opts["workers"]), progress=progress, desc=desc)
    return ConditionBuild(opts=opts, target=target, gas=gas, chemistry=chemistry, jobs=jobs, work=work,
                          saved=saved, resumed=resumed)


def solve_missing(
    work: ChunkWorkDir,
    jobs: Sequence[Any],
    solve: Callable[[Any], None],
    *,
    scheduler: str,
    executor: Executor | None,
    workers: int,
    progress: bool,
    desc: str,
) -> tuple[list[dict[str, np.ndarray]], int]:
    """(what each job saved, in job order; how many an earlier build had finished): run `solve(job)` for every
    job whose file in `work` is missing or damaged — on `executor`, else on the Dask cluster `scheduler`, else
    inline or on `workers` local processes — and load every result back."""
    with dask_executor(scheduler) as cluster:
        return solve_missing_chunks(work, jobs, solve, workers=workers, progress=progress, desc=desc,
                                    unit=desc.rstrip("s"), executor=executor or cluster)
