"""Resumable, parallel work over independent chunks of a generator's output: ``<table>.work/`` next to the table.

The directory holds ``options.json`` (the options the build started with: a resume with other options is refused
once the directory holds solved work) and one ``chunk-NNNNN.npz`` per finished chunk, renamed into place only when
complete, so a killed build resumes with the chunks it has not saved yet; a chunk whose file does not read back
whole (``.npz`` members carry a CRC-32) is computed again with a warning, and a damaged ``options.json`` is a
one-line error saying what to delete. A build that fails never blocks the corrected command: a directory with
nothing solved is removed or taken over, and one whose build failed on its options is marked ``failed.json``, so
other options take it over (:func:`failed_build_released`); after a failed write (a full disk) it stays only when
it holds a saved chunk (:func:`settle_work_dir`). Chunks run on a local process pool (or inline for one worker)
with a progress bar, or on any ``concurrent.futures.Executor`` given (a Dask cluster); the directory is removed
once the table is written. Every generator of independent chunks uses it (Coulomb explosions, the periodic PDEs,
and the Cantera generators of equilibrium lines, ignition runs, premixed flames and presumed-PDF integrals); a
generator whose work is not independent chunks keeps its own files in the same directory, opened with
:func:`open_work_dir` (the flamelet generator's S-curve continuations).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import warnings
import zipfile
import zlib
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from .atomic import atomic_path, write_json
from .errors import UserError
from .options import Option
from .ranges import NON_NEGATIVE

OPTIONS_FILE = "options.json"  # the options a build's work directory was started with
FAILED_FILE = "failed.json"  # written when a build failed on its options: another build may take the directory over
DAMAGED = (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile, zlib.error)  # np.load failures


def workers_option(doing: str) -> Option:
    """The ``workers`` option of a generator whose chunks run on local processes (0: one per CPU), e.g.
    ``workers_option("exploding chunks")``; a negative count is refused with the other options, before the build
    makes its work folder."""
    return Option("workers", 0, f"processes {doing} (0: one per CPU)", bounds=NON_NEGATIVE)


def work_dir_for(output: str | os.PathLike) -> Path:
    """The work directory that belongs to a table path."""
    output = Path(output)
    return output.with_name(output.name + ".work")


class WorkDirError(UserError):
    """The work directory itself is the problem, not the build's options: it holds solved work of other options,
    or a damaged file. A failure saying so leaves the directory as it is (:func:`failed_build_released`)."""


def read_work_json(path: Path, restart_hint: str) -> Any:
    """A JSON file of a work directory; damage is a one-line WorkDirError that says what to delete."""
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorkDirError(f"{path}: damaged resume state of an unfinished build ({exc.__class__.__name__}); "
                           f"{restart_hint}") from None


def holds_work(root: Path) -> bool:
    """Whether the work directory `root` holds anything solved: a file other than its options and failure
    records (hidden temporary files of a write in progress or killed aside)."""
    return any(path.is_file() and path.name not in (OPTIONS_FILE, FAILED_FILE) and not path.name.startswith(".")
               for path in root.rglob("*"))


def _recorded_options(root: Path) -> dict[str, Any] | None:
    """The options ``root`` was started with; None when its options file is missing or damaged."""
    try:
        previous = json.loads((root / OPTIONS_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return previous if isinstance(previous, dict) else None


def open_work_dir(output: str | os.PathLike, options: Mapping[str, Any]) -> Path:
    """Create the work directory of `output`, or reuse it when it was started with the same `options` (those that
    decide what the saved work contains). One with solved work of other options is refused
    (:class:`WorkDirError`), unless that build failed on its options (:data:`FAILED_FILE`): its work is then
    discarded with a warning. One that holds nothing solved yet is taken over whatever it recorded."""
    root = work_dir_for(output)
    wanted = json.loads(json.dumps(dict(options)))
    failed = (root / FAILED_FILE).is_file()
    if holds_work(root):
        previous = _recorded_options(root)
        if previous == wanted:
            (root / FAILED_FILE).unlink(missing_ok=True)  # the same build runs again
            return root
        if not failed and previous is None:
            raise WorkDirError(f"{root / OPTIONS_FILE}: damaged resume state of an unfinished build; delete "
                                 f"{root} to start the build over")
        changed = sorted(k for k in set(previous or {}) | set(wanted) if (previous or {}).get(k) != wanted.get(k))
        if not failed:
            raise WorkDirError(f"{root}: an unfinished build with other options ({', '.join(map(str, changed))}) "
                                 "is there; rerun with its options to resume it, or delete the directory")
        warnings.warn(f"{root}: discarding the solved work of a build that failed with other options "
                      f"({', '.join(map(str, changed))})", stacklevel=2)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / OPTIONS_FILE, wanted)
    return root


def remove_work_dir(output: str | os.PathLike) -> None:
    shutil.rmtree(work_dir_for(output), ignore_errors=True)


@contextlib.contextmanager
def failed_build_released(output: str | os.PathLike) -> Iterator[None]:
    """While a build of `output` runs: a failure must not leave a work directory that blocks the corrected
    command. One that holds nothing solved is removed; one with solved work whose build failed on its options
    (a UserError: a value only the solver refuses, no solve converged) is marked failed, so a build with other
    options takes it over while the same options still resume it. After a kill or a failure of the machine (a
    full disk) it stays as it is: the same command resumes it, another is refused."""
    try:
        yield
    except BaseException as exc:
        root = work_dir_for(output)
        if root.is_dir():
            if not holds_work(root):
                shutil.rmtree(root, ignore_errors=True)
            elif isinstance(exc, UserError) and not isinstance(exc, WorkDirError):
                write_json(root / FAILED_FILE, {"error": str(exc)})
        raise


def saved_chunks(output: str | os.PathLike) -> int:
    """Results a rerun of the build of `output` resumes from: the chunk files (``PREFIX-NNNNN.npz``, renamed into
    place only when complete) of its work directory (:class:`ChunkWorkDir`)."""
    return sum(1 for _ in work_dir_for(output).glob("*-[0-9][0-9][0-9][0-9][0-9].npz"))


def settle_work_dir(output: str | os.PathLike, saved: int) -> str:
    """After a build of `output` stopped on a failed write (a full disk): keep its work directory when it holds
    `saved` > 0 solved results a rerun resumes from, else remove it (it holds nothing worth the space). Returns what
    the error line adds about it ("" when there is no work directory)."""
    root = work_dir_for(output)
    if not root.is_dir():
        return ""
    if saved > 0:
        return f"; {root} keeps the {saved} solved result(s) saved so far: rerun the same command to resume from them"
    shutil.rmtree(root, ignore_errors=True)
    return f"; nothing solved was saved yet, so {root} was removed"


def save_npz(path: Path, arrays: Mapping[str, Any]) -> None:
    """Arrays into one ``.npz`` file, atomically (a temporary sibling renamed when complete)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


class ChunkWorkDir:
    """One ``<prefix>-NNNNN.npz`` per finished chunk (a condition, a block of rows or trajectories) in a work
    directory; a chunk whose file reads back is done (files are renamed into place only when complete)."""

    def __init__(self, root: str | os.PathLike, prefix: str = "chunk"):
        self.root = Path(root)
        self.prefix = prefix

    @classmethod
    def open(cls, output: str | os.PathLike, options: Mapping[str, Any], prefix: str = "chunk") -> "ChunkWorkDir":
        """The chunks of a build of `output` with `options` (:func:`open_work_dir`)."""
        return cls(open_work_dir(output, options), prefix)

    def file(self, index: int) -> Path:
        return self.root / f"{self.prefix}-{index:05d}.npz"

    def done(self, index: int) -> bool:
        """Whether chunk `index` has a saved file (whose content :meth:`load` checks)."""
        return self.file(index).is_file()

    def save(self, index: int, arrays: Mapping[str, Any]) -> None:
        save_npz(self.file(index), arrays)

    def load(self, index: int) -> dict[str, np.ndarray] | None:
        """The arrays saved for chunk `index`, or None when there are none or they do not read back whole
        (``.npz`` members carry a CRC-32): the chunk is then computed again, with a warning."""
        path = self.file(index)
        if not path.is_file():
            return None
        try:
            with np.load(path) as data:
                return {key: data[key] for key in data.files}
        except DAMAGED as exc:
            warnings.warn(f"{path}: damaged ({exc.__class__.__name__}); computing that {self.prefix} again",
                          stacklevel=2)
            return None

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def run_chunks(solve: Callable[[Any], object], jobs: Sequence[Any], *, workers: int, progress: bool, desc: str,
               total: int, done: int, size: Callable[[Any], int] = lambda job: 1, unit: str = "row",
               executor: Executor | None = None) -> None:
    """Call ``solve(job)`` (picklable; it saves its chunk) for every job: on `executor` when given (a Dask
    cluster's), else inline for one worker or one job, else on a local pool of `workers` processes (0: one per
    CPU). The bar counts `size(job)` `unit`s per job over all `total`, of which `done` were saved by an earlier,
    interrupted build; a failure cancels the jobs not started."""
    from tqdm.auto import tqdm

    n_workers = min(workers or os.cpu_count() or 1, max(1, len(jobs)))
    with tqdm(total=total, initial=done, desc=desc, unit=unit, unit_scale=True, disable=not progress) as bar:
        if executor is None and n_workers == 1:
            for job in jobs:
                solve(job)
                bar.update(size(job))
            return
        pool = executor or ProcessPoolExecutor(n_workers)
        futures = {pool.submit(solve, job): job for job in jobs}
        try:
            for future in as_completed(futures):
                future.result()
                bar.update(size(futures[future]))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        finally:
            if executor is None:
                pool.shutdown(cancel_futures=True)


def solve_missing_chunks(work: ChunkWorkDir, jobs: Sequence[Any], solve: Callable[[Any], object], *,
                         workers: int, progress: bool, desc: str, size: Callable[[Any], int] = lambda job: 1,
                         unit: str = "row", executor: Executor | None = None
                         ) -> tuple[list[dict[str, np.ndarray]], int]:
    """(the saved arrays of every job, in order; how many units an earlier, interrupted build had saved): the jobs
    (each with an ``index``; `size(job)` units) whose chunk `work` does not hold, or holds damaged, are solved by
    :func:`run_chunks`, then every chunk is loaded."""
    saved = [work.load(job.index) for job in jobs]
    todo = [job for job, part in zip(jobs, saved) if part is None]
    total = sum(size(job) for job in jobs)
    resumed = total - sum(size(job) for job in todo)
    run_chunks(solve, todo, workers=workers, progress=progress, desc=desc, total=total, done=resumed, size=size,
               unit=unit, executor=executor)
    for i, job in enumerate(jobs):
        if saved[i] is None:
            saved[i] = work.load(job.index)
        if saved[i] is None:
            raise WorkDirError(f"{work.file(job.index)}: {work.prefix} {job.index} was computed but its result "
                               "cannot be read back from the work directory")
    return saved, resumed
