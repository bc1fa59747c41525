"""Fixture runs and models for the export, runtime, inference and solver tests, and a check that the runs load
like trained runs.

A small table shaped like the H2 flamelet table (inputs Z, C, χ; outputs Y_H2, Y_O2, Y_H2O, Y_N2, T) with a
structured (Z, Λ) group, and run directories in the format of :mod:`surrogate.run` around an untrained
network whose scalers are fitted on that table: export and runtime must reproduce PyTorch whatever the
weights are. Besides the row models: a CVAE-decoder-like module with two input tensors and a time-stepper on
a grid (a field component), exported through :func:`export.onnx_export.export_module` with hand-written
signatures; and rewriters that turn an exported file into a version 1 file, forged metadata or damaged weights.
"""

from __future__ import annotations

import copy
import functools
import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
import torch
from torch import nn

from surrogate import registry, run as run_format
from surrogate.scaling import InputScaler, OutputScaler
from surrogate.table import Column, Table, write_table

INPUTS = ["Z", "C", "chi"]
OUTPUTS = ["Y_H2", "Y_O2", "Y_H2O", "Y_N2", "T"]
UNITS = {"Z": "1", "C": "1", "chi": "1/s", "Y_H2": "1", "Y_O2": "1", "Y_H2O": "1", "Y_N2": "1", "T": "K"}
Z_ST = 0.0285
MODEL_OPTIONS = {
    "softmax-mlp": {"depth": 2, "width": 16},
    "mlp": {"depth": 2, "width": 16, "activation": "silu"},
    "fourier-mlp": {"depth": 2, "width": 16, "frequencies": 8},
}
_WORKDIR = tempfile.TemporaryDirectory(prefix="surrogate-export-tests-")


def c_max(z: np.ndarray) -> np.ndarray:
    """Largest progress variable at mixture fraction Z (water mass fraction of complete burning)."""
    return 0.25 * np.minimum(z / Z_ST, (1 - z) / (1 - Z_ST))


def bilinear_outputs(z: np.ndarray, lam: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs bilinear in (Z, Λ), so a multilinear lookup on the structured grid reproduces them exactly."""
    y_h2 = 0.1 * z * (1 - 0.5 * lam)
    y_o2 = 0.233 * (1 - z) * (1 - 0.5 * lam)
    y_h2o = 0.2 * lam * (0.2 + 0.8 * z)
    return {"Y_H2": y_h2, "Y_O2": y_o2, "Y_H2O": y_h2o, "Y_N2": 1 - y_h2 - y_o2 - y_h2o,
            "T": 300 + 1500 * lam + 200 * z * lam}


def write_synthetic_table(path: Path, n_rows: int = 3000, n_z: int = 41, n_lambda: int = 21, seed: int = 0) -> Path:
    """An H2-shaped table: scattered (Z, C, χ) rows plus the structured (Z, Λ) group of the lookup baseline."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0, 1, n_rows)
    lam = rng.uniform(0, 1, n_rows)
    chi = 10 ** rng.uniform(-2, 3, n_rows)
    chi[:20] = 0.0  # the streams, where χ = 0
    c = lam * c_max(z)
    outputs = bilinear_outputs(z, lam)
    z_grid = np.linspace(0, 1, n_z)
    lam_grid = np.linspace(0, 1, n_lambda)
    grid = bilinear_outputs(z_grid[:, None], lam_grid[None, :])

    def structured(h5) -> None:
        group = h5.create_group("structured")
        group["Z"], group["Lambda"] = z_grid, lam_grid
        group["C_min"], group["C_max"] = np.zeros(n_z), c_max(z_grid)
        for name, values in grid.items():
            group.create_dataset(f"outputs/{name}", data=values)

    return write_table(
        path, kind="synthetic-flamelet",
        inputs=[Column(n, v, UNITS[n], n) for n, v in zip(INPUTS, (z, c, chi))],
        outputs=[Column(n, outputs[n], UNITS[n], n) for n in OUTPUTS],
        attrs={"mechanism": "synthetic"}, extra=structured,
    )


def write_run(run_dir: Path, table_path: Path, model: str = "softmax-mlp", seed: int = 0) -> Path:
    """A run directory in the format of :mod:`surrogate.run` for an untrained `model` on `table_path`: a run from
    before tasks existed (no 'task' in config.json, so task ``regression``), its mass fractions closed by a
    softmax when the model plugin asks for that closure, assembled by the task as training does."""
    table = Table(table_path)
    x = table.read_matrix(INPUTS)
    y = table.read_matrix(OUTPUTS)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "table": str(table_path), "table_sha256": table.sha256(), "inputs": INPUTS, "outputs": OUTPUTS,
        "units": UNITS, "input_ranges": {n: [float(x[:, i].min()), float(x[:, i].max())] for i, n in enumerate(INPUTS)},
        "model": {"name": model, "options": MODEL_OPTIONS[model]}, "weighting": {"name": "uniform", "options": {}},
    }
    torch.manual_seed(seed)
    closure = getattr(registry.load("models", model), "closure", None)
    mask = [closure == "softmax" and name.startswith("Y_") for name in OUTPUTS]
    scalers = {"input": InputScaler.fit(x, [n == "chi" for n in INPUTS]).to_dict(),
               "output": OutputScaler.fit(y, mask).to_dict(), "softmax_mask": mask}
    model_module = registry.load("tasks", "regression").assemble(run_format.build_network(config), scalers, config)
    (run_dir / run_format.CONFIG).write_text(json.dumps(config))
    (run_dir / run_format.SCALERS).write_text(json.dumps(scalers))
    torch.save(model_module.state_dict(), run_dir / run_format.WEIGHTS)
    order = np.random.default_rng(seed).permutation(table.n_rows)
    n_test = table.n_rows // 5
    np.savez(run_dir / run_format.SPLITS, test=order[:n_test], val=order[n_test:2 * n_test],
             train=order[2 * n_test:])
    return run_dir


def in_range_points(n: int, seed: int = 1) -> np.ndarray:
    """Fresh (Z, C, χ) cells inside the fixture table's ranges, not the parity points."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.01, 0.99, n)
    c = rng.uniform(0, 1, n) * 0.2 * np.minimum(z / Z_ST, (1 - z) / (1 - Z_ST))
    chi = 10 ** rng.uniform(-1.5, 2.5, n)
    return np.stack([z, c, chi], axis=1).astype(np.float32)


@functools.lru_cache(maxsize=None)
def shared_table() -> Path:
    """One synthetic table for the whole test session."""
    return write_synthetic_table(Path(_WORKDIR.name) / "table.h5")


@functools.lru_cache(maxsize=None)
def shared_run(model: str = "softmax-mlp") -> Path:
    """One fixture run per model plugin for the whole test session."""
    return write_run(Path(_WORKDIR.name) / f"run-{model}", shared_table(), model)


@functools.lru_cache(maxsize=None)
def shared_onnx(model: str = "softmax-mlp", fp16: bool = False) -> Path:
    """The fixture run of `model` exported once per session (the exporter takes seconds)."""
    from export.onnx_export import export_run
    from surrogate.run import load_run

    path = Path(_WORKDIR.name) / f"{model}{'-fp16' if fp16 else ''}.onnx"
    export_run(load_run(shared_run(model)), path, fp16=fp16)
    return path


DECODER_SIGNATURE = {
    "inputs": [
        {"name": "condition", "dtype": "float32", "shape": ["batch", 2],
         "components": [{"name": "Z", "units": "1", "range": [0.0, 1.0]},
                        {"name": "chi", "units": "1/s", "range": [0.0, 100.0]}]},
        {"name": "latent", "dtype": "float32", "shape": ["batch", 3], "components": [{"name": "z", "units": "1"}]},
    ],
    "outputs": [{"name": "species", "dtype": "float32", "shape": ["batch", 4],
                 "components": [{"name": n, "units": "1"} for n in ("Y_H2", "Y_O2", "Y_H2O", "Y_N2")]}],
}
GRID = 6
STEPPER_SIGNATURE = {
    "inputs": [{"name": "state", "dtype": "float32", "shape": ["batch", GRID],
                "components": [{"name": "u", "units": "1", "range": [-1.0, 2.0]}]}],
    "outputs": [{"name": "dudt", "dtype": "float32", "shape": ["batch", GRID],
                 "components": [{"name": "dudt", "units": "1/s"}]}],
}


class Decoder(nn.Module):
    """condition [batch, 2] and latent [batch, 3] -> species [batch, 4], a softmax like a CVAE decoder's head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 4))

    def forward(self, condition: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        scaled = condition / torch.tensor([1.0, 100.0])
        return torch.softmax(self.net(torch.cat([scaled, latent], dim=-1)), dim=-1)


class Stepper(nn.Module):
    """du/dt = ν ∂²u/∂x² on a periodic grid of GRID points (state [batch, GRID] -> dudt [batch, GRID])."""

    def __init__(self) -> None:
        super().__init__()
        self.nu = nn.Parameter(torch.linspace(0.5, 1.5, GRID))

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return self.nu * (torch.roll(state, 1, -1) - 2 * state + torch.roll(state, -1, -1))


def export_tensor_model(module: nn.Module, signature: dict[str, Any], path: Path, task: str) -> Path:
    """`module` exported with a hand-written signature through the exporter's lower-level function."""
    from export.metadata import parse_signature
    from export.onnx_export import Provenance, export_module, sample_inputs

    parsed = parse_signature(signature, "test signature")
    export_module(module.eval(), parsed, path, provenance=Provenance("0" * 64, "test", {}, task, "uniform"),
                  parity_inputs=sample_inputs(parsed, 256), parity_source="256 sampled points")
    return path


@functools.lru_cache(maxsize=None)
def shared_decoder() -> Path:
    """The two-input Decoder exported once per session."""
    return export_tensor_model(Decoder(), DECODER_SIGNATURE, Path(_WORKDIR.name) / "decoder.onnx", "cvae")


@functools.lru_cache(maxsize=None)
def shared_stepper() -> Path:
    """The Stepper (one field tensor in, one out) exported once per session."""
    return export_tensor_model(Stepper(), STEPPER_SIGNATURE, Path(_WORKDIR.name) / "stepper.onnx", "rollout")


def rewrite_metadata(source: Path, target: Path, edit: Callable[[dict[str, str]], None]) -> Path:
    """A copy of the ONNX file `source` at `target` whose metadata (a {key: string} dict) went through `edit`."""
    proto = onnx.load(str(source))
    metadata = {p.key: p.value for p in proto.metadata_props}
    edit(metadata)
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(target))
    return target


def flip_weight_bytes(model: Path, target: Path, count: int = 32) -> Path:
    """A copy of `model` at `target` with `count` bytes inside its largest initializer (the weights) inverted:
    still valid protobuf and a runnable graph, only the numbers changed (what bit rot or a bad copy does)."""
    data = bytearray(model.read_bytes())
    weights = max(onnx.load(str(model)).graph.initializer, key=lambda t: len(t.raw_data)).raw_data
    start = bytes(data).index(weights) + len(weights) // 2
    for i in range(start, start + count):
        data[i] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def forge_signature(source: Path, target: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of `source` whose metadata 'signature' went through `edit` (a decoded, deep-copied dict)."""
    def forge(metadata: dict[str, str]) -> None:
        signature = copy.deepcopy(json.loads(metadata["signature"]))
        edit(signature)
        metadata["signature"] = json.dumps(signature)
    return rewrite_metadata(source, target, forge)


def to_version_1(source: Path, target: Path) -> Path:
    """The row model `source` with its metadata in the layout of format version 1 (flat keys, no signature)."""
    def downgrade(metadata: dict[str, str]) -> None:
        signature = json.loads(metadata.pop("signature"))
        metadata.pop("task")
        (inputs,), (outputs,) = signature["inputs"], signature["outputs"]
        metadata.update(
            format_version="1",
            inputs=json.dumps([c["name"] for c in inputs["components"]]),
            outputs=json.dumps([c["name"] for c in outputs["components"]]),
            input_units=json.dumps({c["name"]: c["units"] for c in inputs["components"]}),
            output_units=json.dumps({c["name"]: c["units"] for c in outputs["components"]}),
            input_ranges=json.dumps({c["name"]: c["range"] for c in inputs["components"]}),
            parity_max_abs_error=json.dumps(json.loads(metadata["parity_max_abs_error"])["outputs"]),
        )
    return rewrite_metadata(source, target, downgrade)


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit of a decoded signature: the entry at `path` (keys and indices) set to `value` (appended at a list's
    end), or deleted (None)."""
    def edit(signature: dict[str, Any]) -> None:
        parent = functools.reduce(lambda node, key: node[key], path[:-1], signature)
        if value is None:
            del parent[path[-1]]
        elif isinstance(parent, list) and path[-1] == len(parent):
            parent.append(value)
        else:
            parent[path[-1]] = value
    return edit


C_COMPONENT = ("inputs", 0, "components", 1)
# Forged signatures of the row model: (id, edit, Python's message, the C wrapper's message), each one line.
FORGERIES = [
    ("missing-range", _set((*C_COMPONENT, "range"), None),
     "component 'C' of input 'inputs' has no 'range' while others have one",
     "component 'C' of input 'inputs' has no 'range' while others have one"),
    ("reversed-range", _set((*C_COMPONENT, "range"), [1.0, 0.0]),
     "component 'C' of input 'inputs': 'range' must be [min, max] with min <= max, not [1.0, 0.0]",
     "component #1 of input #0: 'range' must be [min, max] with min <= max"),
    ("range-not-numbers", _set((*C_COMPONENT, "range"), ["0", "1"]),
     """component 'C' of input 'inputs': 'range' must be [min, max] with min <= max, not ["0", "1"]""",
     "component #1 of input #0: 'range' must be [min, max] with min <= max"),
    ("units-not-a-string", _set((*C_COMPONENT, "units"), 5),
     "component 'C' of input 'inputs': 'units' must be a string, not 5",
     "component #1 of input #0: 'units' must be a string"),
    ("shape-not-a-list", _set(("inputs", 0, "shape"), "batch,3"),
     'input \'inputs\': \'shape\' must be a non-empty list of axis names and positive sizes, not "batch,3"',
     "input #0: 'shape' must be a non-empty list of axis names and positive sizes"),
    ("component-count", _set(("inputs", 0, "components", 3), {"name": "T0", "units": "K", "range": [300, 400]}),
     "input 'inputs' has 4 components for last axis 3: expected 1 or 3",
     "input 'inputs' has 4 components for last axis 3: expected 1 or 3"),
    ("output-range", _set(("outputs", 0, "components", 0, "range"), [0, 1]),
     "component 'Y_H2' of output 'outputs' has a 'range'; only inputs have ranges",
     "component 'Y_H2' of output 'outputs' has a 'range'; only inputs have ranges"),
    ("dtype", _set(("inputs", 0, "dtype"), "float64"),
     """input 'inputs': dtype "float64" is not supported (expected float32)""",
     "input #0: dtype 'float64' is not supported (expected float32)"),
    ("unknown-key", _set(("inputs", 0, "ranges"), {}),
     "input #0 has unknown key(s) 'ranges'", "input #0 has an unknown key 'ranges'"),
]


def test_fixture_run_loads_and_predicts_closed_mass_fractions() -> None:
    """The fixture run is a valid run directory: load_run works and the softmax head closes ΣY = 1."""
    loaded = run_format.load_run(shared_run("softmax-mlp"))
    x = Table(shared_table()).read_matrix(INPUTS, slice(0, 50))
    y = loaded.predict(x)
    assert y.shape == (50, len(OUTPUTS))
    np.testing.assert_allclose(y[:, :4].sum(axis=1), 1.0, atol=1e-5)
    assert registry.load("models", "softmax-mlp") is not None
