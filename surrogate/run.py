"""Run directories: everything needed to reproduce and to use one training run, written and read here only.

Files: ``config.json`` (resolved configuration, task, table hash, names, units, input ranges, signature),
``model.pt`` (state dict of the task's physical model, loaded with ``weights_only=True``), ``scalers.json``
(the task's state: scalers, closure mask), ``splits.npz`` (indices of train/val/test), ``history.csv``
(one line per epoch), ``metrics.json``, ``checkpoint.pt`` (for ``--resume``) and ``plots/``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from . import registry
from .atomic import atomic_path, write_json
from .errors import RunError

CONFIG = "config.json"
WEIGHTS = "model.pt"
SCALERS = "scalers.json"
SPLITS = "splits.npz"
HISTORY = "history.csv"
METRICS = "metrics.json"
CHECKPOINT = "checkpoint.pt"
PLOTS = "plots"
DEFAULT_TASK = "regression"  # runs from before tasks existed


def row_signature(inputs: list[str], outputs: list[str], units: Mapping[str, str],
                  ranges: Mapping[str, list[float]]) -> dict[str, Any]:
    """Signature of a row model: tensor ``inputs`` [batch, n_inputs] in, ``outputs`` [batch, n_outputs] out,
    one component per column with its units (and, for inputs, its trained range)."""
    return {
        "inputs": [{"name": "inputs", "dtype": "float32", "shape": ["batch", len(inputs)],
                    "components": [{"name": n, "units": units.get(n, ""), "range": [float(v) for v in ranges[n]]}
                                   for n in inputs]}],
        "outputs": [{"name": "outputs", "dtype": "float32", "shape": ["batch", len(outputs)],
                     "components": [{"name": n, "units": units.get(n, "")} for n in outputs]}],
    }


def build_network(config: Mapping[str, Any]) -> nn.Module:
    """The bare network (model space) described by a run's configuration, through the model registry."""
    model_cls, options = registry.configure("models", config["model"]["name"], config["model"]["options"])
    return model_cls.build(len(config["inputs"]), len(config["outputs"]), output_names=config["outputs"], **options)


class RunDirectory:
    """Reads and writes the files of one run directory; every write is atomic."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.history_fields: list[str] = []

    def file(self, name: str) -> Path:
        return self.path / name

    def holds_run(self) -> bool:
        return self.file(CONFIG).exists() or self.file(WEIGHTS).exists()

    def write_start(self, config: Mapping[str, Any], task_state: Mapping[str, Any],
                    splits: Mapping[str, np.ndarray]) -> None:
        """What a new run writes before its first epoch: configuration, task state and splits."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.file(CONFIG), dict(config))
        with atomic_path(self.file(SPLITS)) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **splits)
        write_json(self.file(SCALERS), dict(task_state))

    def read_config(self) -> dict[str, Any]:
        config_file = self.file(CONFIG)
        if not config_file.is_file():
            raise RunError(f"{self.path}: not a run directory (no {CONFIG})")
        try:
            config = json.loads(config_file.read_text())
        except json.JSONDecodeError as exc:
            raise RunError(f"{config_file}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(config, dict):
            raise RunError(f"{config_file}: expected a JSON object")
        return config

    def read_json(self, name: str) -> Any:
        try:
            return json.loads(self.file(name).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"{self.file(name)}: unreadable ({exc.__class__.__name__}); the run is damaged") from None

    def load_tensors(self, name: str, device: torch.device | str = "cpu") -> Any:
        """A torch file saved by this module, loaded with weights_only=True; damage is a one-line RunError."""
        try:
            return torch.load(self.file(name), map_location=device, weights_only=True)
        except FileNotFoundError:
            raise RunError(f"{self.path}: run is incomplete (no {name}); train it or resume with --resume") from None
        except Exception as exc:  # truncated zip, foreign pickle refused by weights_only, ...
            raise RunError(f"{self.file(name)}: not a readable checkpoint of this toolkit "
                           f"({exc.__class__.__name__}: {str(exc).splitlines()[0][:120]})") from None

    def save_tensors(self, name: str, data: Any) -> None:
        with atomic_path(self.file(name)) as tmp:
            torch.save(data, tmp)

    def append_history(self, row: Mapping[str, float], first: bool) -> None:
        """One line per epoch, appended (a rewrite per epoch would cost O(epochs²) over a run)."""
        if first:
            self.history_fields = list(row)
        with open(self.file(HISTORY), "w" if first else "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.history_fields, restval="", extrasaction="ignore")
            if first:
                writer.writeheader()
            writer.writerow(row)

    def read_history(self, upto: int, rewrite: bool) -> list[dict[str, float]]:
        """Rows of the epochs a checkpoint covers; with `rewrite`, the file loses later or half-written lines."""
        with open(self.file(HISTORY), newline="") as handle:
            reader = csv.DictReader(handle)
            rows = [row for row in reader if None not in row.values() and "" not in row.values()]
            fields = list(reader.fieldnames or [])
        self.history_fields = fields
        history = [{k: float(v) for k, v in row.items()} for row in rows if float(row["epoch"]) <= upto]
        if rewrite:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=fields)
            writer.writeheader()
            writer.writerows(history)
            with atomic_path(self.file(HISTORY)) as tmp:
                tmp.write_text(buffer.getvalue())
        return history

    def write_results(self, model_state: Mapping[str, torch.Tensor], metrics: Mapping[str, Any]) -> None:
        self.save_tensors(WEIGHTS, {k: v.cpu() for k, v in model_state.items()})
        write_json(self.file(METRICS), dict(metrics))


@dataclass
class LoadedRun:
    """A trained run ready for use: the task's physical model on the CPU in eval mode."""

    path: Path
    config: dict[str, Any]
    model: nn.Module

    @property
    def task(self) -> str:
        return str(self.config.get("task", {}).get("name", DEFAULT_TASK))

    @property
    def input_names(self) -> list[str]:
        return list(self.config["inputs"])

    @property
    def output_names(self) -> list[str]:
        return list(self.config["outputs"])

    @property
    def units(self) -> dict[str, str]:
        return dict(self.config["units"])

    @property
    def input_ranges(self) -> dict[str, list[float]]:
        """{input: [min, max]} seen in training: the valid range of the surrogate."""
        return {k: list(v) for k, v in self.config["input_ranges"].items()}

    @property
    def signature(self) -> dict[str, Any]:
        """The tensors the physical model takes and returns (ONNX contract v2): what the task recorded in
        config.json, or, for a run from before tasks existed, one row tensor in and one out."""
        if "signature" in self.config:
            return self.config["signature"]
        return row_signature(self.input_names, self.output_names, self.units, self.input_ranges)

    @property
    def table_path(self) -> Path:
        return Path(self.config["table"])

    @property
    def table_sha256(self) -> str:
        return str(self.config["table_sha256"])

    def split_indices(self, split: str) -> np.ndarray:
        """Indices (rows of the training table, for row tasks) in split 'train', 'val' or 'test'."""
        with np.load(self.path / SPLITS) as data:
            return data[split]

    @torch.no_grad()
    def predict(self, x_phys: np.ndarray) -> np.ndarray:
        """Physical outputs for physical inputs of a row model, (n, n_inputs) -> (n, n_outputs), float64."""
        tensor = torch.as_tensor(np.asarray(x_phys, dtype=np.float32))
        return self.model(tensor).double().numpy()


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    return RunDirectory(path).read_config()


def load_run(path: str | os.PathLike) -> LoadedRun:
    """Load a finished run directory; a missing, incomplete or damaged one is a one-line RunError."""
    directory = RunDirectory(path)
    config = directory.read_config()
    missing = [key for key in ("model", "inputs", "outputs", "units", "input_ranges", "table", "table_sha256")
               if key not in config]
    if missing:
        raise RunError(f"{directory.file(CONFIG)}: lacks {', '.join(missing)}; not written by `surrogate train`")
    for name in (SCALERS, WEIGHTS):
        if not directory.file(name).is_file():
            raise RunError(f"{directory.path}: run is incomplete (no {name}); train it or resume with --resume")
    task_cls = registry.load("tasks", str(config.get("task", {}).get("name", DEFAULT_TASK)))
    state = directory.load_tensors(WEIGHTS)
    try:
        model = task_cls.assemble(build_network(config), directory.read_json(SCALERS), config)
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise RunError(f"{directory.path}: {WEIGHTS} does not fit the model its {CONFIG} describes "
                       f"({exc.__class__.__name__}: {str(exc).splitlines()[0][:160]})") from None
    model.eval()
    return LoadedRun(path=directory.path, config=config, model=model)
