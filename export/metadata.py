"""The ONNX contract between the exporter and every runtime (Python, C, C++, Fortran).

A thermo-surrogate ONNX file is a plain ONNX model whose graph takes physical values and returns physical
values (scaling inside the graph), float32, and carries ``metadata_props`` (all strings, structures as JSON):

========================  ===================================================================================
key                       value
========================  ===================================================================================
``format``                ``thermo-surrogate-onnx``
``format_version``        ``2`` (files of version ``1`` are read too, see below)
``signature``             JSON ``{"inputs": [tensor, ...], "outputs": [tensor, ...]}``, in graph order (below)
``table_sha256``          SHA-256 of the training table file
``toolkit_version``       thermo-surrogate version that exported the file
``model``                 model plugin name (``softmax-mlp``, ``mlp``, ``fourier-mlp``, ...)
``model_options``         JSON ``{option: value}`` of the model plugin
``task``                  task plugin name (``regression`` for a row model)
``weighting``             weighting plugin name used in training
``plugins``               optional: JSON ``[{"kind", "name", "package", "version"}, ...]``, the plugin
                          distributions (with versions) that produced the model: the table's generator where the
                          table records it, the task, model, weighting (and the strategies it composes) and
                          physics losses, as the run's config.json lists them (runs from before it have none)
``opset``                 ONNX opset of the default domain, e.g. ``18``
``precision``             ``fp32`` or ``fp16`` (fp16: network weights and arithmetic; IO stays fp32)
``parity_max_abs_error``  JSON ``{output tensor: {component: largest |ONNX Runtime - PyTorch|}}`` measured at
                          export (a field component: the largest error over all its elements)
``manifold``              optional: JSON ``{"along": column, "edges": [e0, ..., eK], "bounds": {column: [[lo, hi],
                          ... K pairs]}}``: for K bins of one input column (a value v is in bin k when
                          ``e_k <= v < e_(k+1)``, compared in float32; below e1 is bin 0, from e_(K-1) on the last
                          bin) the range of other input columns seen in training, e.g. C_min(Z)..C_max(Z) and the
                          χ range per Z bin (see :class:`Manifold`). With ``"interpolation": "linear"`` the edges
                          are K + 1 nodes and each column has K + 1 pairs, one per node: the bounds at v are
                          interpolated linearly between the nodes around v (v clamped to [e0, eK]), a continuous
                          C_min(Z)..C_max(Z) (``"bins"``, the default, is the binned form). Runtimes flag cells
                          inside the box of ranges but off these bounds as out of range (Python, C, C++, Fortran
                          alike); for the linear form beyond a slack of ``LINEAR_SLACK`` times the column's range
``fpv_table``             optional, table-backend files only: the structured (Z, Λ) table the graph looks up, for
                          runtimes that evaluate it compiled (see :mod:`export.table_model`)
``weights_sha256``        optional: lower-case hex SHA-256 of the file's top-level ``graph`` field (the weights),
                          see :mod:`export.checksum`; verified at every load when present (files written before
                          it existed, and version 1 files, have none and still load)
========================  ===================================================================================

A tensor of the signature is ``{"name", "dtype", "shape", "components"}``:

- ``name``: the graph input/output of that name; ``dtype``: ``float32`` (the only one);
- ``shape``: a list whose strings are dynamic axes (named; equal names have equal sizes, e.g. ``batch``) and
  whose integers are fixed sizes, e.g. ``["batch", 3]``;
- ``components``: what the elements of the LAST axis are, ``{"name", "units"}`` plus, for inputs only, an
  optional valid ``"range": [min, max]`` (seen in training). Either one entry per element (a row model's
  columns Z, C, χ) or exactly one entry that applies to every element (a field on a grid: a state
  ``[batch, 50]`` with the one component ``u``). Within a tensor, either every component has a range or none
  has (e.g. a CVAE latent, standard normal by construction, has none).

So a row model is ``inputs [batch, n_inputs] -> outputs [batch, n_outputs]``, a time-stepper
``state [batch, M] -> dudt [batch, M]`` and a CVAE decoder ``condition [batch, 2], latent [batch, 3] ->
outputs [batch, n]``. Per-column helpers (:attr:`ModelInfo.input_names` and friends, the runtime's
``surrogate(x)``, ``surrogate infer``, the C wrapper) need one input and one output tensor; their column
names are the component names, or ``u[0]``, ``u[1]``, ... for a one-entry field ``u`` on a fixed axis.

Version 1 (toolkit before ONNX contract v2) had one input ``inputs`` ``[batch, n_inputs]`` and one output
``outputs`` ``[batch, n_outputs]`` described by flat keys instead of ``signature`` and ``task``: ``inputs`` /
``outputs`` (JSON name lists), ``input_units`` / ``output_units`` (JSON ``{name: units}``), ``input_ranges``
(JSON ``{name: [min, max]}``, required for every input) and ``parity_max_abs_error`` (JSON ``{output:
error}``). :func:`check_metadata` derives the same :class:`Signature` from them, so callers never branch on
the version.

This module reads and checks the contract without importing torch, so the runtime stays light.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.errors import UserError

from .checksum import WEIGHTS_KEY, weights_sha256

POLICIES = ("clip", "warn", "error", "count")  # what the runtime does with cells outside the trained ranges
PROVIDERS = ("auto", "cpu", "cuda")
DEFAULT_OPSET = 18
DEFAULT_TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2}  # parity error allowed, relative to each output's scale

FORMAT = "thermo-surrogate-onnx"
FORMAT_VERSION = 2
DTYPES = ("float32",)
REAL_KINDS = "fiu"  # NumPy/CuPy dtype kinds (float, int, unsigned int) the runtimes take as inputs, cast to float32
V1_KEYS = ("inputs", "outputs", "input_units", "output_units", "input_ranges")
REQUIRED_KEYS = {
    1: ("format", "format_version", *V1_KEYS, "table_sha256", "toolkit_version", "model", "model_options",
        "weighting", "opset", "precision", "parity_max_abs_error"),
    2: ("format", "format_version", "signature", "table_sha256", "toolkit_version", "model", "model_options",
        "task", "weighting", "opset", "precision", "parity_max_abs_error"),
}
MANIFOLD_KEY = "manifold"
TABLE_KEY = "fpv_table"
PLUGINS_KEY = "plugins"
OPTIONAL_KEYS = (PLUGINS_KEY, MANIFOLD_KEY, WEIGHTS_KEY, TABLE_KEY)
JSON_KEYS = ("signature", *V1_KEYS, "model_options", "parity_max_abs_error", PLUGINS_KEY, MANIFOLD_KEY, TABLE_KEY)
INTERPOLATIONS = ("bins", "linear")
LINEAR_SLACK = 1e-6  # a linear manifold flags a value beyond its bound by more than this share of the column's range
TENSOR_KEYS = ("name", "dtype", "shape", "components")
COMPONENT_KEYS = ("name", "units", "range")


class ModelFileError(UserError):
    """A file that is not a readable thermo-surrogate ONNX model."""


class MultiTensorError(UserError):
    """A per-column API used on a model it cannot serve: several input or output tensors, or no fixed last axis."""


def encode(metadata: dict[str, Any]) -> dict[str, str]:
    """Metadata values as the strings ONNX stores: strict JSON for structures (NaN and Infinity, which JSON cannot
    hold and other languages' parsers refuse, are a one-line UserError naming the key), strings as they are."""
    encoded = {}
    for key, value in metadata.items():
        try:
            encoded[key] = value if isinstance(value, str) else json.dumps(value, allow_nan=False)
        except ValueError:
            raise UserError(f"metadata {key!r}: holds NaN or Infinity, which strict JSON cannot hold") from None
    return encoded


@dataclass(frozen=True)
class Component:
    """What the elements of a tensor's last axis are: name, units and, for inputs, the valid range."""

    name: str
    units: str
    range: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "units": self.units}
        if self.range is not None:
            entry["range"] = list(self.range)
        return entry


@dataclass(frozen=True)
class Tensor:
    """One graph input or output: name, shape (str: named dynamic axis, int: fixed size) and components."""

    name: str
    shape: tuple[int | str, ...]
    components: tuple[Component, ...]
    dtype: str = "float32"

    @property
    def field(self) -> bool:
        """One component for every element of a last axis that is dynamic or longer than one."""
        return len(self.components) == 1 and self.shape[-1] != 1

    @property
    def ranged(self) -> bool:
        """Every component has a range (the signature allows all or none)."""
        return self.components[0].range is not None

    def column_names(self) -> list[str]:
        """One name per element of the (fixed) last axis: the components, or ``u[0]``, ``u[1]``, ... for a field."""
        width = self.shape[-1]
        if not isinstance(width, int):
            raise MultiTensorError(f"{self.name} {self.dims()}: its last axis is dynamic, so it has no column names")
        if not self.field:
            return [c.name for c in self.components]
        return [f"{self.components[0].name}[{i}]" for i in range(width)]

    def dims(self) -> str:
        return f"({', '.join(str(d) for d in self.shape)})"

    def layout(self) -> str:
        """e.g. ``(batch, 3) with columns Z, C, chi`` or ``(batch, 50) of field u``, for messages."""
        if self.field:
            return f"{self.dims()} of field {self.components[0].name}"
        return f"{self.dims()} with columns {', '.join(c.name for c in self.components)}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape),
                "components": [c.to_json() for c in self.components]}


@dataclass(frozen=True)
class Signature:
    """The tensors a model takes and returns, in graph order."""

    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]

    def to_json(self) -> dict[str, Any]:
        return {"inputs": [t.to_json() for t in self.inputs], "outputs": [t.to_json() for t in self.outputs]}

    def describe(self) -> str:
        """e.g. ``condition (batch, 2), latent (batch, 3) -> outputs (batch, 4)``."""
        def side(tensors: tuple[Tensor, ...]) -> str:
            return ", ".join(f"{t.name} {t.dims()}" for t in tensors)
        return f"{side(self.inputs)} -> {side(self.outputs)}"


class _Invalid(Exception):
    """A flaw in a signature; parse_signature turns it into the caller's one-line error."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _object(value: Any, allowed: tuple[str, ...], required: tuple[str, ...], what: str) -> dict[str, Any]:
    """`value` as a JSON object with the required keys and no others; else a message naming `what`."""
    if not isinstance(value, dict):
        raise _Invalid(f"{what} is not a JSON object")
    unknown = [k for k in value if k not in allowed]
    missing = [k for k in required if k not in value]
    if unknown or missing:
        raise _Invalid(f"{what} " + "; ".join(
            ([f"has unknown key(s) {', '.join(map(repr, unknown))}"] if unknown else []) +
            ([f"lacks {', '.join(map(repr, missing))}"] if missing else [])))
    return value


def _component(value: Any, index: int, tensor: str, is_input: bool) -> Component:
    entry = _object(value, COMPONENT_KEYS, ("name", "units"), f"component #{index} of {tensor}")
    name, units = entry["name"], entry["units"]
    if not isinstance(name, str) or not name:
        raise _Invalid(f"component #{index} of {tensor}: 'name' must be a non-empty string")
    what = f"component {name!r} of {tensor}"
    if not isinstance(units, str):
        raise _Invalid(f"{what}: 'units' must be a string, not {json.dumps(units)}")
    if "range" not in entry:
        return Component(name, units)
    if not is_input:
        raise _Invalid(f"{what} has a 'range'; only inputs have ranges")
    bounds = entry["range"]
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(map(_number, bounds))
            and float(bounds[0]) <= float(bounds[1])):
        raise _Invalid(f"{what}: 'range' must be [min, max] with min <= max, not {json.dumps(bounds)}")
    return Component(name, units, (float(bounds[0]), float(bounds[1])))


def _tensor(value: Any, side: str, index: int) -> Tensor:
    kind = side[:-1]  # "input" / "output"
    entry = _object(value, TENSOR_KEYS, TENSOR_KEYS, f"{kind} #{index}")
    name = entry["name"]
    if not isinstance(name, str) or not name:
        raise _Invalid(f"{kind} #{index}: 'name' must be a non-empty string")
    what = f"{kind} {name!r}"
    if entry["dtype"] not in DTYPES:
        raise _Invalid(f"{what}: dtype {json.dumps(entry['dtype'])} is not supported (expected {', '.join(DTYPES)})")
    shape = entry["shape"]
    if not isinstance(shape, list) or not shape or not all(
            (isinstance(d, int) and not isinstance(d, bool) and d > 0) or (isinstance(d, str) and d) for d in shape):
        raise _Invalid(f"{what}: 'shape' must be a non-empty list of axis names and positive sizes, "
                       f"not {json.dumps(shape)}")
    items = entry["components"]
    if not isinstance(items, list) or not items:
        raise _Invalid(f"{what}: 'components' must be a non-empty list")
    width = shape[-1]
    if len(items) != 1 and len(items) != width:
        expected = f"1 or {width}" if isinstance(width, int) else f"1 (the last axis {width!r} is dynamic)"
        raise _Invalid(f"{what} has {len(items)} components for last axis {width!r}: expected {expected}")
    components = tuple(_component(c, i, what, side == "inputs") for i, c in enumerate(items))
    names = [c.name for c in components]
    if len(set(names)) != len(names):
        raise _Invalid(f"{what}: component names repeat ({', '.join(names)})")
    with_range = [c.range is not None for c in components]
    if any(with_range) and not all(with_range):
        missing = components[with_range.index(False)].name
        raise _Invalid(f"component {missing!r} of {what} has no 'range' while others have one")
    return Tensor(name, tuple(shape), components, entry["dtype"])


def parse_signature(data: Any, where: str, error: type[UserError] = ModelFileError) -> Signature:
    """Check a decoded signature (see the module docstring); a flaw is a one-line `error` starting with `where`."""
    try:
        entry = _object(data, ("inputs", "outputs"), ("inputs", "outputs"), "the signature")
        sides = {}
        for side in ("inputs", "outputs"):
            if not isinstance(entry[side], list) or not entry[side]:
                raise _Invalid(f"{side!r} must be a non-empty list of tensors")
            sides[side] = tuple(_tensor(t, side, i) for i, t in enumerate(entry[side]))
        names = [t.name for t in sides["inputs"] + sides["outputs"]]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise _Invalid(f"tensor name(s) {', '.join(repeated)} used more than once")
    except _Invalid as exc:
        raise error(f"{where}: {exc}") from None
    return Signature(sides["inputs"], sides["outputs"])


def _v1_signature(path: Path, raw: dict[str, str]) -> Signature:
    """The signature a version 1 file describes with its flat keys: ``inputs`` [batch, n] -> ``outputs`` [batch, m]."""
    decoded = {key: json.loads(raw[key]) for key in V1_KEYS}
    for key, kind in (("inputs", list), ("outputs", list), ("input_units", dict), ("output_units", dict),
                      ("input_ranges", dict)):
        if not isinstance(decoded[key], kind) or (kind is list and not all(isinstance(n, str) for n in decoded[key])):
            expected = "list of names" if kind is list else "object"
            raise ModelFileError(f"{path}: metadata {key!r} is not a JSON {expected}")
    missing = [name for name in decoded["inputs"] if name not in decoded["input_ranges"]]
    if missing:
        raise ModelFileError(f"{path}: metadata 'input_ranges' has no range for input(s) {', '.join(missing)}")

    def tensor(side: str, units: dict[str, Any], ranges: dict[str, Any]) -> dict[str, Any]:
        return {"name": side, "dtype": "float32", "shape": ["batch", len(decoded[side])],
                "components": [{"name": n, "units": units.get(n, ""), **({"range": ranges[n]} if n in ranges else {})}
                               for n in decoded[side]]}

    return parse_signature({"inputs": [tensor("inputs", decoded["input_units"], decoded["input_ranges"])],
                            "outputs": [tensor("outputs", decoded["output_units"], {})]},
                           f"{path}: version 1 metadata")


@dataclass(frozen=True)
class Manifold:
    """Manifold bounds of the metadata entry ``manifold`` for the input columns ``names``, along column ``along``:
    per bin (``linear`` False: ``edges`` are K + 1 bin edges, ``lower``/``upper`` [K, columns]) or per node, linearly
    interpolated between nodes (``linear`` True: ``edges`` are K + 1 nodes, ``lower``/``upper`` [K + 1, columns]);
    -inf..inf where the entry gives none. Float32 as the inputs are compared; the C wrapper (surrogate_manifold.c)
    reads and evaluates them the same way. ``slack`` [columns]: how far past a linear bound a value may lie before
    it counts as off (rounding of a bound the solver evaluated in double); 0 for bins."""

    names: tuple[str, ...]
    along: int
    edges: np.ndarray  # float32
    lower: np.ndarray  # float32 [bins or nodes, n_columns]
    upper: np.ndarray
    linear: bool = False
    slack: np.ndarray | None = None  # float32 [n_columns]

    def to_json(self) -> dict[str, Any]:
        bounded = [i for i in range(len(self.names)) if np.isfinite(self.lower[:, i]).all()]
        entry: dict[str, Any] = {"along": self.names[self.along]}
        if self.linear:
            entry["interpolation"] = "linear"
        entry["edges"] = [float(e) for e in self.edges]
        entry["bounds"] = {self.names[i]: [[float(a), float(b)] for a, b in zip(self.lower[:, i], self.upper[:, i])]
                           for i in bounded}
        return entry

    def bins(self, along_values: Any) -> Any:
        """The bin of each value of the binned column (NumPy array of int); binned form only."""
        return np.searchsorted(self.edges[1:-1], np.asarray(along_values, dtype=np.float32), side="right")

    def bounds(self, along_values: Any) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) [cells, columns] at each value of the `along` column: its bin's bounds, or the bounds
        interpolated linearly between the nodes around it (computed in float64, returned as float32)."""
        v = np.asarray(along_values, dtype=np.float32)
        if not self.linear:
            k = self.bins(v)
            return self.lower[k], self.upper[k]
        nodes = self.edges.astype(np.float64)
        v = np.clip(v.astype(np.float64), nodes[0], nodes[-1])
        k = np.clip(np.searchsorted(nodes, v, side="right") - 1, 0, len(nodes) - 2)
        t = ((v - nodes[k]) / (nodes[k + 1] - nodes[k]))[:, None]
        with np.errstate(invalid="ignore"):  # inf - inf of unbounded columns: they stay unbounded below
            lower = self.lower[k].astype(np.float64) * (1 - t) + self.lower[k + 1] * t
            upper = self.upper[k].astype(np.float64) * (1 - t) + self.upper[k + 1] * t
        unbounded = ~np.isfinite(self.lower[0])
        lower[:, unbounded], upper[:, unbounded] = -np.inf, np.inf
        return lower.astype(np.float32), upper.astype(np.float32)

    @cached_property
    def _bounded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices of the bounded columns and their lower / upper bounds as [column, bin], contiguous."""
        columns = np.flatnonzero(np.isfinite(self.lower).all(axis=0))
        return (columns, np.ascontiguousarray(self.lower[:, columns].T),
                np.ascontiguousarray(self.upper[:, columns].T))

    def off(self, x: np.ndarray) -> np.ndarray:
        """Rows of `x` (cells × columns, float32 NumPy) with a column outside its bounds at its Z (a NaN too);
        binned bounds are compared column by column on contiguous rows, the per-call hot path of the runtime."""
        if not self.linear:
            k = self.bins(x[:, self.along])
            columns, lower, upper = self._bounded
            values = x[:, columns].T
            return ~((values >= lower[:, k]) & (values <= upper[:, k])).all(axis=0)
        lower, upper = self.bounds(x[:, self.along])
        return ~((x >= lower - self.slack) & (x <= upper + self.slack)).all(axis=1)

    def clip(self, x: np.ndarray) -> np.ndarray:
        lower, upper = self.bounds(x[:, self.along])
        return np.clip(x, lower, upper)

    @classmethod
    def parse(cls, data: Any, names: list[str], where: str,
              ranges: list[tuple[float, float]] | None = None) -> "Manifold":
        """Check a decoded ``manifold`` entry against the input columns (`ranges`: their box ranges, for the
        linear form's slack); a flaw is a one-line ModelFileError."""
        try:
            entry = _object(data, ("along", "edges", "bounds", "interpolation"), ("along", "edges", "bounds"), "it")
            interpolation = entry.get("interpolation", "bins")
            if interpolation not in INTERPOLATIONS:
                raise _Invalid(f"'interpolation' is {json.dumps(interpolation)}, expected one of "
                               f"{', '.join(INTERPOLATIONS)}")
            linear = interpolation == "linear"
            if entry["along"] not in names:
                raise _Invalid(f"'along' is {json.dumps(entry['along'])}, not an input column")
            edges = entry["edges"]
            if not (isinstance(edges, list) and len(edges) >= 2 and all(map(_number, edges))
                    and all(a < b for a, b in zip(edges, edges[1:]))):
                raise _Invalid("'edges' must be at least 2 increasing numbers")
            along, n_rows = names.index(entry["along"]), len(edges) - (0 if linear else 1)
            lower = np.full((n_rows, len(names)), -np.inf)
            upper = np.full((n_rows, len(names)), np.inf)
            if not isinstance(entry["bounds"], dict):
                raise _Invalid("'bounds' is not a JSON object")
            for name, pairs in entry["bounds"].items():
                if name not in names or name == entry["along"]:
                    raise _Invalid(f"'bounds' names {name!r}, " + ("the binned column itself" if name in names
                                                                    else "which is not an input column"))
                if not (isinstance(pairs, list) and len(pairs) == n_rows and all(
                        isinstance(p, list) and len(p) == 2 and all(map(_number, p)) and p[0] <= p[1] for p in pairs)):
                    raise _Invalid(f"'bounds' of {name!r} must be {n_rows} pairs [lo, hi] with lo <= hi"
                                   + (" (one per node)" if linear else ""))
                column = names.index(name)
                lower[:, column], upper[:, column] = np.array(pairs, dtype=np.float64).T
        except _Invalid as exc:
            raise ModelFileError(f"{where}: metadata 'manifold' is not valid: {exc}") from None
        slack = None
        if linear:
            spans = [hi - lo if math.isfinite(hi - lo) else 0.0 for lo, hi in (ranges or [(0.0, 0.0)] * len(names))]
            slack = (LINEAR_SLACK * np.array(spans)).astype(np.float32)
        return cls(tuple(names), along, np.array(edges, dtype=np.float32), lower.astype(np.float32),
                   upper.astype(np.float32), linear, slack)


@dataclass(frozen=True)
class ModelInfo:
    """Decoded metadata of one thermo-surrogate ONNX file (version 1 or 2, one :class:`Signature` for both)."""

    path: Path
    raw: dict[str, str]
    signature: Signature

    @property
    def version(self) -> int:
        return int(self.raw["format_version"])

    @cached_property
    def row_tensors(self) -> tuple[Tensor, Tensor]:
        """The one input and the one output tensor; a MultiTensorError for models with more."""
        signature = self.signature
        if len(signature.inputs) != 1 or len(signature.outputs) != 1:
            feed = ", ".join(f"{t.name!r}: ..." for t in signature.inputs)
            raise MultiTensorError(f"{self.path}: {signature.describe()}: per-column use (surrogate(x), surrogate "
                                   "infer, the C wrapper) needs one input and one output tensor; evaluate this "
                                   f"model with Surrogate.run({{{feed}}})")
        return signature.inputs[0], signature.outputs[0]

    @cached_property  # read on every inference call: decoded once
    def input_names(self) -> list[str]:
        return self.row_tensors[0].column_names()

    @cached_property
    def output_names(self) -> list[str]:
        return self.row_tensors[1].column_names()

    def _per_column(self, tensor: Tensor, attribute: str) -> dict[str, Any]:
        names = tensor.column_names()
        values = [getattr(c, attribute) for c in tensor.components]
        return dict(zip(names, values * len(names) if tensor.field else values))

    @property
    def input_units(self) -> dict[str, str]:
        return self._per_column(self.row_tensors[0], "units")

    @property
    def output_units(self) -> dict[str, str]:
        return self._per_column(self.row_tensors[1], "units")

    @property
    def input_ranges(self) -> dict[str, tuple[float, float]]:
        """{column: (min, max)}; (-inf, inf) for an input tensor without ranges."""
        tensor = self.row_tensors[0]
        if not tensor.ranged:
            return {name: (-math.inf, math.inf) for name in tensor.column_names()}
        return self._per_column(tensor, "range")

    @cached_property
    def manifold(self) -> Manifold | None:
        """The manifold bounds of the one input tensor's columns, or None when the file has none."""
        if MANIFOLD_KEY not in self.raw:
            return None
        ranges = self.input_ranges
        return Manifold.parse(json.loads(self.raw[MANIFOLD_KEY]), self.input_names, str(self.path),
                              [ranges[name] for name in self.input_names])

    @property
    def parity(self) -> dict[str, dict[str, float]]:
        """{output tensor: {component: largest |ONNX Runtime - PyTorch|}} recorded at export (both versions)."""
        recorded = json.loads(self.raw["parity_max_abs_error"])
        return {"outputs": recorded} if self.version == 1 else recorded

    def decoded(self) -> dict[str, Any]:
        """Every entry, JSON entries decoded, in the order of the contract (unknown extras last)."""
        known = REQUIRED_KEYS[self.version] + OPTIONAL_KEYS
        keys = [k for k in known if k in self.raw] + sorted(set(self.raw) - set(known))
        return {k: json.loads(self.raw[k]) if k in JSON_KEYS else self.raw[k] for k in keys}


def check_metadata(path: str | os.PathLike, raw: dict[str, str]) -> ModelInfo:
    """Validate metadata read from `path`; a foreign, newer or forged file is a one-line ModelFileError."""
    path = Path(path)
    if raw.get("format") != FORMAT:
        raise ModelFileError(
            f"{path}: ONNX model without thermo-surrogate metadata (metadata 'format' is {raw.get('format')!r}, "
            f"expected {FORMAT!r}); export it with `surrogate export`"
        )
    version = raw.get("format_version", "0")
    if version not in {str(v) for v in REQUIRED_KEYS}:
        raise ModelFileError(f"{path}: model format version {version!r} is not supported (this toolkit reads "
                             f"versions 1 to {FORMAT_VERSION}); upgrade thermo-surrogate")
    missing = [k for k in REQUIRED_KEYS[int(version)] if k not in raw]
    if missing:
        raise ModelFileError(f"{path}: thermo-surrogate ONNX metadata lacks {', '.join(missing)} (a truncated file, "
                             "or one not written by `surrogate export`)")
    for key in JSON_KEYS:
        try:
            if key in raw:
                json.loads(raw[key])
        except json.JSONDecodeError:
            raise ModelFileError(f"{path}: metadata {key!r} is not valid JSON") from None
    if version == "1":
        signature = _v1_signature(path, raw)
    else:
        signature = parse_signature(json.loads(raw["signature"]), f"{path}: metadata 'signature'")
    _check_parity(path, json.loads(raw["parity_max_abs_error"]), int(version))
    info = ModelInfo(path, dict(raw), signature)
    if MANIFOLD_KEY in raw:
        info.manifold  # checked at load, as the C wrapper checks it
    return info


def _check_parity(path: Path, recorded: Any, version: int) -> None:
    """``parity_max_abs_error`` is {output tensor: {component: number}} (version 1: {output: number})."""
    def errors(entry: Any) -> bool:
        return isinstance(entry, dict) and all(isinstance(k, str) and _number(v) for k, v in entry.items())
    tensors = {"outputs": recorded} if version == 1 else recorded
    if not (isinstance(tensors, dict) and all(isinstance(k, str) and errors(v) for k, v in tensors.items())):
        expected = "{output: error}" if version == 1 else "{output tensor: {component: error}}"
        raise ModelFileError(f"{path}: metadata 'parity_max_abs_error' is not a JSON {expected} of numbers")


def check_graph(path: Path, graph: Any, signature: Signature) -> None:
    """The graph's inputs and outputs are the signature's tensors: names in order, float32, rank, fixed sizes."""
    import onnx

    initializers = {t.name for t in graph.initializer}
    for side, values, tensors in (("inputs", [v for v in graph.input if v.name not in initializers],
                                   signature.inputs), ("outputs", graph.output, signature.outputs)):
        graph_names, names = [v.name for v in values], [t.name for t in tensors]
        if graph_names != names:
            raise ModelFileError(f"{path}: the graph's {side} are ({', '.join(graph_names)}) but metadata "
                                 f"'signature' names ({', '.join(names)})")
        for value, tensor in zip(values, tensors):
            kind = value.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else None for d in kind.shape.dim]
            fits = len(dims) == len(tensor.shape) and all(
                d is None or not isinstance(s, int) or d == s for d, s in zip(dims, tensor.shape))
            if kind.elem_type != onnx.TensorProto.FLOAT or not fits:
                shown = ", ".join("?" if d is None else str(d) for d in dims)
                raise ModelFileError(f"{path}: graph {side[:-1]} {tensor.name!r} is "
                                     f"{onnx.helper.tensor_dtype_to_np_dtype(kind.elem_type)} ({shown}); metadata "
                                     f"'signature' says float32 {tensor.dims()}")


def read_model_file(path: str | os.PathLike) -> tuple[bytes, ModelInfo]:
    """Bytes and checked metadata of an ONNX file; a missing, truncated, foreign or forged file is a ModelFileError."""
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        proto = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: not a readable ONNX file, truncated or corrupt "
                             f"({exc.__class__.__name__})") from None
    if not proto.graph.node:
        raise ModelFileError(f"{path}: not a readable ONNX file (no graph), truncated or not ONNX")
    raw = {prop.key: prop.value for prop in proto.metadata_props}
    if raw.get("format") != FORMAT:
        try:  # a file cut at a field boundary parses but fails the checker; a foreign model passes it
            onnx.checker.check_model(proto)
        except onnx.checker.ValidationError:
            raise ModelFileError(f"{path}: not a readable ONNX file, truncated or corrupt (invalid graph)") from None
    info = check_metadata(path, raw)
    check_weights(path, data, raw)
    check_graph(path, proto.graph, info.signature)
    return data, info


def check_weights(path: Path, data: bytes, raw: dict[str, str]) -> None:
    """The graph's bytes hash to the recorded ``weights_sha256`` (when recorded): bit rot or an edit after export
    changes the predictions without any other symptom."""
    recorded = raw.get(WEIGHTS_KEY)
    if recorded is not None and recorded != weights_sha256(data):
        raise ModelFileError(f"{path}: weights checksum mismatch (file corrupted after export?)")
