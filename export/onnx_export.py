"""Export a trained run to ONNX (physical inputs in, physical outputs out) and verify parity with PyTorch.

The graph comes from PyTorch's ``torch.export``-based exporter (``torch.onnx.export(..., dynamo=True)``),
which PyTorch recommends over the TorchScript exporter; the file follows the contract written in
:mod:`export.metadata` (input ``inputs``, output ``outputs``, float32, dynamic axis ``batch``, metadata).

Parity: ONNX Runtime (CPU) against the PyTorch model on held-out points (the run's test split of its table
when the table file is there, else points drawn inside the trained input ranges). Per output we report the
largest absolute error and that error relative to the output's scale (max |y| over the points); export fails
when the relative figure exceeds the tolerance, and no file is written.

``fp16``: the network's weights and arithmetic are float16, while input scaling (log10 of χ, whose floor lies
below float16's range) and output scaling stay float32, and so do the graph's inputs and outputs. Trace
species below float16 resolution (~6e-8) lose accuracy: the parity report shows how much.
"""

from __future__ import annotations

import copy
import inspect
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import torch
from torch import nn

from surrogate import __version__
from surrogate.atomic import atomic_path, check_writable
from surrogate.errors import UserError
from surrogate.run import LoadedRun
from surrogate.scaling import PhysicalModel
from surrogate.table import Table

from .metadata import (BATCH_AXIS, DEFAULT_OPSET, DEFAULT_TOLERANCE, FORMAT, FORMAT_VERSION, INPUT_NAME,
                       OUTPUT_NAME, encode)

MIN_OPSET = 18
PARITY_POINTS = 4096


class HalfPrecisionModel(nn.Module):
    """PhysicalModel with a float16 network between float32 scalers, so graph IO stays float32."""

    def __init__(self, model: PhysicalModel):
        super().__init__()
        self.input_scaler = model.input_scaler
        self.network = copy.deepcopy(model.network).half()
        self.output_scaler = model.output_scaler

    def forward(self, x_phys: torch.Tensor) -> torch.Tensor:
        y_model = self.network(self.input_scaler(x_phys).half()).float()
        return self.output_scaler(y_model)


def strip_debug_info(proto: onnx.ModelProto) -> None:
    """Drop the exporter's per-node debug records (stack traces with local paths, FX names) and intermediate
    shapes: 90% of a small model's file, and nothing ONNX Runtime needs."""
    del proto.graph.metadata_props[:]
    del proto.graph.value_info[:]
    for node in proto.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""


def to_onnx(model: nn.Module, n_inputs: int, opset: int) -> bytes:
    """Serialized ONNX graph of `model` with a dynamic batch axis, via the torch.export-based exporter."""
    if opset < MIN_OPSET:
        raise UserError(f"--opset {opset}: the torch.export-based exporter needs opset >= {MIN_OPSET}")
    if opset > onnx.defs.onnx_opset_version():
        raise UserError(f"--opset {opset}: the installed onnx {onnx.__version__} knows opsets up to "
                        f"{onnx.defs.onnx_opset_version()}")
    example = torch.zeros(4, n_inputs, dtype=torch.float32)
    argument = next(iter(inspect.signature(model.forward).parameters))
    torch_onnx_logger = logging.getLogger("torch.onnx")
    previous = torch_onnx_logger.level
    torch_onnx_logger.setLevel(logging.ERROR)  # hides notes about optional torchvision operators
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model, (example,), dynamo=True, opset_version=opset, verbose=False,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_shapes={argument: {0: torch.export.Dim(BATCH_AXIS)}},
            )
    finally:
        torch_onnx_logger.setLevel(previous)
    proto = program.model_proto
    strip_debug_info(proto)
    batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    batch_dim.dim_param = BATCH_AXIS
    proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param = BATCH_AXIS
    return proto.SerializeToString()


def parity_points(run: LoadedRun, n_points: int = PARITY_POINTS, seed: int = 0) -> tuple[np.ndarray, str]:
    """Held-out inputs for the parity check, and where they came from.

    The run's test split of its table when the table file is there; otherwise points drawn inside the
    trained ranges (log-uniform for log-scaled inputs such as χ), plus the range corners.
    """
    rng = np.random.default_rng(seed)
    table_path = run.table_path
    if table_path.is_file():
        table = Table(table_path)
        rows = run.split_indices("test")
        rows = rows[rows < table.n_rows]
        if len(rows):
            rows = np.sort(rng.choice(rows, size=min(n_points, len(rows)), replace=False))
            columns = [table.read(name)[rows] for name in run.input_names]
            return np.stack(columns, axis=1).astype(np.float32), f"{len(rows)} test-split rows of {table_path}"
    scaler = run.model.input_scaler.to_dict()
    columns = []
    for name, is_log, floor in zip(run.input_names, scaler["log"], scaler["floor"]):
        lo, hi = run.input_ranges[name]
        if is_log and hi > 0:
            low = max(lo, floor)
            values = 10.0 ** rng.uniform(np.log10(low), np.log10(hi), n_points)
        else:
            values = rng.uniform(lo, hi, n_points)
        values[:2] = lo, hi
        columns.append(values)
    reason = "table not found" if not table_path.is_file() else "table has no test rows"
    return np.stack(columns, axis=1).astype(np.float32), f"{n_points} points sampled in the input ranges ({reason})"


@dataclass
class Parity:
    """Largest |ONNX Runtime - PyTorch| per output, absolute and relative to the output's scale (max |y|)."""

    output_names: list[str]
    max_abs: np.ndarray
    max_rel: np.ndarray
    source: str

    def worst(self) -> tuple[str, float]:
        index = int(np.argmax(self.max_rel))
        return self.output_names[index], float(self.max_rel[index])

    def lines(self) -> list[str]:
        rows = [f"{'output':<12} {'max abs error':>14} {'rel to scale':>13}"]
        rows += [f"{name:<12} {a:>14.3e} {r:>13.3e}" for name, a, r in zip(self.output_names, self.max_abs,
                                                                           self.max_rel)]
        return rows


def check_parity(onnx_bytes: bytes, model: nn.Module, x: np.ndarray, output_names: list[str], source: str) -> Parity:
    """Run the ONNX graph in ONNX Runtime (CPU) and the float32 PyTorch model on the same inputs."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    y_onnx = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0].astype(np.float64)
    with torch.no_grad():
        y_torch = model(torch.from_numpy(x)).double().numpy()
    error = np.abs(y_onnx - y_torch)
    max_abs = np.nan_to_num(error.max(axis=0), nan=np.inf)
    scale = np.maximum(np.abs(y_torch).max(axis=0), np.finfo(np.float32).tiny)
    return Parity(output_names, max_abs, max_abs / scale, source)


def build_metadata(run: LoadedRun, opset: int, precision: str, parity: Parity) -> dict[str, str]:
    """The metadata_props of the contract in :mod:`export.metadata`, from the run's configuration."""
    units = run.units
    return encode({
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "inputs": run.input_names,
        "outputs": run.output_names,
        "input_units": {name: units.get(name, "") for name in run.input_names},
        "output_units": {name: units.get(name, "") for name in run.output_names},
        "input_ranges": {name: [float(v) for v in run.input_ranges[name]] for name in run.input_names},
        "table_sha256": run.table_sha256,
        "toolkit_version": __version__,
        "model": run.config["model"]["name"],
        "model_options": run.config["model"].get("options", {}),
        "weighting": run.config.get("weighting", {}).get("name", ""),
        "opset": str(opset),
        "precision": precision,
        "parity_max_abs_error": {n: float(e) for n, e in zip(parity.output_names, parity.max_abs)},
    })


@dataclass
class ExportResult:
    path: Path
    n_bytes: int
    precision: str
    tolerance: float
    parity: Parity


def export_run(run: LoadedRun, path: str | os.PathLike, *, opset: int = DEFAULT_OPSET, fp16: bool = False,
               tolerance: float | None = None, echo: Callable[[str], None] = lambda line: None) -> ExportResult:
    """Export `run` to `path` if it passes the parity check; else raise UserError and write nothing."""
    target = check_writable(path)
    precision = "fp16" if fp16 else "fp32"
    tolerance = DEFAULT_TOLERANCE[precision] if tolerance is None else tolerance
    module = HalfPrecisionModel(run.model).eval() if fp16 else run.model.eval()
    echo(f"exporting {run.config['model']['name']} ({precision}, opset {opset}) with torch.export ...")
    onnx_bytes = to_onnx(module, len(run.input_names), opset)
    x, source = parity_points(run)
    parity = check_parity(onnx_bytes, run.model, x, run.output_names, source)
    echo(f"parity, ONNX Runtime vs PyTorch fp32 on {source}:")
    for line in parity.lines():
        echo("  " + line)
    worst_name, worst = parity.worst()
    if fp16:
        echo(f"fp16 costs accuracy: worst output {worst_name}, error {worst:.2e} of its scale against the "
             "fp32 PyTorch model")
    if not worst <= tolerance:
        raise UserError(f"{target}: parity check failed: {worst_name} error {worst:.3e} relative to its scale "
                        f"exceeds --tolerance {tolerance:g}; no file written")
    proto = onnx.load_from_string(onnx_bytes)
    for key, value in build_metadata(run, opset, precision, parity).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return ExportResult(target, len(data), precision, tolerance, parity)
