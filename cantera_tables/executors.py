"""Where a build's independent solves run: inline, a local process pool, or a Dask cluster named by its scheduler.

Every generator takes a ``concurrent.futures.Executor``; :func:`dask_executor` makes one from a Dask scheduler
address and :func:`run_conditions` runs a picklable function over conditions on it with a tqdm progress bar.
:func:`executor_options` declares the ``workers`` and ``scheduler`` options that choose where they run.
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterator, Sequence

from surrogate.errors import UserError
from surrogate.options import Option

EXECUTOR_OPTION_NAMES = ("workers", "scheduler")  # where the solves run, never what they compute


def executor_options(parallel: str, runs: str, scheduler_help: str | None = None) -> tuple[Option, Option]:
    """The ``workers`` and ``scheduler`` options of a generator: `parallel` names what runs in parallel processes
    (e.g. "lines"), `runs` what the Dask scheduler runs (e.g. "the lines"); `scheduler_help` replaces the
    scheduler's whole help text."""
    return (
        Option("workers", 0, f"processes for parallel {parallel} (0: one per CPU)"),
        Option("scheduler", "", scheduler_help or f"address of a Dask distributed scheduler that runs {runs}; "
               "empty: local"),
    )


@contextlib.contextmanager
def dask_executor(address: str) -> Iterator[Executor | None]:
    """A concurrent.futures executor on the Dask cluster at `address`, or None when no address is given."""
    if not address:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise UserError(f"--scheduler {address}: Dask is not installed (pip install 'thermo-surrogate[dask]')") \
            from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise UserError(f"--scheduler {address}: cannot reach the Dask scheduler ({exc})") from None
    try:
        yield client.get_executor()
    finally:
        client.close()


def run_conditions(
    solve: Callable[[Any], Any],
    jobs: Sequence[Any],
    *,
    executor: Executor | None,
    workers: int,
    progress: bool,
    desc: str,
    initial: int = 0,
) -> list[Any]:
    """``[solve(job) for job in jobs]`` with a progress bar, on `executor` when given, else inline for one worker
    (or one job) and on a local process pool of `workers` processes (0: one per CPU) otherwise.

    `solve` and the jobs must be picklable (module-level function, dataclass jobs). `initial` counts conditions
    already done by an earlier, interrupted build, so the bar shows the whole build. Results keep job order.
    """
    from tqdm import tqdm

    with tqdm(desc=desc, unit=desc.rstrip("s"), initial=initial, total=initial + len(jobs),
              disable=not progress) as bar:
        n_workers = workers or os.cpu_count() or 1
        if executor is None and (n_workers == 1 or len(jobs) <= 1):
            results = []
            for job in jobs:
                results.append(solve(job))
                bar.update(1)
            return results
        owned = executor is None
        pool = executor if executor is not None else ProcessPoolExecutor(max_workers=min(len(jobs), n_workers))
        try:
            futures = {pool.submit(solve, job): i for i, job in enumerate(jobs)}
            results = [None] * len(jobs)
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update(1)
            return results
        finally:
            if owned:
                pool.shutdown(cancel_futures=True)
