"""Export a trained run to ONNX (physical inputs in, physical outputs out) and verify parity with PyTorch.

The graph comes from PyTorch's ``torch.export``-based exporter (``torch.onnx.export(..., dynamo=True)``),
which PyTorch recommends over the TorchScript exporter; the file follows the contract written in
:mod:`export.metadata`: one graph input per tensor of the run's signature, in its order, with its name and
its dynamic axes (one ``torch.export.Dim`` per axis name, so axes named alike stay equal), one graph output
per output tensor, and the metadata (signature, provenance, parity, the checksum of the weights).

:func:`export_run` exports a trained run; :func:`export_module` is the same for any module called as
``module(*tensors)`` with a signature and parity inputs of its own (what a task with several tensors, or a
test, hands over).

Parity: ONNX Runtime (CPU) against the PyTorch model on held-out inputs: the run's test split of its table for a
row model (any task that trained on a table of rows and exports one input tensor) when the table file is there;
otherwise points drawn inside each input component's range (log-uniform for log-scaled inputs of a row model, such
as χ, plus the range corners) and standard normal for components without a range. Per output component we report
the largest absolute error and that error relative to the component's scale (max |y| over the points); export fails
when the relative figure exceeds the tolerance, and no file is written.

``fp16`` (row models, :class:`surrogate.scaling.PhysicalModel`): the network's weights and arithmetic are
float16, while input scaling (log10 of χ, whose floor lies below float16's range) and output scaling stay
float32, and so do the graph's inputs and outputs. Trace species below float16 resolution (~6e-8) lose
accuracy: the parity report shows how much.

Faster graph (fp32 row models, ``fold=True``): the scalers are folded into the network's first and last linear
layers (:mod:`export.folding`); the folded graph is kept when its parity error against the unfolded PyTorch
model stays within ``FOLD_TOLERANCE`` of each output's scale, else the unfolded graph is exported and the
report says why.

Validity (row models, :mod:`export.validity`): input ranges of dimensionless inputs reach their physical limits
0 and 1, and the metadata entry ``manifold`` bounds each input per bin of the first input over the training
split of the table (when the table file is there).
"""

from __future__ import annotations

import copy
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import onnx
import torch
from torch import nn

from surrogate import __version__
from surrogate.atomic import atomic_path, check_writable
from surrogate.errors import UserError
from surrogate.run import LoadedRun
from surrogate.scaling import PhysicalModel
from surrogate.table import SCATTERED

from .checksum import WEIGHTS_KEY, weights_sha256
from .folding import fold_scaling
from .metadata import (DEFAULT_OPSET, DEFAULT_TOLERANCE, FORMAT, FORMAT_VERSION, MANIFOLD_KEY, PLUGINS_KEY, Manifold,
                       Signature, Tensor, check_graph, encode, parse_signature)
from .validity import manifold_from_rows, snap_log_floors, snap_signature

MIN_OPSET = 18
PARITY_POINTS = 4096
PARITY_AXIS_SIZE = 8  # size of a named axis that is not the first axis of any input, in the parity inputs
FOLD_TOLERANCE = 1e-5  # largest parity error, relative to each output's scale, for which a folded graph is kept


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
    """Drop the exporter's per-node and per-tensor debug records (stack traces with local paths, FX names) and
    intermediate shapes: 90% of a small model's file, and nothing ONNX Runtime needs."""
    del proto.graph.metadata_props[:]
    del proto.graph.value_info[:]
    for item in [*proto.graph.node, *proto.graph.input, *proto.graph.output]:
        del item.metadata_props[:]
        item.doc_string = ""


def axis_sizes(signature: Signature, first: int, other: int) -> dict[str, int]:
    """A size for every named axis: `first` for the axes that lead an input tensor (the batch), else `other`."""
    sizes: dict[str, int] = {}
    for tensor in signature.inputs:
        for position, axis in enumerate(tensor.shape):
            if isinstance(axis, str) and axis not in sizes:
                sizes[axis] = first if position == 0 else other
    return sizes


def concrete_shape(tensor: Tensor, sizes: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(sizes[axis] if isinstance(axis, str) else axis for axis in tensor.shape)


def to_onnx(model: nn.Module, signature: Signature, opset: int) -> bytes:
    """Serialized ONNX graph of `model` with the signature's tensor names and dynamic axes, via torch.export."""
    if opset < MIN_OPSET:
        raise UserError(f"--opset {opset}: the torch.export-based exporter needs opset >= {MIN_OPSET}")
    if opset > onnx.defs.onnx_opset_version():
        raise UserError(f"--opset {opset}: the installed onnx {onnx.__version__} knows opsets up to "
                        f"{onnx.defs.onnx_opset_version()}")
    names = list(axis_sizes(signature, 0, 0))
    sizes = {name: 3 + i for i, name in enumerate(names)}  # distinct example sizes, none of them 0 or 1
    dims = {name: torch.export.Dim(name) for name in names}
    examples = tuple(torch.zeros(concrete_shape(t, sizes), dtype=torch.float32) for t in signature.inputs)
    dynamic = tuple({position: dims[axis] for position, axis in enumerate(t.shape) if isinstance(axis, str)}
                    for t in signature.inputs)
    torch_onnx_logger = logging.getLogger("torch.onnx")
    previous = torch_onnx_logger.level
    torch_onnx_logger.setLevel(logging.ERROR)  # hides notes about optional torchvision operators
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model, examples, dynamo=True, opset_version=opset, verbose=False,
                input_names=[t.name for t in signature.inputs], output_names=[t.name for t in signature.outputs],
                dynamic_shapes=dynamic,
            )
    finally:
        torch_onnx_logger.setLevel(previous)
    proto = program.model_proto
    strip_debug_info(proto)
    if len(proto.graph.output) != len(signature.outputs):
        raise UserError(f"the model returns {len(proto.graph.output)} tensor(s) but its signature names "
                        f"{len(signature.outputs)} ({', '.join(t.name for t in signature.outputs)})")
    for value, tensor in zip([*proto.graph.input, *proto.graph.output], [*signature.inputs, *signature.outputs]):
        for dim, axis in zip(value.type.tensor_type.shape.dim, tensor.shape):
            if isinstance(axis, str):  # the exporter's own symbol (s0, batch, ...) becomes the signature's name
                dim.dim_param = axis
    return proto.SerializeToString()


def sample_inputs(signature: Signature, n_points: int, seed: int = 0,
                  log_floors: Mapping[str, Sequence[float | None]] | None = None) -> dict[str, np.ndarray]:
    """Points for each input tensor: uniform in each component's range, with the range's lower and upper
    corner as the first two points; log-uniform where `log_floors[tensor][component]` gives the smallest
    positive value of a log-scaled component; standard normal for tensors without ranges (e.g. a latent).
    The first axis of the inputs has `n_points` entries, other named axes PARITY_AXIS_SIZE."""
    rng = np.random.default_rng(seed)
    sizes = axis_sizes(signature, n_points, PARITY_AXIS_SIZE)
    inputs = {}
    for tensor in signature.inputs:
        shape = concrete_shape(tensor, sizes)
        if not tensor.ranged:
            inputs[tensor.name] = rng.standard_normal(shape).astype(np.float32)
            continue
        floors = (log_floors or {}).get(tensor.name, [None] * len(tensor.components))
        columns = []
        for component, floor in zip(tensor.components, floors):
            lo, hi = component.range
            part = shape[:-1] + ((shape[-1],) if tensor.field else ())  # every element of a field, one column else
            if floor is not None and hi > 0:
                values = 10.0 ** rng.uniform(np.log10(max(lo, floor)), np.log10(hi), part)
            else:
                values = rng.uniform(lo, hi, part)
            if shape[0] >= 2:
                values[0], values[1] = lo, hi
            columns.append(values)
        values = columns[0] if tensor.field else np.stack(columns, axis=-1)
        inputs[tensor.name] = values.astype(np.float32)
    return inputs


def log_scaling(run: LoadedRun) -> tuple[list[bool], list[float]] | None:
    """Which inputs of a row model are log-scaled, and their floors (None for other models)."""
    if not isinstance(run.model, PhysicalModel) or not hasattr(run.model.input_scaler, "to_dict"):
        return None
    scaler = run.model.input_scaler.to_dict()
    return list(scaler["log"]), list(scaler["floor"])


def is_row_model(run: LoadedRun, signature: Signature) -> bool:
    """Whether the run's model maps one row of its table's input columns to outputs, whatever task trained it: the
    run trained on a table of rows (its splits are row indices) and the exported signature has one input tensor.
    Such a model gets the parity check on its test rows and manifold bounds from its training rows."""
    return str(run.config.get("dataset", SCATTERED)) == SCATTERED and len(signature.inputs) == 1


def parity_inputs(run: LoadedRun, signature: Signature, n_points: int = PARITY_POINTS,
                  seed: int = 0) -> tuple[dict[str, np.ndarray], str]:
    """Held-out inputs for the parity check, and where they came from.

    A row model (:func:`is_row_model`): the run's test split of its table when the table file is there.
    Otherwise :func:`sample_inputs`, log-uniform for the log-scaled inputs of a row model's input scaler.
    """
    rng = np.random.default_rng(seed)
    table_path = run.table_path
    row_model = is_row_model(run, signature)
    reason = "not a row model"
    if row_model:
        reason = "table not found"
        if table_path.is_file():
            table = run.table()
            rows = run.split_rows("test", table)
            reason = "table has no test rows"
            if len(rows):
                rows = np.sort(rng.choice(rows, size=min(n_points, len(rows)), replace=False))
                tensor = signature.inputs[0]
                x = table.read_matrix(tensor.column_names())[rows].astype(np.float32)
                return {tensor.name: x}, f"{len(rows)} test-split rows of {table_path}"
    scaling = log_scaling(run) if row_model else None
    floors = {signature.inputs[0].name: [f if log else None for log, f in zip(*scaling)]} if scaling else None
    inputs = sample_inputs(signature, n_points, seed, floors)
    return inputs, f"{n_points} points sampled in the input ranges ({reason})"


@dataclass
class Parity:
    """Largest |ONNX Runtime - PyTorch| per output component, absolute and relative to its scale (max |y|)."""

    keys: list[tuple[str, str]]  # (output tensor, component)
    max_abs: np.ndarray
    max_rel: np.ndarray
    source: str

    @property
    def labels(self) -> list[str]:
        """Component names, prefixed with their tensor's (``dudt/u``) when the model has several output tensors."""
        several = len({tensor for tensor, _ in self.keys}) > 1
        return [f"{tensor}/{component}" if several else component for tensor, component in self.keys]

    def worst(self) -> tuple[str, float]:
        index = int(np.argmax(self.max_rel))
        return self.labels[index], float(self.max_rel[index])

    def lines(self) -> list[str]:
        width = max(12, *(len(label) for label in self.labels))
        rows = [f"{'output':<{width}} {'max abs error':>14} {'rel to scale':>13}"]
        rows += [f"{label:<{width}} {a:>14.3e} {r:>13.3e}" for label, a, r in zip(self.labels, self.max_abs,
                                                                                self.max_rel)]
        return rows

    def recorded(self) -> dict[str, dict[str, float]]:
        """The metadata entry ``parity_max_abs_error``: {output tensor: {component: max abs error}}."""
        entry: dict[str, dict[str, float]] = {}
        for (tensor, component), error in zip(self.keys, self.max_abs):
            entry.setdefault(tensor, {})[component] = float(error)
        return entry


def per_component(values: np.ndarray, tensor: Tensor) -> np.ndarray:
    """Largest entry of `values` (shaped like the tensor) per component: over all elements for a field."""
    return values.reshape(-1, 1 if tensor.field else values.shape[-1]).max(axis=0)


def check_parity(onnx_bytes: bytes, model: nn.Module, inputs: Mapping[str, np.ndarray], signature: Signature,
                 source: str) -> Parity:
    """Run the ONNX graph in ONNX Runtime (CPU) and the float32 PyTorch model on the same inputs."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    names = [t.name for t in signature.outputs]
    y_onnx = session.run(names, {t.name: inputs[t.name] for t in signature.inputs})
    with torch.no_grad():
        y_torch = model(*(torch.from_numpy(inputs[t.name]) for t in signature.inputs))
    y_torch = y_torch if isinstance(y_torch, (tuple, list)) else (y_torch,)
    keys, max_abs, max_rel = [], [], []
    for tensor, onnx_values, torch_values in zip(signature.outputs, y_onnx, y_torch):
        reference = torch_values.double().numpy()
        error = per_component(np.abs(onnx_values.astype(np.float64) - reference), tensor)
        error = np.nan_to_num(error, nan=np.inf)
        scale = np.maximum(per_component(np.abs(reference), tensor), np.finfo(np.float32).tiny)
        keys += [(tensor.name, c.name) for c in tensor.components]
        max_abs.append(error)
        max_rel.append(error / scale)
    return Parity(keys, np.concatenate(max_abs), np.concatenate(max_rel), source)


@dataclass(frozen=True)
class Provenance:
    """Where a model comes from, recorded in the metadata next to its signature; `plugins`: the plugin
    distributions and versions the run's config.json lists (none for runs from before it did)."""

    table_sha256: str
    model: str
    model_options: dict[str, Any]
    task: str
    weighting: str
    plugins: tuple[dict[str, str], ...] = ()

    @classmethod
    def of_run(cls, run: LoadedRun) -> "Provenance":
        config = run.config
        return cls(run.table_sha256, config["model"]["name"], config["model"].get("options", {}),
                   run.task, config.get("weighting", {}).get("name", ""), tuple(config.get("plugins", ())))


def build_metadata(signature: Signature, provenance: Provenance, opset: int, precision: str,
                   parity: Parity, manifold: Manifold | None = None,
                   extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The metadata_props of the contract in :mod:`export.metadata` (version 2); `extra`: optional keys of the
    contract (e.g. a table backend's ``fpv_table``)."""
    optional: dict[str, Any] = {PLUGINS_KEY: list(provenance.plugins)} if provenance.plugins else {}
    if manifold is not None:
        optional[MANIFOLD_KEY] = manifold.to_json()
    optional.update(extra or {})
    return encode({
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "signature": signature.to_json(),
        "table_sha256": provenance.table_sha256,
        "toolkit_version": __version__,
        "model": provenance.model,
        "model_options": provenance.model_options,
        "task": provenance.task,
        "weighting": provenance.weighting,
        "opset": str(opset),
        "precision": precision,
        "parity_max_abs_error": parity.recorded(),
        **optional,
    })


def with_weights_checksum(proto: onnx.ModelProto) -> bytes:
    """The serialized model with metadata ``weights_sha256`` (see :mod:`export.checksum`) added, checked on the
    final bytes: the graph must serialize identically with and without the key, or the recorded sum would lie."""
    digest = weights_sha256(proto.SerializeToString())
    entry = proto.metadata_props.add()
    entry.key, entry.value = WEIGHTS_KEY, digest
    data = proto.SerializeToString()
    if digest is None or weights_sha256(data) != digest:
        raise RuntimeError("the ONNX graph serialized differently after adding metadata; its checksum would not hold")
    return data


@dataclass
class ExportResult:
    path: Path
    n_bytes: int
    precision: str
    tolerance: float
    parity: Parity


def export_module(model: nn.Module, signature: Signature, path: str | os.PathLike, *, provenance: Provenance,
                  parity_inputs: Mapping[str, np.ndarray], parity_source: str, opset: int = DEFAULT_OPSET,
                  fp16: bool = False, tolerance: float | None = None, fold: bool = True,
                  manifold: Manifold | None = None, extra_metadata: Mapping[str, Any] | None = None,
                  echo: Callable[[str], None] = lambda line: None) -> ExportResult:
    """Export `model` (called as ``model(*tensors)`` in the order of ``signature.inputs``, returning one tensor
    or a tuple in the order of ``signature.outputs``) to `path` if it passes the parity check on
    `parity_inputs` ({input tensor: array}); else raise UserError and write nothing. `fold`: fold the scalers of
    an fp32 row model into its end layers where exact enough; `manifold`: bounds stored in the metadata;
    `extra_metadata`: further optional keys of the contract."""
    target = check_writable(path)
    precision = "fp16" if fp16 else "fp32"
    tolerance = DEFAULT_TOLERANCE[precision] if tolerance is None else tolerance
    if fp16 and not isinstance(model, PhysicalModel):
        raise UserError(f"--fp16 needs a row model (scalers around a network); this model is a "
                        f"{type(model).__name__}")
    module = HalfPrecisionModel(model).eval() if fp16 else model.eval()
    folded = fold_scaling(model) if fold and not fp16 else None
    echo(f"exporting {provenance.model} ({precision}, opset {opset}{', scaling folded into the end layers' if folded else ''}) "
         f"with torch.export: {signature.describe()} ...")
    onnx_bytes = to_onnx(folded if folded is not None else module, signature, opset)
    parity = check_parity(onnx_bytes, model, parity_inputs, signature, parity_source)
    if folded is not None and not parity.worst()[1] <= FOLD_TOLERANCE:
        echo(f"folded graph off by {parity.worst()[1]:.2e} of {parity.worst()[0]}'s scale (> {FOLD_TOLERANCE:g}): "
             "exporting the unfolded graph")
        onnx_bytes = to_onnx(module, signature, opset)
        parity = check_parity(onnx_bytes, model, parity_inputs, signature, parity_source)
    echo(f"parity, ONNX Runtime vs PyTorch fp32 on {parity_source}:")
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
    for key, value in build_metadata(signature, provenance, opset, precision, parity, manifold,
                                     extra_metadata).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    check_graph(target, proto.graph, signature)
    data = with_weights_checksum(proto)
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return ExportResult(target, len(data), precision, tolerance, parity)


def training_manifold(run: LoadedRun, signature: Signature) -> Manifold | None:
    """Manifold bounds over the training split of a row model's table (None without the table file); log-scaled
    inputs bounded in log10(max(x, floor)), as the model sees them."""
    if not is_row_model(run, signature) or not run.table_path.is_file():
        return None
    tensor = signature.inputs[0]
    if not tensor.ranged or tensor.field or len(tensor.components) < 2:
        return None
    table = run.table()
    rows = np.sort(run.split_rows("train", table))
    if len(rows) == 0:
        return None
    x = table.read_matrix(tensor.column_names())[rows]
    scaling = log_scaling(run)
    floors = [f if flag else None for flag, f in zip(*scaling)] if scaling else None
    return manifold_from_rows(x, tensor.column_names(), [c.range for c in tensor.components], log_floors=floors)


def export_run(run: LoadedRun, path: str | os.PathLike, *, opset: int = DEFAULT_OPSET, fp16: bool = False,
               tolerance: float | None = None, fold: bool = True, manifold: bool = True,
               echo: Callable[[str], None] = lambda line: None) -> ExportResult:
    """Export the trained `run` to `path` (see :func:`export_module`), checked on its held-out inputs; ranges of
    dimensionless inputs snapped to their physical limits, manifold bounds from the training rows (`manifold`)."""
    from .fpv import export_fpv_run, is_fpv_run

    if is_fpv_run(run):
        if fp16:
            raise UserError("--fp16: a surrogate of an fpv table is exported in fp32 only")
        return export_fpv_run(run, path, opset=opset, tolerance=tolerance, echo=echo)
    signature = snap_signature(parse_signature(run.signature, f"{run.path}: the run's signature", UserError))
    scaling = log_scaling(run)
    if scaling is not None and len(signature.inputs) == 1 and signature.inputs[0].ranged:
        signature = snap_log_floors(signature, *scaling)
    inputs, source = parity_inputs(run, signature)
    bounds = training_manifold(run, signature) if manifold else None
    if bounds is not None:
        echo(f"manifold bounds: {len(bounds.edges) - 1} bins of {bounds.names[bounds.along]} over the training rows")
    return export_module(run.model, signature, path, provenance=Provenance.of_run(run), parity_inputs=inputs,
                         parity_source=source, opset=opset, fp16=fp16, tolerance=tolerance, fold=fold,
                         manifold=bounds, echo=echo)
