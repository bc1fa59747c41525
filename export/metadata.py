"""The ONNX contract between the exporter and every runtime (Python, C, C++, Fortran).

A thermo-surrogate ONNX file is a plain ONNX model with:

- one graph input ``inputs``: float32 ``[batch, n_inputs]``, physical values (e.g. Z, C, χ in their table
  units) in the column order of the ``inputs`` metadata entry;
- one graph output ``outputs``: float32 ``[batch, n_outputs]``, physical values in the order of ``outputs``;
- a dynamic first axis named ``batch``; input scaling (min-max, log10 of χ) and output scaling are inside
  the graph (the exported module is :class:`surrogate.scaling.PhysicalModel`);
- ``metadata_props``, all strings, structures as JSON:

  ========================  ===============================================================================
  key                       value
  ========================  ===============================================================================
  ``format``                ``thermo-surrogate-onnx``
  ``format_version``        ``1``
  ``inputs``                JSON list of input names, column order
  ``outputs``               JSON list of output names, column order
  ``input_units``           JSON ``{name: units}``
  ``output_units``          JSON ``{name: units}``
  ``input_ranges``          JSON ``{name: [min, max]}`` seen in the training data: the valid range
  ``table_sha256``          SHA-256 of the training table file
  ``toolkit_version``       thermo-surrogate version that exported the file
  ``model``                 model plugin name (``softmax-mlp``, ``mlp``, ``fourier-mlp``, ...)
  ``model_options``         JSON ``{option: value}`` of the model plugin
  ``weighting``             weighting plugin name used in training
  ``opset``                 ONNX opset of the default domain, e.g. ``18``
  ``precision``             ``fp32`` or ``fp16`` (fp16: network weights and arithmetic; IO stays fp32)
  ``parity_max_abs_error``  JSON ``{output: largest |ONNX Runtime - PyTorch|}`` measured at export
  ========================  ===============================================================================

This module reads and checks that contract without importing torch, so the runtime stays light.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from surrogate.errors import UserError

POLICIES = ("clip", "warn", "error")  # what the runtime does with cells outside the trained ranges
PROVIDERS = ("auto", "cpu", "cuda")
DEFAULT_OPSET = 18
DEFAULT_TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2}  # parity error allowed, relative to each output's scale

FORMAT = "thermo-surrogate-onnx"
FORMAT_VERSION = 1
INPUT_NAME = "inputs"
OUTPUT_NAME = "outputs"
BATCH_AXIS = "batch"
JSON_KEYS = ("inputs", "outputs", "input_units", "output_units", "input_ranges", "model_options",
             "parity_max_abs_error")
REQUIRED_KEYS = ("format", "format_version", *JSON_KEYS[:5], "table_sha256", "toolkit_version", "model",
                 "model_options", "weighting", "opset", "precision", "parity_max_abs_error")


class ModelFileError(UserError):
    """A file that is not a readable thermo-surrogate ONNX model."""


def encode(metadata: dict[str, Any]) -> dict[str, str]:
    """Metadata values as the strings ONNX stores: JSON for structures, str() for scalars."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in metadata.items()}


@dataclass(frozen=True)
class ModelInfo:
    """Decoded metadata of one thermo-surrogate ONNX file."""

    path: Path
    raw: dict[str, str]

    @cached_property  # read on every inference call: decoded once
    def input_names(self) -> list[str]:
        return list(json.loads(self.raw["inputs"]))

    @cached_property
    def output_names(self) -> list[str]:
        return list(json.loads(self.raw["outputs"]))

    @property
    def input_units(self) -> dict[str, str]:
        return dict(json.loads(self.raw["input_units"]))

    @property
    def output_units(self) -> dict[str, str]:
        return dict(json.loads(self.raw["output_units"]))

    @property
    def input_ranges(self) -> dict[str, tuple[float, float]]:
        ranges = json.loads(self.raw["input_ranges"])
        return {name: (float(ranges[name][0]), float(ranges[name][1])) for name in self.input_names}

    def decoded(self) -> dict[str, Any]:
        """Every entry, JSON entries decoded, in the order of the contract (unknown extras last)."""
        keys = [k for k in REQUIRED_KEYS if k in self.raw] + sorted(set(self.raw) - set(REQUIRED_KEYS))
        return {k: json.loads(self.raw[k]) if k in JSON_KEYS else self.raw[k] for k in keys}


def check_metadata(path: str | os.PathLike, raw: dict[str, str]) -> ModelInfo:
    """Validate metadata read from `path`; a foreign or newer file is a one-line ModelFileError."""
    path = Path(path)
    if raw.get("format") != FORMAT:
        raise ModelFileError(
            f"{path}: ONNX model without thermo-surrogate metadata (metadata 'format' is {raw.get('format')!r}, "
            f"expected {FORMAT!r}); export it with `surrogate export`"
        )
    version = raw.get("format_version", "0")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {version!r} is not supported (this toolkit reads "
                             f"version {FORMAT_VERSION}); upgrade thermo-surrogate")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise ModelFileError(f"{path}: thermo-surrogate ONNX metadata lacks {', '.join(missing)} (a truncated file, "
                             "or one not written by `surrogate export`)")
    for key in JSON_KEYS:
        try:
            json.loads(raw[key])
        except json.JSONDecodeError:
            raise ModelFileError(f"{path}: metadata {key!r} is not valid JSON") from None
    return ModelInfo(path, dict(raw))


def read_model_file(path: str | os.PathLike) -> tuple[bytes, ModelInfo]:
    """Bytes and checked metadata of an ONNX file; a missing, truncated or foreign file is a ModelFileError."""
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
    return data, check_metadata(path, raw)
