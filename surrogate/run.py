"""Run directories: everything needed to reproduce and to use one training run.

Files: ``config.json`` (resolved configuration, table hash, names, units, input ranges), ``model.pt``
(state dict of the :class:`~surrogate.scaling.PhysicalModel`, loaded with ``weights_only=True``),
``scalers.json``, ``splits.npz`` (row indices of train/val/test), ``history.csv``, ``metrics.json``,
``checkpoint.pt`` (for ``--resume``) and ``plots/``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import registry
from .errors import RunError
from .scaling import InputScaler, OutputScaler, PhysicalModel

CONFIG = "config.json"
WEIGHTS = "model.pt"
SCALERS = "scalers.json"
SPLITS = "splits.npz"
HISTORY = "history.csv"
METRICS = "metrics.json"
CHECKPOINT = "checkpoint.pt"
PLOTS = "plots"


def build_network(config: dict[str, Any]) -> nn.Module:
    """The bare network (model space) described by a run's configuration, through the model registry."""
    model_cls, options = registry.configure("models", config["model"]["name"], config["model"]["options"])
    return model_cls.build(len(config["inputs"]), len(config["outputs"]), output_names=config["outputs"], **options)


@dataclass
class LoadedRun:
    """A trained run ready for use: the physical-in, physical-out model on the CPU in eval mode."""

    path: Path
    config: dict[str, Any]
    model: PhysicalModel

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
    def table_path(self) -> Path:
        return Path(self.config["table"])

    @property
    def table_sha256(self) -> str:
        return str(self.config["table_sha256"])

    def split_indices(self, split: str) -> np.ndarray:
        """Row indices of the training table in split 'train', 'val' or 'test'."""
        with np.load(self.path / SPLITS) as data:
            return data[split]

    @torch.no_grad()
    def predict(self, x_phys: np.ndarray) -> np.ndarray:
        """Physical outputs for physical inputs, (n, n_inputs) -> (n, n_outputs), float64."""
        tensor = torch.as_tensor(np.asarray(x_phys, dtype=np.float32))
        return self.model(tensor).double().numpy()


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    run_dir = Path(path)
    config_file = run_dir / CONFIG
    if not config_file.is_file():
        raise RunError(f"{run_dir}: not a run directory (no {CONFIG})")
    try:
        return json.loads(config_file.read_text())
    except json.JSONDecodeError as exc:
        raise RunError(f"{config_file}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def assemble_model(config: dict[str, Any], scalers: dict[str, Any]) -> PhysicalModel:
    return PhysicalModel(
        InputScaler.from_dict(scalers["input"]), build_network(config), OutputScaler.from_dict(scalers["output"])
    )


def load_run(path: str | os.PathLike) -> LoadedRun:
    """Load a finished run directory; a missing or incomplete one is a one-line RunError."""
    run_dir = Path(path)
    config = read_config(run_dir)
    for name in (SCALERS, WEIGHTS):
        if not (run_dir / name).is_file():
            raise RunError(f"{run_dir}: run is incomplete (no {name}); train it or resume with --resume")
    scalers = json.loads((run_dir / SCALERS).read_text())
    model = assemble_model(config, scalers)
    state = torch.load(run_dir / WEIGHTS, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    return LoadedRun(path=run_dir, config=config, model=model)
