"""The resumable side of a build: a work directory next to the table.

``<table>.work/`` holds ``options.json`` (the resolved build options, so a resume with other options is
refused). Generators of independent conditions (equilibrium lines, ignition runs, premixed flames) keep one
``condition-NNNNN.npz`` per finished condition (:class:`ConditionWorkDir`); the flamelet generator keeps, per
S-curve, ``curve-NN/`` with

- ``flamelet-NNNNN.npz``: one accepted flamelet (profiles and scalars, :class:`~cantera_tables.flamelet.Flamelet`);
- ``restart.h5``: Cantera's own save of the flame at the point to continue from;
- ``state.json``: the :class:`~cantera_tables.flamelet.ContinuationState`, the commit point.

Each file is written to a temporary sibling and renamed, in that order, so a kill at any moment leaves a
consistent directory: ``state.json`` counts the flamelets that are complete, later files are ignored. The
directory is removed when the table has been written.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from surrogate.atomic import atomic_path, write_json
from surrogate.errors import UserError

from .flamelet import ContinuationSettings, ContinuationState, Flamelet, FlameletSetup, SCurveTracer, make_flame

RESTART_NAME = "flame"


def work_dir_for(output: str | os.PathLike) -> Path:
    """The work directory that belongs to a table path."""
    output = Path(output)
    return output.with_name(output.name + ".work")


def open_work_dir(output: str | os.PathLike, options: Mapping[str, Any]) -> Path:
    """Create the work directory, or reuse it when it was started with the same options."""
    root = work_dir_for(output)
    recorded = root / "options.json"
    if recorded.is_file():
        previous = json.loads(recorded.read_text())
        if previous != json.loads(json.dumps(dict(options))):
            changed = sorted(k for k in set(previous) | set(options) if previous.get(k) != options.get(k))
            raise UserError(
                f"{root}: an unfinished build with other options ({', '.join(map(str, changed))}) is there; "
                f"rerun with its options to resume it, or delete the directory"
            )
    else:
        root.mkdir(exist_ok=True)
        write_json(recorded, dict(options))
    return root


def remove_work_dir(output: str | os.PathLike) -> None:
    shutil.rmtree(work_dir_for(output), ignore_errors=True)


def save_npz(path: Path, arrays: Mapping[str, Any]) -> None:
    """Arrays into one ``.npz`` file, atomically (a temporary sibling renamed when complete)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


class ConditionWorkDir:
    """One ``.npz`` file per finished condition of a build over independent conditions; a condition whose file
    exists is done (the file is renamed into place only when complete), so a resumed build skips it."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def file(self, index: int) -> Path:
        return self.root / f"condition-{index:05d}.npz"

    def done(self, index: int) -> bool:
        return self.file(index).is_file()

    def save(self, index: int, arrays: Mapping[str, Any]) -> None:
        save_npz(self.file(index), arrays)

    def load(self, index: int) -> dict[str, np.ndarray]:
        with np.load(self.file(index)) as data:
            return {key: data[key] for key in data.files}


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

    def load_state(self) -> ContinuationState | None:
        if not self.state_file.is_file():
            return None
        return ContinuationState.from_json(json.loads(self.state_file.read_text()))

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
        flame.restore(self.restart_file, name=RESTART_NAME)

    def flamelets(self) -> list[Flamelet]:
        """The committed flamelets, in the order they were solved."""
        state = self.load_state()
        count = state.n_flamelets if state is not None else 0
        result = []
        for index in range(count):
            with np.load(self.flamelet_file(index)) as data:
                result.append(Flamelet.from_arrays(data))
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
    """Trace (or finish tracing) one S-curve; `on_flamelet(index, flamelet)` is called after each one is saved."""
    work = CurveWorkDir(job.path)
    flame = make_flame(job.setup)
    state = work.load_state()
    resumed = 0
    if state is not None and state.stage != "start":
        resumed = state.n_flamelets
        if state.stage != "done":
            work.restore(flame)
    solves_before = state.n_solves if state is not None else 0
    tracer = SCurveTracer(job.setup, job.settings, flame, state)
    for flamelet in tracer.steps():
        work.save(flame, flamelet, tracer.state)
        if on_flamelet is not None:
            on_flamelet(tracer.state.n_flamelets - 1, flamelet)
    work.save(flame, None, tracer.state)
    return CurveOutcome(
        path=job.path,
        n_flamelets=tracer.state.n_flamelets,
        resumed=resumed,
        solves=tracer.state.n_solves - solves_before,
        failures=list(tracer.state.failures),
    )
