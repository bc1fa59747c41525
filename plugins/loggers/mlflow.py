"""MLflow: the run's options as parameters, its history as metrics per epoch, its final metrics, plots, model
and (after ``surrogate export``) ONNX file as artefacts, in a local file store under the run directory (no server;
``mlflow ui --backend-store-uri <run>/mlruns``) or any tracking URI given with ``uri``.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Mapping

from surrogate.atomic import write_json
from surrogate.contracts import RunLogger
from surrogate.options import Option
from surrogate.tracking import flatten

from . import INSTALL

RUN_FILE = "mlflow.json"  # in the run directory: the tracking URI and MLflow run id a resume or export continues
PARAM_LENGTH = 6000  # MLflow's limit on a parameter value
BATCH = 100  # parameters per log_batch call (MLflow's limit)


def key(name: str) -> str:
    """`name` with the characters MLflow refuses in keys (it allows letters, digits, _ - . space : /) as '_'."""
    return re.sub(r"[^\w\-. :/]", "_", name)


class MlflowLogger(RunLogger):
    """Logs through ``mlflow.tracking.MlflowClient`` (no global active run). MLflow 3 keeps its file store in
    maintenance mode behind ``MLFLOW_ALLOW_FILE_STORE``; this logger opts in for ``file:`` URIs only."""

    description = "MLflow run: options as params, history as metrics per epoch, plots/model/ONNX as artefacts"
    options = (
        Option("uri", "", "Tracking URI (file:, sqlite:, http:); empty: a file store in the run directory's mlruns/."),
        Option("experiment", "thermo-surrogate", "MLflow experiment the run belongs to."),
    )

    def __init__(self, run_dir: Path, *, uri: str, experiment: str):
        super().__init__(run_dir)
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise ValueError(f"needs mlflow or mlflow-skinny ({INSTALL})") from None
        if not experiment.strip():
            raise ValueError("experiment '': expected a name")
        self.uri = uri or (self.run_dir.resolve() / "mlruns").as_uri()
        if self.uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=self.uri)
        self.experiment = experiment
        self.run_id = ""
        self.step = 0

    def start(self, config: Mapping[str, Any], resumed: bool) -> None:
        from mlflow.entities import Param

        record = self.run_dir / RUN_FILE
        if resumed and record.is_file():
            saved = json.loads(record.read_text())
            if saved.get("uri") == self.uri and saved.get("run_id"):
                self.run_id = str(saved["run_id"])
                self.client.update_run(self.run_id, status="RUNNING")
                return
        found = self.client.get_experiment_by_name(self.experiment)
        experiment_id = found.experiment_id if found else self.client.create_experiment(self.experiment)
        run = self.client.create_run(experiment_id, run_name=self.run_dir.name,
                                     tags={"run_dir": str(self.run_dir.resolve()),
                                           "table_sha256": str(config.get("table_sha256", ""))})
        self.run_id = run.info.run_id
        write_json(record, {"uri": self.uri, "run_id": self.run_id, "experiment": self.experiment})
        params = [Param(key(name), str(value)[:PARAM_LENGTH]) for name, value in flatten(config)
                  if name != "plugins"]
        for first in range(0, len(params), BATCH):
            self.client.log_batch(self.run_id, params=params[first:first + BATCH])

    def log_epoch(self, row: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        self.step = int(row["epoch"])
        now = int(time.time() * 1000)
        metrics = [Metric(key(name), float(value), now, self.step) for name, value in row.items()
                   if name != "epoch" and math.isfinite(float(value))]
        self.log_metrics(metrics)

    def log_summary(self, metrics: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        found = [Metric(key(f"final/{name}"), value, now, self.step) for name, value in metrics.items()
                 if math.isfinite(value)]
        self.log_metrics(found)

    def log_metrics(self, metrics: list) -> None:
        for first in range(0, len(metrics), 1000):  # MLflow's limit per batch
            self.client.log_batch(self.run_id, metrics=metrics[first:first + 1000])

    def log_artifact(self, path: Path) -> None:
        self.client.log_artifact(self.run_id, str(path), "plots" if path.parent.name == "plots" else None)

    def close(self) -> None:
        self.client.set_terminated(self.run_id)
