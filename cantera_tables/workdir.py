"""The resumable side of a flamelet build, in the work directory next to the table (:mod:`surrogate.chunks`).

``<table>.work/`` holds ``options.json`` (the resolved build options, so a resume with other options is
refused; a failed build's directory is released as :func:`surrogate.chunks.failed_build_released` says).
Generators of independent conditions (equilibrium lines, ignition runs, premixed flames) keep one
``condition-NNNNN.npz`` per finished condition (:class:`surrogate.chunks.ChunkWorkDir`); the flamelet generator
keeps, per S-curve, ``curve-NN/`` with

- ``flamelet-NNNNN.npz``: one accepted flamelet (profiles and scalars, :class:`~cantera_tables.flamelet.Flamelet`);
- ``restart.h5``: Cantera's own save of the flame at the point to continue from; every flamelet but the first is
  solved from it, in a build that was never interrupted too (:func:`next_flamelet`): a resumed build is bitwise equal;
- ``state.json``: the :class:`~cantera_tables.flamelet.ContinuationState`, the commit point.

Each file is written to a temporary sibling and renamed, in that order, so a kill at any moment leaves a
consistent directory: ``state.json`` counts the flamelets that are complete, later files are ignored. The
directory is removed when the table has been written.

Damage from outside (a disk error, an edit, a copy from elsewhere) is found on resume: a condition file that does
not read back whole (``.npz`` members carry a CRC-32) is solved again, with a warning; a damaged ``options.json``,
``state.json``, flamelet or restart file is a one-line error naming the file and what to delete, since those hold
the work of a whole S-curve.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from surrogate.atomic import write_json
from surrogate.chunks import DAMAGED, WorkDirError, read_work_json, save_npz

from .flamelet import ContinuationSettings, ContinuationState, Flamelet, FlameletSetup, SCurveTracer, make_flame

RESTART_NAME = "flame"


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

    def save(self, flame: Any, flamelet: Flamelet | None, state: ContinuationState) -> None:
        """Flamelet (if any), then the restart flame, then the state that commits both."""
        if flamelet is not None:
            save_npz(self.flamelet_file(state.n_flamelets - 1), flamelet.to_arrays())
        if state.stage != "done":
            tmp = self.path / f".restart-{os.getpid()}.h5"  # Cantera picks the format from the suffix
            flame.save(tmp, name=RESTART_NAME, overwrite=True)
            os.replace(tmp, self.restart_file)
        write_json(self.state_file, state.to_json())

    def restore(self, flame: Any) -> None:
        import cantera as ct
        import h5py

        try:
            with h5py.File(self.restart_file, "r"):  # h5py first: Cantera's HDF5 prints pages of diagnostics
                pass
            flame.restore(self.restart_file, name=RESTART_NAME)
        except (ct.CanteraError, OSError, RuntimeError, ValueError, KeyError) as exc:
            raise WorkDirError(f"{self.restart_file}: damaged restart flame of an unfinished build "
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


@dataclass
class CurveJob:
    """One S-curve to trace into one work directory (picklable, for any concurrent.futures executor)."""

    setup: FlameletSetup
    settings: ContinuationSettings
    path: Path


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
        work.save(flame, flamelet, state)
        if flamelet is None:
            break
        if on_flamelet is not None:
            on_flamelet(state.n_flamelets - 1, flamelet)
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
