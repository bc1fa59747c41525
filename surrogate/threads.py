"""Torch intra-op threads for training, chosen from the size of a step and from the other jobs on this node.

A small network's step (the default 4×50 MLP at batch 256 is about 12 MFLOP) is over before a second thread
has woken up: each OpenMP region then costs more in fork/join than it saves, and when two trainings share a
2-core node with two threads each, every region waits for a descheduled thread (measured 25-50× slower per
epoch). So a run takes one thread per :data:`FLOPS_PER_THREAD` of work per step, never more than its share of
the CPUs: the CPUs it may run on divided by the jobs on this node, counted as the larger of the local ranks
(torchrun, MPI, Slurm) and the live trainings registered in :data:`JOBS_DIR` (one file per process). The
trainer re-reads the count every epoch, so a survivor takes its threads back when another job ends.

OpenMP threads that finish a region spin for a while before sleeping (libgomp: 300k spins), which burns the
CPU another job needs; :func:`quiet_openmp` makes them sleep at once unless the user chose a policy. It only
works before torch is imported (the OpenMP runtime reads it when it loads): the CLI calls it first.

Every thread count is capped at :func:`max_threads` (:data:`THREADS_PER_CPU` per CPU of the machine): an option
asking for more is a one-line error naming it and the allowed range (:func:`check_threads`), a count from the
environment (OMP_NUM_THREADS) is lowered to it. Without the cap a typo's ``--threads 10000`` had ONNX Runtime
start ten thousand threads: memory grew and the call never returned.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from .errors import UserError

FLOPS_PER_THREAD = 4e8  # work per step that pays for one more thread (measured: the 4x50 MLP at batch 4096,
# 0.2 GFLOP, ran 0.91x as fast on 2 threads as on 1; at batch 16384, 0.8 GFLOP, 1.47x)
JOBS_DIR = Path(tempfile.gettempdir()) / "thermo-surrogate-jobs"
LOCAL_RANKS_ENV = ("LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE",
                   "PALS_LOCAL_SIZE")
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
THREADS_PER_CPU = 4  # the most threads a count may ask for, per CPU of the machine (the C wrapper has the same)
CHOSEN_THREADS = "chosen from the problem size and the other jobs on this node"  # what a training's 0 threads means


def quiet_openmp() -> None:
    """Idle OpenMP threads sleep instead of spinning (OMP_WAIT_POLICY=PASSIVE), unless the user set a policy."""
    if not any(name in os.environ for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")):
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which launchers and batch systems set)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def local_ranks() -> int:
    """Processes of this job on this node, as torchrun or the MPI launcher states it (1 when none does)."""
    for name in LOCAL_RANKS_ENV:
        value = os.environ.get(name, "").split("(")[0]  # Slurm writes e.g. "4(x2)"
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def max_threads() -> int:
    """The most threads any count may be: :data:`THREADS_PER_CPU` per CPU of the machine (``os.cpu_count()``, not
    the affinity mask, so a job may oversubscribe its share a little); more only thrash."""
    return THREADS_PER_CPU * (os.cpu_count() or 1)


def check_threads(value: int, name: str, zero: str | None = None) -> int:
    """`value` of the thread count `name` ("--threads" for an option, "threads" for an argument) if it lies in
    1..:func:`max_threads`, or is 0 where `zero` says what 0 means; else a one-line UserError naming `name`, the
    value and the allowed range."""
    top = max_threads()
    if 1 <= value <= top or (value == 0 and zero is not None):
        return value
    given = f"{name} {value}" if name.startswith("-") else f"{name}={value}"
    allowed = f"0 ({zero}) or 1..{top}" if zero is not None else f"1..{top}"
    raise UserError(f"{given}: expected {allowed} (at most {THREADS_PER_CPU} per CPU of this machine's "
                    f"{os.cpu_count() or 1})")


def thread_option(zero: str | None = None) -> Callable[[Any, Any, int | None], int | None]:
    """A click callback that checks a ``--threads`` value with :func:`check_threads` (None: not given); a value out
    of range is a usage error (exit code 2, one line "Error: --threads N: expected ...") in any click command."""
    def check(ctx: Any, param: Any, value: int | None) -> int | None:
        import click

        try:
            return None if value is None else check_threads(value, param.opts[0], zero)
        except UserError as exc:
            raise click.UsageError(str(exc), ctx) from None
    return check


def env_threads(name: str) -> int | None:
    """The positive thread count of the environment variable `name`, lowered to :func:`max_threads`; its first
    entry when it is a list per nesting level (OMP_NUM_THREADS=4,2); None when unset or not a count."""
    value = os.environ.get(name, "").split(",")[0].strip()
    return min(int(value), max_threads()) if value.isdigit() and int(value) > 0 else None


def user_threads() -> int | None:
    """The thread count the user fixed through the environment (OMP_NUM_THREADS, MKL_NUM_THREADS), if any."""
    return next((count for count in map(env_threads, THREAD_ENV) if count is not None), None)


def threads_for(flops_per_step: float, jobs: int, cpus: int) -> int:
    """One thread per FLOPS_PER_THREAD of a step's work, at least one, at most this job's share of the CPUs."""
    share = max(1, cpus // max(1, jobs))
    return max(1, min(share, int(flops_per_step // FLOPS_PER_THREAD)))


def step_flops(n_parameters: int, batch_size: int) -> float:
    """Work of one training step of a dense network: ~2 flops per weight and sample forward, twice that back."""
    return 6.0 * n_parameters * batch_size


class JobSlot:
    """One training's entry among those running on this node: a file named ``PID.N``, removed on
    :meth:`release`; entries of processes that no longer exist are ignored and cleaned up."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory or JOBS_DIR
        self.path: Path | None = None

    def hold(self) -> "JobSlot":
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.path = self.directory / f"{os.getpid()}.{id(self)}"
            self.path.touch()
        except OSError:  # an unwritable temp dir only loses the count of other jobs
            self.path = None
        return self

    def release(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None

    def jobs(self) -> int:
        """Live trainings on this node, this one included."""
        count = 0
        try:
            entries = list(self.directory.iterdir())
        except OSError:
            return 1
        for entry in entries:
            pid = entry.name.split(".")[0]
            if not pid.isdigit():
                continue
            try:
                os.kill(int(pid), 0)
                count += 1
            except ProcessLookupError:
                entry.unlink(missing_ok=True)
            except PermissionError:  # another user's live process
                count += 1
        return max(1, count)


class ThreadPolicy:
    """The intra-op threads of one training run: fixed (``--threads N`` or OMP_NUM_THREADS), or chosen from
    the step's work and the jobs on the node, re-chosen by :meth:`apply` each epoch."""

    def __init__(self, requested: int, flops_per_step: float):
        self.fixed = requested or user_threads()
        self.flops = flops_per_step
        self.slot = JobSlot().hold()
        self.cpus = available_cpus()
        self.initial: int | None = None

    def choose(self) -> int:
        if self.fixed:
            return int(self.fixed)
        return threads_for(self.flops, max(self.slot.jobs(), local_ranks()), self.cpus)

    def apply(self) -> int:
        """Set torch's intra-op threads to the current choice and return it."""
        import torch

        threads = self.choose()
        if self.initial is None:
            self.initial = torch.get_num_threads()
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        return threads

    def close(self) -> None:
        """Leave the node's job count and give torch back the threads it had."""
        import torch

        self.slot.release()
        if self.initial is not None:
            torch.set_num_threads(self.initial)
            self.initial = None
