"""counterflow-flamelet tables: fuel presets, strain under clear names, the monotonicity check of C along the
S-curve and the FPV lookup error of the structured (Z, Λ) table (real Cantera, small H2/air S-curve)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cantera_tables import structured
from cantera_tables.checks import MAX_LOOKUP_T_ERROR, read_structured
from cantera_tables.flamelet import Flamelet, s_curve_order
from cantera_tables.flamelet_table import SMALL_OPTIONS, CounterflowFlameletTable, H2FlameletTable
from cantera_tables.mixture import CH4_PROGRESS_VARIABLE
from cantera_tables.stored_flamelets import read_curve
from surrogate.cli.main import cli
from surrogate.table import Table
from tests.cantera_checks import table_check


def flamelets_of(path) -> tuple[list[Flamelet], dict[str, np.ndarray]]:
    """The stored flamelets of a table (Y of the stored species) and its /structured arrays."""
    flamelets, _ = read_curve(path)
    with h5py.File(path, "r") as h5:
        grid = read_structured(h5["structured"])
        grid["C_monotone"] = h5["structured/C_monotone"][()]
        grid["lookup_error"] = json.loads(h5["structured"].attrs["lookup_error"])
    return flamelets, grid


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The small H2/air S-curve through the generic generator and its h2 preset, from the command line."""
    path = tmp_path_factory.mktemp("counterflow") / "h2.h5"
    args = [arg for name, value in SMALL_OPTIONS.items()
            for arg in (f"--{name.replace('_', '-')}",
                        ",".join(f"{k}:{v:g}" for k, v in value.items()) if isinstance(value, dict) else str(value))]
    result = CliRunner().invoke(cli, ["table", "build", "counterflow-flamelet", "-o", str(path),
                                         "--preset", "h2", *args, "--points-per-flamelet", "60"])
    assert result.exit_code == 0, result.output
    flamelets, grid = flamelets_of(path)
    return SimpleNamespace(path=path, table=Table(path), result=result, flamelets=flamelets, grid=grid)


def test_presets_fill_mechanism_fuel_and_progress_variable_but_keep_what_is_given():
    ch4 = CounterflowFlameletTable.resolve({})
    assert (ch4["mechanism"], ch4["fuel"], ch4["progress_variable"]) == ("gri30.yaml", "CH4:1", CH4_PROGRESS_VARIABLE)
    assert CounterflowFlameletTable.resolve({"preset": "h2"})["progress_variable"] == {"H2O": 1.0}
    mine = CounterflowFlameletTable.resolve({"preset": "ch4", "fuel": "CH4:1,H2:1", "progress_variable": {"CO2": 1.0}})
    assert mine["fuel"] == "CH4:1,H2:1" and mine["progress_variable"] == {"CO2": 1.0}
    assert H2FlameletTable.resolve({})["mechanism"] == "h2o2.yaml"  # h2-flamelet keeps its defaults


def test_the_table_names_its_kind_and_both_strain_rates(built):
    table = built.table
    assert table.kind == "counterflow-flamelet"
    with h5py.File(built.path, "r") as h5:
        curve = {name: h5["s_curve"][name][()] for name in ("chi_st", "strain_rate", "global_strain_rate")}
    turn = int(np.argmax(curve["chi_st"]))
    # H2/air at extinction: global (Seshadri-Williams) strain ~1.4e4 1/s, the maximum axial velocity gradient ~5x more
    assert 0.8e4 < curve["global_strain_rate"][turn] < 2.5e4
    assert 3.0 < curve["strain_rate"][turn] / curve["global_strain_rate"][turn] < 8.0
    assert "Seshadri" in table.attrs["global_strain_rate_definition"]
    assert "maximum axial velocity gradient" in table.attrs["strain_rate_definition"]


def test_every_flamelet_spans_both_pure_streams(built):
    # the unstable branch ends where the thickening flame no longer fits the turning point's domain
    for flamelet in built.flamelets:
        assert flamelet.Z.min() <= 1e-3 and flamelet.Z.max() >= 1.0 - 1e-3, (flamelet.method, flamelet.T_max)


def test_monotonicity_verdict_matches_C_along_the_s_curve(built):
    flamelets, grid = built.flamelets, built.grid
    order = s_curve_order(flamelets)
    verdict = grid["C_monotone"]
    assert set(np.unique(verdict)) <= {-1, 0, 1} and (verdict == 1).sum() > 0
    allowed = structured.MONOTONE_TOLERANCE * (max(f.C.max() for f in flamelets) - min(f.C.min() for f in flamelets))
    for i, Z in enumerate(grid["Z"]):
        C = np.array([np.interp(Z, f.Z[::-1], f.C[::-1]) for f in (flamelets[k] for k in order)
                      if f.Z.min() - 1e-3 <= Z <= f.Z.max() + 1e-3])
        if verdict[i] == 1:
            assert np.all(np.diff(C) <= allowed), Z
        elif verdict[i] == 0:
            assert np.any(np.diff(C) > allowed), Z
        else:
            assert C.max() - C.min() <= allowed, Z


def test_build_warns_and_info_shows_where_C_is_not_monotone_and_the_lookup_error(built):
    n_bad = int((built.grid["C_monotone"] == 0).sum())
    assert n_bad > 0  # Y_H2O is not monotone along the hydrogen S-curve everywhere
    assert f"more than {structured.MONOTONE_TOLERANCE:g}) at {n_bad} of" in built.result.stderr
    assert "structured lookup error T max, rms [K] = " in built.result.stdout
    info = CliRunner().invoke(cli, ["table", "info", str(built.path)]).output
    assert "C monotone along the S-curve" in info and "FPV lookup error vs flamelets  T max" in info


def test_lambda_nodes_following_the_flamelets_cut_the_lookup_error_of_a_uniform_axis(built):
    flamelets, grid = built.flamelets, built.grid
    _, names = read_curve(built.path)
    species = range(len(names))
    samples = structured.z_nodes(60, built.table.attrs["Z_st"])
    stored = grid["lookup_error"]
    assert stored == pytest.approx(structured.lookup_error(grid, flamelets, samples, species, names))
    uniform = structured.structured_table(flamelets, grid["Z"], len(grid["Lambda"]), species, "uniform")
    uniform_error = structured.lookup_error(uniform, flamelets, samples, species, names)
    assert stored["T_max_error"] < 0.5 * uniform_error["T_max_error"]
    assert stored["T_rms_error"] < 0.5 * uniform_error["T_rms_error"]
    assert stored["T_max_error"] < 150.0 and stored["T_rms_error"] < 20.0  # 16 flamelets, 41 x 21 nodes: 91 K, 11 K
    assert np.all(np.diff(grid["Lambda"]) > 0) and grid["Lambda"][[0, -1]].tolist() == [0.0, 1.0]


@pytest.mark.slow
def test_default_h2_table_meets_the_lookup_tolerance_and_passes_table_check(tmp_path):
    report = H2FlameletTable.build(tmp_path / "h2.h5", progress=False)
    T_max, T_rms = report.numbers["structured lookup error T max, rms [K]"]
    omega_max, omega_rms = report.numbers["structured lookup error omega_C max, rms [kg/m^3/s]"]
    assert T_max <= H2FlameletTable.default("lookup_tolerance") <= MAX_LOOKUP_T_ERROR  # 20.5 K on the 121 x 51 grid
    assert T_rms < 2.0  # 2.1 K on the 121 x 51 grid
    assert omega_max < 80.0 and omega_rms < 6.0  # of |omega_C| up to 2.3e3 kg/m^3/s
    nZ, nL = map(int, report.numbers["structured (Z, Lambda) nodes"].split(" x "))
    assert nZ * nL <= H2FlameletTable.default("max_structured_nodes")
    code, lines = table_check(tmp_path / "h2.h5")
    assert code == 0, lines
