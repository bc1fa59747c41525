"""A real CFD code with the surrogate: the planar H2/air jet flame of export/cfd/code_saturne runs a few time steps
in Code_Saturne 6.0, whose user routines call the exported ONNX model through the toolkit's C wrapper every step.

The fields the solver got from the wrapper equal the Python runtime (export.runtime.Surrogate) at the same
inputs; chi is 2 D |grad Z|^2 of the solver's Z field; the density is the ideal gas at the surrogate's T and Y_k;
the flame sits near stoichiometric mixture; with variable density the flow takes that density. A model is
trained here on a small Cantera table (seconds). Skipped, saying why, where Code_Saturne, CMake or a C compiler
is missing (export/cfd/code_saturne/install.sh installs them; .ci/run does in CI).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from export.cfd.code_saturne.case import (FlameSettings, assemble_case, build_wrapper, code_saturne, read_timing,
                                          run_case)
from export.cfd.code_saturne.demo import OUTPUTS, SPECIES
from export.cfd.code_saturne.mesh import JetGeometry
from export.cfd.code_saturne.post import as_grid, flame_summary, read_fields

GAS_CONSTANT = 8.314462618
MOLAR_MASS = {"Y_H2": 2.016e-3, "Y_H": 1.008e-3, "Y_O": 15.999e-3, "Y_O2": 31.998e-3, "Y_OH": 17.007e-3,
              "Y_H2O": 18.015e-3, "Y_HO2": 33.006e-3, "Y_H2O2": 34.014e-3, "Y_N2": 28.014e-3}
STEPS = 8

pytestmark = pytest.mark.skipif(code_saturne() is None, reason="code_saturne not installed "
                                "(export/cfd/code_saturne/install.sh: apt-get install code-saturne)")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An H2 surrogate (Y_k, T, omega_C) trained briefly on a small flamelet table and exported."""
    from cantera_tables.flamelet_table import SMALL_OPTIONS
    from export.onnx_export import export_run
    from surrogate import registry
    from surrogate.config import TrainOptions
    from surrogate.run import load_run
    from surrogate.trainer import train

    root = tmp_path_factory.mktemp("cfd-model")
    generator, options = registry.configure("tables", "h2-flamelet", dict(SMALL_OPTIONS))
    generator.build(root / "h2.h5", progress=False, **options)
    train(TrainOptions(table=str(root / "h2.h5"), outputs=list(OUTPUTS), epochs=60), root / "run", progress=False)
    return export_run(load_run(root / "run"), root / "h2_cfd.onnx").path


@pytest.fixture(scope="module")
def wrapper(tmp_path_factory: pytest.TempPathFactory):
    missing = [tool for tool in ("cmake", "cc", "gfortran") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install cmake build-essential gfortran)")
    return build_wrapper(tmp_path_factory.mktemp("cfd-wrapper"))


def run_flame(root: Path, model: Path, wrapper, **settings) -> Path:
    case = assemble_case(root / "case", model, wrapper, replace(FlameSettings(), n_steps=STEPS, **settings))
    return run_case(case, "test")


@pytest.fixture(scope="module")
def one_way(tmp_path_factory, model, wrapper) -> Path:
    return run_flame(tmp_path_factory.mktemp("cfd-one-way"), model, wrapper)


def test_solver_fields_equal_the_python_runtime_at_the_same_inputs(one_way, model) -> None:
    from export.runtime import Surrogate

    columns = read_fields(one_way / "fields.csv")
    surrogate = Surrogate(model, policy="clip", provider="cpu", threads=1)
    assert surrogate.output_names == list(OUTPUTS)
    x = np.stack([columns[name] for name in surrogate.input_names], axis=1).astype(np.float32)
    y_solver = np.stack([columns[name] for name in OUTPUTS], axis=1)
    y_python = surrogate(x)
    assert len(x) == JetGeometry().nx * JetGeometry().ny
    scale = np.abs(y_python).max(axis=0)
    assert np.all(np.abs(y_solver - y_python) <= 1e-6 * scale), np.abs(y_solver - y_python).max(axis=0) / scale


def test_chi_is_twice_the_diffusivity_times_the_squared_gradient_of_z(one_way) -> None:
    columns = read_fields(one_way / "fields.csv")
    x, y, z = as_grid(columns, "Z")
    chi = as_grid(columns, "chi")[2]
    dz_dy, dz_dx = np.gradient(z, y, x)
    d = FlameSettings().mu0 / FlameSettings().rho0
    expected = 2 * d * (dz_dx ** 2 + dz_dy ** 2)
    inner = (slice(2, -2), slice(2, -2))
    strong = expected[inner] > 0.05 * expected[inner].max()
    ratio = chi[inner][strong] / expected[inner][strong]
    assert strong.sum() > 50
    assert np.median(ratio) == pytest.approx(1.0, abs=0.05)
    assert np.all((ratio > 0.6) & (ratio < 1.6))


def test_density_is_the_ideal_gas_at_the_surrogates_state_and_the_flame_burns_near_stoichiometry(one_way,
                                                                                                 model) -> None:
    from export.metadata import read_model_file

    columns = read_fields(one_way / "fields.csv")
    y = np.stack([np.clip(columns[name], 0, None) for name in SPECIES], axis=1)
    w = np.array([MOLAR_MASS[name] for name in SPECIES])
    molar_mass = y.sum(axis=1) / (y / w).sum(axis=1)
    rho = FlameSettings().pressure * molar_mass / (GAS_CONSTANT * columns["T"])
    np.testing.assert_allclose(columns["rho_surrogate"], rho, rtol=1e-5)
    np.testing.assert_allclose(columns["rho"], FlameSettings().rho0)  # one-way: the flow keeps its density
    flame = flame_summary(columns)
    assert flame["T_max"] > 1800
    assert 0.01 < flame["T_max_Z"] < 0.1  # Z_st = 0.0285 for H2/air
    assert columns["T"][columns["Z"] < 1e-4].max() < 600  # pure air stays cold
    c_max = read_model_file(model)[1].input_ranges["C"][1]
    assert 0 <= columns["C"].min() and columns["C"].max() <= np.float32(c_max)  # clipped to the trained range
    timing = read_timing(one_way)
    assert timing["timed_steps"] == STEPS - 1 and timing["updates"] >= STEPS
    assert 0 < timing["run_share"] <= timing["update_share"] < 1


def test_variable_density_flow_takes_the_surrogates_density(tmp_path, model, wrapper) -> None:
    result = run_flame(tmp_path, model, wrapper, variable_density=1, rho_relax=1.0)
    columns = read_fields(result / "fields.csv")
    np.testing.assert_allclose(columns["rho"], columns["rho_surrogate"], rtol=1e-12)
    assert columns["rho"].min() < 0.3 < 1.0 < columns["rho"].max()  # hot flame and cold air
    assert np.isfinite(columns["u"]).all() and np.abs(columns["u"]).max() < 20
