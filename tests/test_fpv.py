"""The flamelet/progress-variable table as a backend and the surrogate of it: one small Cantera H2 table, its ``fpv``
table, the table-backend ONNX file and a briefly trained surrogate, all through the CLI.

What a solver relies on is asserted: the table backend equals the FPV lookup; the pure streams are exact and ω_C is
zero there and at C_max(Z) for the surrogate whatever its training; T stays within the table's range; the valid
domain is continuous in Z and pure air is on it."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cantera_tables.flamelet_table import SMALL_OPTIONS
from export.fpv import points_on_manifold, read_grid
from export.lookup import StructuredLookup
from export.metadata import read_model_file
from export.runtime import OutOfRangeError, Surrogate
from export.table_model import decode_table
from surrogate.cli.main import cli

GAS_CONSTANT = 8.314462618


def invoke(*args: object) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small H2 flamelet table, its fpv table, the table backend, and a surrogate trained for 3 epochs."""
    root = tmp_path_factory.mktemp("fpv")
    options = [f"--{k.replace('_', '-')}=" + (",".join(f"{a}:{b:g}" for a, b in v.items()) if isinstance(v, dict)
                                              else str(v)) for k, v in SMALL_OPTIONS.items()]
    invoke("table", "build", "h2-flamelet", "-o", root / "h2.h5", *options)
    invoke("table", "build", "fpv", "-o", root / "fpv.h5", "--source", root / "h2.h5")
    invoke("export", root / "fpv.h5", "-o", root / "table.onnx")
    invoke("train", root / "fpv.h5", "-o", root / "run", "--epochs", 3, "--quiet", "--model-option", "width=16")
    invoke("export", root / "run", "-o", root / "surrogate.onnx")
    return {name: root / f"{name}{suffix}" for name, suffix in
            (("h2", ".h5"), ("fpv", ".h5"), ("table", ".onnx"), ("surrogate", ".onnx"))}


def test_fpv_table_has_no_source_at_the_streams_and_at_c_max_and_the_ideal_gas_density(files) -> None:
    grid = read_grid(files["fpv"])
    values = dict(zip(grid.names, np.moveaxis(grid.values, -1, 0)))
    assert np.all(values["omega_C"][[0, -1], :] == 0) and np.all(values["omega_C"][:, -1] == 0)
    assert values["omega_C"][:, :-1].max() > 10.0  # the flame's source is kept inside the table
    with h5py.File(files["fpv"], "r") as h5:
        weights = json.loads(h5.attrs["species_molecular_weights"])
    species = [n[2:] for n in grid.names if n.startswith("Y_")]
    inv_w = sum(values[f"Y_{s}"] / (weights[s] * 1e-3) for s in species)
    rho = 101325.0 / (GAS_CONSTANT * values["T"] * inv_w)
    np.testing.assert_allclose(values["rho"], rho, rtol=1e-9)
    assert values["T"].min() == pytest.approx(300.0, abs=1e-6) and 2000 < values["T"].max() < 2600


def test_table_backend_is_the_fpv_lookup_and_serves_the_streams_exactly(files) -> None:
    grid = read_grid(files["fpv"])
    table = Surrogate(files["table"], policy="error")
    x = points_on_manifold(grid, 5000, seed=7)
    found = table(x)
    reference = StructuredLookup(files["fpv"], grid.names)(x[:, 0].astype(float), x[:, 1].astype(float))
    scale = np.abs(reference).max(axis=0)
    assert np.max(np.abs(found - reference) / scale) < 1e-4
    streams = table(np.array([[0.0, 0.0], [1.0, 0.0]], np.float32))
    np.testing.assert_allclose(streams, grid.values[[0, -1], 0], rtol=1e-6, atol=1e-12)
    _, info = read_model_file(files["table"])
    stored = decode_table(json.loads(info.raw["fpv_table"]), files["table"], grid.names, grid.units)
    np.testing.assert_allclose(stored.values, grid.values.astype(np.float32), rtol=0, atol=0)


def test_valid_domain_is_continuous_in_z_and_holds_pure_air(files) -> None:
    grid = read_grid(files["fpv"])
    table = Surrogate(files["table"], policy="error")
    on = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.0]], np.float32)
    table(on)  # pure air, pure fuel and a frozen mixture are valid: no error
    z = np.float32(0.5 * (grid.Z[8] + grid.Z[9]))  # between two nodes: the bound is the interpolated C_max
    c_max = float(np.interp(z, grid.Z, grid.C_max))
    assert abs(c_max - grid.C_max[8]) > 1e-4 and abs(c_max - grid.C_max[9]) > 1e-4
    above = np.array([[z, c_max * 1.01]], np.float32)
    with pytest.raises(OutOfRangeError):
        table(above)
    clip = Surrogate(files["table"], policy="clip")
    manifold = clip.manifold
    assert manifold.linear and not manifold.off(np.array([[z, c_max * (1 - 1e-5)]], np.float32)).any()
    np.testing.assert_allclose(manifold.clip(above)[0, 1], c_max, rtol=1e-6)
    np.testing.assert_allclose(clip(above), clip(np.array([[z, c_max]], np.float32)), rtol=1e-6)
    assert clip.counters.off_manifold_cells == 1


def test_surrogate_is_physical_by_construction_after_three_epochs(files) -> None:
    grid = read_grid(files["fpv"])
    names = grid.names
    surrogate = Surrogate(files["surrogate"], policy="error")
    assert surrogate.output_names == names and surrogate.input_names == ["Z", "C"]
    streams = surrogate(np.array([[0.0, 0.0], [1.0, 0.0]], np.float32))
    np.testing.assert_allclose(streams, grid.values[[0, -1], 0], rtol=1e-6, atol=1e-9)
    species = [i for i, n in enumerate(names) if n.startswith("Y_")]
    x = points_on_manifold(grid, 5000, seed=3)
    y = surrogate(x)
    np.testing.assert_allclose(y[:, species].sum(axis=1), 1.0, atol=1e-5)
    assert y[:, species].min() >= 0
    T = y[:, names.index("T")]
    assert T.min() >= 300.0 - 1e-3 and T.max() <= grid.values[..., names.index("T")].max() + 1e-2
    assert y[:, names.index("omega_C")].min() >= grid.values[..., names.index("omega_C")].min() - 1e-6
    at_c_max = np.column_stack([x[:, 0], grid.c_range(x[:, 0])[1]]).astype(np.float32)
    omega_scale = np.abs(grid.values[..., names.index("omega_C")]).max()
    assert np.abs(surrogate(at_c_max)[:, names.index("omega_C")]).max() < 1e-3 * omega_scale


def test_info_describes_a_table_backend_by_its_grid_not_its_bytes(files) -> None:
    grid = read_grid(files["fpv"])
    output = invoke("info", files["table"])
    assert f"fpv_table: (Z, Lambda) grid {len(grid.Z)} x {len(grid.Lambda)}, {len(grid.names)} outputs" in output
    assert len(output) < len(json.dumps(read_model_file(files["table"])[1].raw["fpv_table"])) / 10


def test_info_summarises_the_manifold_bounds_in_lines_and_gives_every_node_as_json(files) -> None:
    manifold = read_model_file(files["surrogate"])[1].manifold
    output = invoke("info", files["surrogate"])
    lines = output.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("manifold:"))
    assert lines[head].startswith(f"manifold: trained range of the other inputs as a function of Z, linear between "
                                  f"{len(manifold.edges)} nodes over 0 .. 1")
    C = manifold.names.index("C")
    assert lines[head + 1].split() == ["C", "lower", "bound", f"{manifold.lower[:, C].min():.6g}", "..",
                                       f"{manifold.lower[:, C].max():.6g},", "upper", "bound",
                                       f"{manifold.upper[:, C].min():.6g}", "..", f"{manifold.upper[:, C].max():.6g}"]
    assert max(len(line) for line in lines) < 200  # no multi-kilobyte line of bounds
    record = json.loads(invoke("info", files["surrogate"], "--json"))
    assert len(record["manifold"]["bounds"]["C"]) == len(manifold.edges)
