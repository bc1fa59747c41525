"""Fixture runs for the export, runtime and inference tests, and a check that they load like trained runs.

A small table shaped like the H2 flamelet table (inputs Z, C, χ; outputs Y_H2, Y_O2, Y_H2O, Y_N2, T) with a
structured (Z, Λ) group, and run directories in the format of :mod:`surrogate.run` around an untrained
network whose scalers are fitted on that table: export and runtime must reproduce PyTorch whatever the
weights are.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from surrogate import registry, run as run_format
from surrogate.scaling import InputScaler, OutputScaler, PhysicalModel
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
    """A run directory in the format of :mod:`surrogate.run` for an untrained `model` on `table_path`."""
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
    network = run_format.build_network(config)
    identity = [bool(m) for m in getattr(network, "softmax_mask", [False] * len(OUTPUTS))]
    scalers = {"input": InputScaler.fit(x, [n == "chi" for n in INPUTS]).to_dict(),
               "output": OutputScaler.fit(y, identity).to_dict()}
    model_module = PhysicalModel(InputScaler.from_dict(scalers["input"]), network,
                                 OutputScaler.from_dict(scalers["output"]))
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


def test_fixture_run_loads_and_predicts_closed_mass_fractions() -> None:
    """The fixture run is a valid run directory: load_run works and the softmax head closes ΣY = 1."""
    loaded = run_format.load_run(shared_run("softmax-mlp"))
    x = Table(shared_table()).read_matrix(INPUTS, slice(0, 50))
    y = loaded.predict(x)
    assert y.shape == (50, len(OUTPUTS))
    np.testing.assert_allclose(y[:, :4].sum(axis=1), 1.0, atol=1e-5)
    assert registry.load("models", "softmax-mlp") is not None
