"""The resumable side of a flamelet build, in the work directory next to the table (:mod:`surrogate.chunks`).

``<table>.work/`` holds ``options.json`` (the resolved build options, so a resume with other options is
refused; a failed build's directory is released as :func:`surrogate.chunks.failed_build_released` says).
Generators of independent conditions (equilibrium lines, ignition runs, premixed flames) keep one
``condition-NNNNN.npz`` per finished condition (:class:`surrogate.chunks.ChunkWorkDir`); the flamelet generator
keeps, per S-curve, ``curve-NN/`` with

- ``flamelet-NNNNN.npz``: one accepted flamelet (profiles and scalars, :class:`~cantera_tables.flamelet.Flamelet`);
- ``restart.h5``: Cantera's own save of the flame at the point to continue from; every flamelet but the first is
  solved from it, in a build that was never interrupted too (:func:`next_flamelet`): a resumed build is bitwise equal;
- ``state.json``: the :class:`~cantera_tables.flamelet.ContinuationState`, the commit point;
- ``restart-NNNNN.h5``, for an adaptive build only: Cantera's save of each burning flamelet, from which
  :mod:`cantera_tables.refine` solves new flamelets next to it (:func:`refine_curve`).

Each file is written to a temporary sibling and renamed, in that order, so a kill at any moment leaves a
consistent directory: ``state.json`` counts the flamelets that are complete, later files are ignored. The
directory is removed when the table has been written. Cantera writes ``restart.h5`` in a forked child process
(:func:`save_flame`): its HDF5 writer aborts the process it runs in when the disk is full.

Damage from outside (a disk error, an edit, a copy from elsewhere) is found on resume: a condition file that does
not read back whole (``.npz`` members carry a CRC-32) is solved again, with a warning; a damaged ``options.json``,
``state.json``, flamelet or restart file is a one-line error naming the file and what to delete, since those hold
the work of a whole S-curve.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from surrogate.atomic import failed_write, write_json
from surrogate.chunks import DAMAGED, WorkDirError, read_work_json, save_npz
from surrogate.errors import UserError

from .flamelet import (FROZEN, ContinuationSettings, ContinuationState, Flamelet, FlameletChemistry, FlameletSetup,
                       SCurveTracer, curve_turning_point, make_flame)
from .refine import RefineSettings, default_outputs, largest_error, leave_one_out, next_interval, solve_between
from .structured import z_nodes

RESTART_NAME = "flame"
CANTERA_HDF5 = threading.Lock()  # one save or restore of a Cantera flame at a time in this process
PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent ends (Linux)


class CurveWorkDir:
    """Persistence of one S-curve: save after every flamelet, load everything back on resume."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @property
    def restart_file(self) -> Path:
        return self.path / "restart.h5"

    def flamelet_file(self, index: int) -> Path:
        return self.path / f"flamelet-{index:05d}.npz"

    def flamelet_restart_file(self, index: int) -> Path:
        return self.path / f"restart-{index:05d}.h5"

    @property
    def restart_hint(self) -> str:
        return f"delete {self.path} to trace this S-curve again"

    def load_state(self) -> ContinuationState | None:
        if not self.state_file.is_file():
            return None
        data = read_work_json(self.state_file, self.restart_hint)
        try:
            state = ContinuationState.from_json(data)
            if not (isinstance(state.n_flamelets, int) and state.n_flamelets >= 0 and isinstance(state.stage, str)):
                raise ValueError("n_flamelets or stage")
        except (TypeError, ValueError) as exc:
            raise WorkDirError(f"{self.state_file}: damaged resume state of an unfinished build (not a "
                               f"continuation state: {exc}); {self.restart_hint}") from None
        missing = next((i for i in range(state.n_flamelets) if not self.flamelet_file(i).is_file()), None)
        if missing is not None:
            raise WorkDirError(f"{self.flamelet_file(missing)}: missing, but {self.state_file.name} counts "
                               f"{state.n_flamelets} flamelets; {self.restart_hint}")
        return state

    def committed(self) -> int:
        """Flamelets the state commits, which a resumed build keeps (none without a readable state: a rerun would
        ask to delete this directory)."""
        try:
            state = self.load_state()
        except UserError:
            return 0
        return state.n_flamelets if state is not None else 0

    def save(self, flame: Any, flamelet: Flamelet | None, state: ContinuationState,
             keep_restart: bool = False) -> None:
        """Flamelet (if any), then the restart flame (and, with `keep_restart`, a copy of it as the flamelet's own
        when the flame holds that burning flamelet), then the state that commits them."""
        if flamelet is not None:
            save_npz(self.flamelet_file(state.n_flamelets - 1), flamelet.to_arrays())
        if state.stage != "done":
            self._save_flame(flame, self.restart_file)
        if keep_restart and flamelet is not None and flamelet.method != FROZEN:
            self._save_flame(flame, self.flamelet_restart_file(state.n_flamelets - 1))
        write_json(self.state_file, state.to_json())

    def _save_flame(self, flame: Any, target: Path) -> None:
        tmp = self.path / f".restart-{os.getpid()}.h5"  # Cantera picks the format from the suffix
        try:
            save_flame(flame, tmp, target)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def save_state(self, state: ContinuationState) -> None:
        write_json(self.state_file, state.to_json())

    def restore(self, flame: Any, path: Path | None = None) -> None:
        """The flame saved at `path` (default: the restart flame) into `flame`."""
        import cantera as ct
        import h5py

        path = self.restart_file if path is None else path
        try:
            with h5py.File(path, "r"):  # h5py first: Cantera's HDF5 prints pages of diagnostics
                pass
            with CANTERA_HDF5:
                flame.restore(path, name=RESTART_NAME)
        except (ct.CanteraError, OSError, RuntimeError, ValueError, KeyError) as exc:
            raise WorkDirError(f"{path}: damaged restart flame of an unfinished build "
                               f"({exc.__class__.__name__}); {self.restart_hint}") from None

    def flamelets(self) -> list[Flamelet]:
        """The committed flamelets, in the order they were solved."""
        state = self.load_state()
        count = state.n_flamelets if state is not None else 0
        result = []
        for index in range(count):
            try:
                with np.load(self.flamelet_file(index)) as data:
                    result.append(Flamelet.from_arrays(data))
            except DAMAGED as exc:
                raise WorkDirError(f"{self.flamelet_file(index)}: missing or damaged flamelet of an unfinished "
                                   f"build ({exc.__class__.__name__}); {self.restart_hint}") from None
        return result


def save_flame(flame: Any, path: Path, target: Path) -> None:
    """Cantera's save of `flame` (HDF5, for its restore) at `path`, made by a forked child process.

    Cantera's HDF5 writer throws from a destructor when its last flush fails (a full disk, a file size limit),
    which aborts the whole process after pages of HDF5 diagnostics; a child that aborts only tells this process it
    failed. Such a failure is raised as the OSError of the errno HDF5 quoted, naming `target` (the file `path` is
    written for), anything else as a RuntimeError with the child's last line. Diagnostics of a save that succeeded
    are passed on to stderr. Saves and restores of this process take turns (:data:`CANTERA_HDF5`), so the child never
    inherits a lock of Cantera's HDF5 that another thread holds."""
    with CANTERA_HDF5:
        read_end, write_end = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: save, say why not on the pipe, end without Python's clean-up (the parent's)
            code = 1
            try:
                _end_with(parent)
                os.close(read_end)
                os.dup2(write_end, 2)
                flame.save(path, name=RESTART_NAME, overwrite=True)
                code = 0
            except BaseException as exc:
                os.write(2, f"{exc.__class__.__name__}: {exc}\n".encode(errors="replace"))
            finally:
                os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            diagnostics = pipe.read().decode(errors="replace")
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if status == 0:
        sys.stderr.write(diagnostics)
        return
    error = failed_write(RuntimeError(diagnostics), target)
    if error is not None:
        raise error
    last = diagnostics.strip().splitlines()[-1] if diagnostics.strip() else f"exit status {status}"
    raise RuntimeError(f"{target}: Cantera could not save the flame ({last})")


def _end_with(parent: int) -> None:
    """In a child of `parent`: be killed when the parent ends (Linux), so that a build killed during a save leaves
    no child behind that finishes writing a temporary file nobody removes."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the request was made
        os._exit(1)


@dataclass
class CurveJob:
    """One S-curve to trace into one work directory (picklable, for any concurrent.futures executor)."""

    setup: FlameletSetup
    settings: ContinuationSettings
    path: Path
    refine: RefineSettings | None = None  # adaptive: refine the traced curve (cantera_tables.refine)


@dataclass
class CurveOutcome:
    path: Path
    n_flamelets: int
    resumed: int
    solves: int
    failures: list


def run_curve(job: CurveJob, on_flamelet: Callable[[int, Flamelet], None] | None = None) -> CurveOutcome:
    """Trace (or finish tracing) one S-curve; `on_flamelet(index, flamelet)` is called after each one is saved.

    Every flamelet is solved by :func:`next_flamelet` from what the work directory committed, whether this run
    solved the previous flamelet or an earlier, killed one did: a clean and a resumed build take the same path
    and give bitwise the same flamelets.
    """
    work = CurveWorkDir(job.path)
    state = work.load_state()
    resumed = 0
    if state is not None and state.stage != "start":
        resumed = len(work.flamelets())  # reads every saved flamelet back: damage is found before any solve
    solves_before = state.n_solves if state is not None else 0
    while True:
        flame, flamelet, state = next_flamelet(job, work, state)
        work.save(flame, flamelet, state, keep_restart=job.refine is not None)
        if flamelet is None:
            break
        if on_flamelet is not None:
            on_flamelet(state.n_flamelets - 1, flamelet)
    if job.refine is not None:
        refine_curve(job, work, state, on_flamelet)
    return CurveOutcome(
        path=job.path,
        n_flamelets=state.n_flamelets,
        resumed=resumed,
        solves=state.n_solves - solves_before,
        failures=list(state.failures),
    )


def next_flamelet(job: CurveJob, work: CurveWorkDir,
                  state: ContinuationState | None) -> tuple[Any, Flamelet | None, ContinuationState]:
    """(flame, flamelet, state): the curve's next flamelet (None once the curve is done) solved from the committed
    `state` with a new flame restored from the restart file of `work` (a fresh one before the first solve).

    A live Cantera flame holds solver state that its save does not: the Newton Jacobian, reused from one solve
    to the next until it is too old or the grid changes (a restore makes a new one), and the time-stepping
    state. A continuation from the live flame converged to other round-off (1e-12 relative) than one from the
    restart file, which every later flamelet inherited, so a resumed build differed from a clean one. Starting
    every flamelet from the file, as a resume must, makes the flamelets a function of the committed files.
    """
    flame = make_flame(job.setup)
    if state is not None and state.stage not in ("start", "done"):
        work.restore(flame)
    tracer = SCurveTracer(job.setup, job.settings, flame, state)
    flamelet = next(tracer.steps(), None)
    return flame, flamelet, tracer.state


def refine_curve(job: CurveJob, work: CurveWorkDir, state: ContinuationState,
                 on_flamelet: Callable[[int, Flamelet], None] | None = None) -> None:
    """Add flamelets to the traced curve of `work` until its leave-one-out error is within the job's tolerance,
    its budget is spent or no interval can be split (:mod:`cantera_tables.refine`); every new flamelet and its
    restart are committed like the sweep's, ``state.refine_history`` records the table size against the
    reached error (and the T_max of the flamelet where it is reached), ``state.refine_stuck`` whether that flamelet
    could not be improved."""
    settings = job.refine
    flamelets = work.flamelets()
    chemistry = FlameletChemistry(make_flame(job.setup).gas, job.setup)
    species = chemistry.species
    if not state.refine_outputs:  # chosen once, from the sweep's flamelets: a resumed refinement keeps them
        state.refine_outputs = list(settings.outputs) or default_outputs(flamelets, species)
    Z = z_nodes(settings.n_Z, chemistry.Z_st)
    while True:
        along, errors = leave_one_out(flamelets, state.refine_outputs, species, Z)
        reached, worst = largest_error(along, errors)
        if not state.refine_history or state.refine_history[-1][0] != len(flamelets):
            T_worst = flamelets[worst].T_max if worst is not None else 0.0
            state.refine_history.append([len(flamelets), reached, T_worst])
            work.save_state(state)
        pair = next_interval(flamelets, along, errors, settings.tolerance, state.refine_failed)
        if pair is None or state.refine_added >= settings.max_added:
            only_worst = np.where(np.array(along) == worst, errors, np.nan)
            state.refine_stuck = next_interval(flamelets, along, only_worst, settings.tolerance,
                                               state.refine_failed) is None and reached > settings.tolerance
            work.save_state(state)
            return
        flame = make_flame(job.setup)
        stable = flamelets[pair[1]].T_max >= curve_turning_point(flamelets).T_max  # both ends on the upper branch
        found, notes, solves = solve_between(
            flame, lambda f: work.restore(f, work.flamelet_restart_file(pair[0])), job.setup, chemistry,
            flamelets[pair[0]], flamelets[pair[1]], stable)
        state.n_solves += solves
        state.failures.extend(notes)
        if found is None:
            state.refine_failed.append(list(pair))
            work.save_state(state)
            continue
        flamelets.append(found)
        state.n_flamelets += 1
        state.refine_added += 1
        work.save(flame, found, state, keep_restart=True)
        if on_flamelet is not None:
            on_flamelet(state.n_flamelets - 1, found)
