"""The run's own history: ``history.csv`` in the run directory, one line per epoch (always on)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Mapping

from surrogate.contracts import RunLogger
from surrogate.run import HISTORY, RunDirectory


class CsvLogger(RunLogger):
    """One line per epoch appended to history.csv (a rewrite per epoch would cost O(epochs²) over a run); a
    resumed run appends under the header its file already has."""

    description = "history.csv in the run directory, one line per epoch (always on; --resume and plots read it)"

    def __init__(self, run_dir: Path):
        super().__init__(run_dir)
        self.directory = RunDirectory(run_dir)

    def start(self, config: Mapping[str, Any], resumed: bool) -> None:
        path = self.directory.file(HISTORY)
        if resumed and path.is_file():
            with open(path, newline="") as handle:
                self.directory.history_fields = next(csv.reader(handle), [])

    def log_epoch(self, row: Mapping[str, float]) -> None:
        self.directory.append_history(row, first=not self.directory.history_fields)

    def log_summary(self, metrics: Mapping[str, float]) -> None:
        pass  # metrics.json holds them

    def log_artifact(self, path: Path) -> None:
        pass  # the files are in the run directory already

    def close(self) -> None:
        pass
