"""A real CFD code with the table and with its surrogate: the planar H2/air jet flame of export/cfd/code_saturne runs
in Code_Saturne 6.0 on a small mesh, its user routines calling the toolkit's C wrapper every step, once with the
table backend of a small Cantera flamelet table and once with a surrogate of that table (both (Z, C) -> outputs,
the same calls), one-way and with variable density.

Asserted, as a combustion engineer would check the runs: the fields the solver got equal the Python runtime at the
same inputs (either backend); the table run stays within [300 K, the table's maximum] and pure air stays cold and
unclipped; the pure streams get exactly the stream states; C never leaves C_min(Z)..C_max(Z); the flame burns near
stoichiometric mixture; with variable density the flow takes the backend's density; the comparison's numbers
(compare.json's) come out for the pair. Skipped, saying why, where Code_Saturne, CMake or a C compiler is missing
(export/cfd/code_saturne/install.sh installs them; .ci/run does in CI).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from export.cfd.code_saturne.case import FlameSettings, assemble_case, build_wrapper, code_saturne, read_timing, run_case
from export.cfd.code_saturne.compare import Models, compare_runs, run_numbers, stream_exactness
from export.cfd.code_saturne.mesh import JetGeometry
from export.cfd.code_saturne.post import read_fields

STEPS = 40
GEOMETRY = JetGeometry(nx=30, ny=36)

pytestmark = pytest.mark.skipif(code_saturne() is None, reason="code_saturne not installed "
                                "(export/cfd/code_saturne/install.sh: apt-get install code-saturne)")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    """A small H2 flamelet table's fpv table, its table backend and a surrogate of it trained for 20 epochs."""
    from cantera_tables.flamelet_table import SMALL_OPTIONS
    from export.onnx_export import export_run
    from export.table_model import export_table
    from surrogate import registry
    from surrogate.config import TrainOptions
    from surrogate.run import load_run
    from surrogate.trainer import train

    root = tmp_path_factory.mktemp("cfd-models")
    generator, options = registry.configure("tables", "h2-flamelet", dict(SMALL_OPTIONS))
    generator.build(root / "h2.h5", progress=False, **options)
    generator, options = registry.configure("tables", "fpv", {"source": str(root / "h2.h5")})
    generator.build(root / "fpv.h5", progress=False, **options)
    train(TrainOptions(table=str(root / "fpv.h5"), epochs=20, model_options={"width": 32}), root / "run",
          progress=False)
    return Models(root / "fpv.h5", export_table(root / "fpv.h5", root / "table.onnx").path,
                  export_run(load_run(root / "run"), root / "surrogate.onnx").path)


@pytest.fixture(scope="module")
def wrapper(tmp_path_factory: pytest.TempPathFactory):
    missing = [tool for tool in ("cmake", "cc", "gfortran") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install cmake build-essential gfortran)")
    return build_wrapper(tmp_path_factory.mktemp("cfd-wrapper"))


def run_flame(root: Path, model: Path, wrapper, **settings) -> Path:
    case = assemble_case(root / "case", model, wrapper,
                         replace(FlameSettings(), n_steps=STEPS, average_steps=STEPS // 2, **settings), GEOMETRY)
    return run_case(case, "test")


@pytest.fixture(scope="module")
def table_run(tmp_path_factory, models, wrapper) -> Path:
    return run_flame(tmp_path_factory.mktemp("cfd-table"), models.lookup, wrapper)


@pytest.fixture(scope="module")
def surrogate_run(tmp_path_factory, models, wrapper) -> Path:
    return run_flame(tmp_path_factory.mktemp("cfd-surrogate"), models.surrogate, wrapper)


@pytest.mark.parametrize("backend", ["table", "surrogate"])
def test_solver_fields_equal_the_python_runtime_at_the_same_inputs(backend, request, models) -> None:
    from export.runtime import Surrogate

    result = request.getfixturevalue(f"{backend}_run")
    columns = read_fields(result / "fields.csv")
    model = Surrogate(models.lookup if backend == "table" else models.surrogate, policy="clip", provider="cpu",
                      threads=1)
    assert model.input_names == ["Z", "C"]
    x = np.stack([columns[name] for name in model.input_names], axis=1).astype(np.float32)
    y_solver = np.stack([columns[name] for name in model.output_names], axis=1)
    y_python = model(x)
    assert len(x) == GEOMETRY.nx * GEOMETRY.ny
    scale = np.abs(y_python).max(axis=0)
    assert np.all(np.abs(y_solver - y_python) <= 1e-5 * scale), np.abs(y_solver - y_python).max(axis=0) / scale
    assert read_timing(result)["backend"] == backend.replace("surrogate", "network")


def test_table_run_is_bounded_and_burns_at_stoichiometry_with_exact_cold_streams(table_run, models) -> None:
    from export.fpv import read_grid

    grid = read_grid(models.table)
    columns = read_fields(table_run / "fields.csv")
    T_max = grid.values[..., grid.names.index("T")].max()
    assert 300.0 - 1e-3 <= columns["T"].min() and columns["T"].max() <= T_max + 1e-3
    assert columns["T"].max() > 1800
    hottest = int(np.argmax(columns["T"]))
    assert 0.01 < columns["Z"][hottest] < 0.1  # Z_st = 0.0285 for H2/air
    air = columns["Z"] < 1e-4
    assert air.sum() > 100 and columns["T"][air].max() < 600
    c_min, c_max = grid.c_range(columns["Z"])
    assert np.all(columns["C"] >= c_min - 1e-6) and np.all(columns["C"] <= c_max + 1e-6)
    streams = stream_exactness(columns, models.table)
    assert streams["stream_cells"] > 50 and streams["stream_max_rel_err"] <= 1e-6
    timing = read_timing(table_run)
    assert timing["out_of_range_cells_total"] == 0  # C is kept on the table: nothing clipped, the streams neither
    assert timing["timed_steps"] == STEPS - 1 and 0 < timing["run_share"] <= timing["update_share"] < 1


def test_comparison_numbers_of_the_surrogate_against_the_table(table_run, surrogate_run, models) -> None:
    from surrogate.table import Table

    attrs = Table(models.table).attrs
    runs = {}
    for name, result in (("table", table_run), ("surrogate", surrogate_run)):
        columns = read_fields(result / "fields_mean.csv")
        runs[name] = (columns, {**run_numbers(columns, read_timing(result), attrs, 1.0),
                                **stream_exactness(columns, models.table)})
    entry = compare_runs(runs["table"][0], runs["surrogate"][0], runs["table"][1], runs["surrogate"][1])
    assert entry["hot_cells"] > 20 and entry["mean_abs_dT_K"] <= entry["max_abs_dT_K"]
    assert entry["T_min_K"] >= 300.0 - 1e-3  # the surrogate's T never falls below the coldest stream
    assert entry["stream_max_rel_err"] <= 1e-6 and entry["clipped_cells_per_step"] == 0
    assert entry["element_Z_max_err"] < 0.05 and entry["table"]["element_Z_max_err"] < 0.05
    assert 0 < entry["table"]["flame_length_mm"] <= 1e3 * GEOMETRY.length
    assert entry["table"]["averaged_steps"] == STEPS // 2 and entry["table"]["mean_T_drift_K"] >= 0


def test_variable_density_flow_takes_the_tables_density(tmp_path, models, wrapper) -> None:
    result = run_flame(tmp_path, models.lookup, wrapper, variable_density=1, rho_relax=1.0)
    columns = read_fields(result / "fields.csv")
    np.testing.assert_allclose(columns["rho_surrogate"], columns["rho"], rtol=1e-6)  # the table's own density
    np.testing.assert_allclose(columns["rho_flow"], columns["rho_surrogate"], rtol=1e-12)
    assert columns["rho_flow"].min() < 0.3 < 1.0 < columns["rho_flow"].max()  # hot flame and cold air
    assert np.isfinite(columns["u"]).all() and np.abs(columns["u"]).max() < 20
