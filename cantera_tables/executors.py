"""Where a build's independent solves run: inline, a local process pool, or a Dask cluster named by its scheduler.

Every generator takes a ``concurrent.futures.Executor``; :func:`dask_executor` makes one from a Dask scheduler
address, on which :func:`surrogate.chunks.run_chunks` runs the build's solves with a progress bar.
:func:`executor_options` declares the ``workers`` and ``scheduler`` options that choose where they run.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Executor
from typing import Iterator

from surrogate.chunks import workers_option
from surrogate.errors import UserError
from surrogate.options import Option

EXECUTOR_OPTION_NAMES = ("workers", "scheduler")  # where the solves run, never what they compute


def executor_options(parallel: str, runs: str, scheduler_help: str | None = None) -> tuple[Option, Option]:
    """The ``workers`` and ``scheduler`` options of a generator: `parallel` names what runs in parallel processes
    (e.g. "lines"), `runs` what the Dask scheduler runs (e.g. "the lines"); `scheduler_help` replaces the
    scheduler's whole help text."""
    return (
        workers_option(f"for parallel {parallel}"),
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
