"""Resumable, parallel work over independent chunks of rows: ``<table>.work/`` next to the table.

The directory holds ``options.json`` (the options the build started with: a resume with other options is refused)
and one ``chunk-NNNNN.npz`` per finished chunk, renamed into place only when complete, so a killed build resumes
with the chunks it has not saved yet. Chunks run on a local process pool (or inline for one worker) with a
progress bar counting rows; the directory is removed once the table is written.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from surrogate.atomic import atomic_path, write_json
from surrogate.errors import UserError


class ChunkWorkDir:
    """The work directory of one build; `options` are those that decide what the chunks contain."""

    def __init__(self, output: str | os.PathLike, options: Mapping[str, Any]):
        output = Path(output)
        self.root = output.with_name(output.name + ".work")
        recorded = self.root / "options.json"
        wanted = json.loads(json.dumps(dict(options)))
        if recorded.is_file():
            previous = json.loads(recorded.read_text())
            if previous != wanted:
                changed = sorted(k for k in set(previous) | set(wanted) if previous.get(k) != wanted.get(k))
                raise UserError(f"{self.root}: an unfinished build with other options ({', '.join(changed)}) is "
                                "there; rerun with its options to resume it, or delete the directory")
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            write_json(recorded, wanted)

    def file(self, index: int) -> Path:
        return self.root / f"chunk-{index:05d}.npz"

    def done(self, index: int) -> bool:
        return self.file(index).is_file()

    def save(self, index: int, arrays: Mapping[str, np.ndarray]) -> None:
        with atomic_path(self.file(index)) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

    def load(self, index: int) -> dict[str, np.ndarray]:
        with np.load(self.file(index)) as data:
            return {key: data[key] for key in data.files}

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def run_chunks(solve: Callable[[Any], int], jobs: Sequence[Any], *, workers: int, progress: bool, desc: str,
               total_rows: int, done_rows: int) -> None:
    """Call ``solve(job)`` (picklable; it saves its chunk and returns its row count) for every job, on `workers`
    processes (0: one per CPU; inline when one worker or one job), with a bar over all `total_rows` rows of which
    `done_rows` were saved by an earlier, interrupted build."""
    from tqdm.auto import tqdm

    n_workers = min(workers or os.cpu_count() or 1, max(1, len(jobs)))
    with tqdm(total=total_rows, initial=done_rows, desc=desc, unit="row", unit_scale=True,
              disable=not progress) as bar:
        if n_workers == 1:
            for job in jobs:
                bar.update(solve(job))
            return
        with ProcessPoolExecutor(n_workers) as pool:
            futures = [pool.submit(solve, job) for job in jobs]
            try:
                for future in as_completed(futures):
                    bar.update(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
