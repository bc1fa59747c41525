"""equilibrium tables: every row is Cantera's own HP equilibrium of the mixed streams (real Cantera, GRI-3.0)."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import cantera as ct
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cantera_tables import equilibrium
from cantera_tables.equilibrium import EquilibriumTable
from surrogate.chemistry import BilgerMixtureFraction
from surrogate.chunks import work_dir_for
from surrogate.cli.main import cli
from surrogate.table import Table
from tests.cantera_checks import (assert_one_line_error, assert_rows_are_closed_mass_fractions,
                                  built_across_a_kill, table_check, train_from_cli)

SMALL = {"n_Z": 41, "unburnt_temperature": [300.0, 700.0], "pressure": [101325.0, 506625.0], "workers": 1}


@pytest.fixture(scope="module")
def built(tmp_path_factory, request):
    """A CH4/air table of 4 lines (2 T_in x 2 p), killed after 2 lines and resumed with the same options."""
    path = tmp_path_factory.mktemp("equilibrium") / "eq.h5"
    report, first, second = built_across_a_kill(EquilibriumTable, equilibrium, "solve_line", 2, path, **SMALL)
    return SimpleNamespace(path=path, table=Table(path), report=report, first=first, second=second)


def direct_equilibrium(Z: float, T_in: float, p: float) -> ct.Solution:
    """Cantera alone: CH4 and air mixed by mass at Z, at T_in and p, equilibrated at constant h and p."""
    gas = ct.Solution("gri30.yaml")
    gas.TPX = T_in, p, "CH4:1"
    Y_fuel = gas.Y
    gas.TPX = T_in, p, "O2:0.21,N2:0.79"
    gas.TPY = T_in, p, Z * Y_fuel + (1.0 - Z) * gas.Y
    gas.equilibrate("HP")
    return gas


def test_interrupted_build_resumes_with_the_lines_left(built):
    assert built.first == [0, 1] and built.second == [2, 3]
    assert built.report.resumed == 2 and built.report.numbers["lines"] == 4
    assert not work_dir_for(built.path).exists()


def test_every_row_equals_cantera_equilibrate(built):
    table = built.table
    species = table.attrs["species"]
    Z, T_in, p, T = (table.read(name) for name in ("Z", "T_in", "p", "T"))
    Y = table.read_matrix([f"Y_{s}" for s in species])
    for row in np.linspace(0, table.n_rows - 1, 12).astype(int):
        gas = direct_equilibrium(Z[row], T_in[row], p[row])
        assert T[row] == pytest.approx(gas.T, abs=1e-6)
        np.testing.assert_allclose(Y[row], [gas[s].Y[0] for s in species], atol=1e-12)


def test_adiabatic_flame_temperature_peaks_just_rich_of_stoichiometric(built):
    table = built.table
    line = table.read_labels("line")
    Z, T = table.read("Z"), table.read("T")
    at = (line == 0)  # T_in = 300 K, 1 atm
    Z_peak = Z[at][np.argmax(T[at])]
    assert 2150.0 < T[at].max() < 2230.0  # CH4/air at 300 K, 1 atm: T_ad = 2225 K, between two of 41 Z nodes
    assert table.attrs["Z_st"] == pytest.approx(0.0552, abs=5e-4)
    assert table.attrs["Z_st"] <= Z_peak < 0.07
    hotter = (line == 1)  # T_in = 700 K
    assert T[hotter].max() > T[at].max() + 150.0
    np.testing.assert_allclose(T[at][[0, -1]], 300.0, atol=1.0)  # pure air and pure methane do not react


def test_mass_fractions_close_and_stored_Z_is_bilger_of_the_stored_Y(built):
    table = built.table
    assert_rows_are_closed_mass_fractions(table)
    species = table.attrs["species"]
    Z = BilgerMixtureFraction.from_table_attrs(table.attrs)(table.read_matrix([f"Y_{s}" for s in species]), species)
    np.testing.assert_allclose(Z, table.read("Z"), atol=1e-9)
    assert table.input_names == table.defaults.default_inputs == ["Z", "T_in", "p"]


def test_adiabatic_mixing_keeps_the_stream_enthalpy(tmp_path):
    report = EquilibriumTable.build(tmp_path / "ad.h5", progress=False, n_Z=11, workers=1)
    table = Table(report.path)
    assert table.input_names == ["Z"]
    gas = ct.Solution("gri30.yaml")
    h = []
    for X in ("CH4:1", "O2:0.21,N2:0.79"):
        gas.TPX = 300.0, ct.one_atm, X
        h.append(gas.enthalpy_mass)
    Z = table.read("Z")
    np.testing.assert_allclose(table.read("h"), Z * h[0] + (1 - Z) * h[1], rtol=1e-9, atol=1e-3)


def test_cli_builds_plots_prints_info_and_a_softmax_mlp_trains_on_it(built, tmp_path):
    runner = CliRunner()
    out = tmp_path / "eq.h5"
    result = runner.invoke(cli, ["table", "build", "equilibrium", "-o", str(out), "--n-Z", "31",
                                 "--mechanism", "h2o2.yaml", "--fuel", "H2:1", "--progress-variable", "H2O:1"])
    assert result.exit_code == 0, result.output
    assert "lines = 1" in result.output
    info = runner.invoke(cli, ["table", "info", str(out)])
    assert "line 0 (adiabatic mixing, p=101325 Pa)" in info.output and "T_max=" in info.output
    plotted = runner.invoke(cli, ["table", "plot", str(built.path), "-o", str(tmp_path / "plots")])
    assert (tmp_path / "plots" / "equilibrium_T.png").stat().st_size > 10_000, plotted.output
    metrics = train_from_cli(built.path, tmp_path / "run")
    assert "test" in metrics


def test_table_check_passes_and_catches_an_enthalpy_off_by_100_J_per_kg(built, tmp_path):
    code, lines = table_check(built.path)
    assert code == 0 and "ok" in lines["enthalpy of the unburnt mixture kept"]
    assert "ok" in lines["mass fractions sum to 1"] and "ok" in lines["finite values"]
    broken = tmp_path / "broken.h5"
    shutil.copy(built.path, broken)
    with h5py.File(broken, "r+") as h5:
        h5["outputs/h"][7] += 100.0
    code, lines = table_check(broken)
    assert code == 1 and "FAIL" in lines["enthalpy of the unburnt mixture kept"], lines


@pytest.mark.parametrize("args, fragments", [
    (["--fuel", "XX:1"], ("unknown species 'XX'",)),
    (["--n-Z", "1"], ("n_Z=1", "expected an integer >= 2")),
    (["--unburnt-temperature", "-5"], ("unburnt_temperature=[-5.0]", "each > 0")),
])
def test_bad_input_is_a_one_line_error_and_leaves_no_file(tmp_path, args, fragments):
    result = CliRunner().invoke(cli, ["table", "build", "equilibrium", "-o", str(tmp_path / "x.h5"), *args])
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "x.h5").exists()
