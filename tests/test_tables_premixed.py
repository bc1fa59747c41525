"""premixed-fgm tables: H2/air free and burner-stabilized flames (real Cantera, h2o2.yaml), flame speeds checked
against Cantera's FreeFlame solved directly on a finer grid."""

from __future__ import annotations

from types import SimpleNamespace

import cantera as ct
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cantera_tables import premixed
from cantera_tables.premixed import PremixedFGMTable
from surrogate.chunks import work_dir_for
from surrogate.cli.main import cli
from surrogate.table import Table
from tests.cantera_checks import (assert_one_line_error, assert_rows_are_closed_mass_fractions,
                                  built_across_a_kill, table_check, train_from_cli)

H2_AIR = {"mechanism": "h2o2.yaml", "fuel": "H2:1", "progress_variable": {"H2O": 1.0}}
SMALL = {**H2_AIR, "equivalence_ratio": [0.7, 1.0], "burner_mass_flux_ratio": [0.5, 0.2],
         "refine": {"slope": 0.1, "curve": 0.2}, "points_per_flame": 40, "workers": 1}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two equivalence ratios, each a free flame and two heat-loss flames; killed after the first, resumed."""
    path = tmp_path_factory.mktemp("premixed") / "fgm.h5"
    report, first, second = built_across_a_kill(PremixedFGMTable, premixed, "solve_equivalence_ratio", 1, path,
                                                **SMALL)
    with h5py.File(path, "r") as h5:
        flames = {name: h5["flames"][name][()] for name in h5["flames"]}
    return SimpleNamespace(path=path, table=Table(path), report=report, first=first, second=second, flames=flames)


def direct_flame_speed(phi: float, fuel: str = "H2:1", mechanism: str = "h2o2.yaml") -> float:
    """Cantera alone: FreeFlame of fuel/air at phi, 300 K, 1 atm, refined twice as finely as the table."""
    gas = ct.Solution(mechanism)
    gas.set_equivalence_ratio(phi, fuel, "O2:0.21,N2:0.79")
    gas.TP = 300.0, ct.one_atm
    flame = ct.FreeFlame(gas, width=0.03)
    flame.set_refine_criteria(ratio=3, slope=0.05, curve=0.1)
    flame.solve(loglevel=0, auto=True)
    return float(flame.velocity[0])


def test_interrupted_build_resumes_with_the_equivalence_ratios_left(built):
    assert built.first == [0] and built.second == [1]
    assert built.report.resumed == 1 and built.report.numbers["flames"] == 6
    assert not work_dir_for(built.path).exists()


def test_flame_speed_equals_a_direct_cantera_free_flame_to_one_percent(built):
    f = built.flames
    free = f["mass_flux_ratio"] == 1.0
    for phi, S_L in zip(f["phi"][free], f["S_L"][free]):
        assert S_L == pytest.approx(direct_flame_speed(phi), rel=0.01), phi
    S_L = dict(zip(f["phi"][free], f["S_L"][free]))
    assert 2.2 < S_L[1.0] < 2.45  # H2/air, 300 K, 1 atm: about 2.3 m/s with this mechanism
    assert S_L[0.7] < S_L[1.0]
    delta = dict(zip(f["phi"][free], f["delta_L"][free]))
    assert 2e-4 < delta[1.0] < 6e-4  # a few tenths of a millimetre


def test_heat_loss_flames_are_colder_and_lower_in_enthalpy(built):
    f = built.flames
    for phi in (0.7, 1.0):
        at = np.flatnonzero(f["phi"] == phi)
        order = at[np.argsort(-f["mass_flux_ratio"][at])]  # free flame first, then less and less mass flux
        assert np.all(np.diff(f["T_max"][order]) < 0)
        assert np.all(np.diff(f["h_min"][order]) < 0)
    table = built.table
    assert table.input_names == ["phi", "C", "h", "Z"]  # Z stored too, for a solver that transports it
    assert table.defaults.default_inputs == ["phi", "C", "h"]


def test_rows_follow_C_and_mass_fractions_close(built):
    table = built.table
    assert_rows_are_closed_mass_fractions(table)
    C, flame = table.read("C"), table.read_labels("flame")
    for k in range(6):
        assert np.all(np.diff(C[flame == k]) > 0)
    assert C.min() == pytest.approx(0.0, abs=1e-3)  # the unburnt mixture holds no H2O


def test_cli_plots_flame_speed_and_a_softmax_mlp_trains_on_it(built, tmp_path):
    runner = CliRunner()
    info = runner.invoke(cli, ["table", "info", str(built.path)])
    assert "phi=1, p=101325 Pa" in info.output and "S_L=" in info.output and "heat-loss flames" in info.output
    plotted = runner.invoke(cli, ["table", "plot", str(built.path), "-o", str(tmp_path / "plots")])
    assert (tmp_path / "plots" / "flame_speed.png").stat().st_size > 10_000, plotted.output
    metrics = train_from_cli(built.path, tmp_path / "run")
    assert "test" in metrics


def test_flames_given_in_mixture_fraction_are_the_same_flames_with_Z_as_default_input(built, tmp_path):
    f = built.flames
    free = f["mass_flux_ratio"] == 1.0
    Z_stoich = f["Z"][free & (f["phi"] == 1.0)][0]
    assert Z_stoich == pytest.approx(0.0285, abs=2e-4)  # H2/air: Z_st = 0.0285
    report = PremixedFGMTable.build(tmp_path / "z.h5", progress=False, **{
        **{k: v for k, v in SMALL.items() if k != "equivalence_ratio"}, "mixture_fraction": [Z_stoich], "burner_mass_flux_ratio": []})
    table = Table(report.path)
    assert table.defaults.default_inputs == ["Z", "C"] and table.input_names == ["Z", "C", "phi"]
    np.testing.assert_allclose(table.read("Z"), Z_stoich, rtol=1e-12)
    np.testing.assert_allclose(table.read("phi"), 1.0, rtol=1e-9)
    assert report.numbers["S_L range [m/s]"][0] == pytest.approx(f["S_L"][free & (f["phi"] == 1.0)][0], rel=1e-5)


def test_table_check_finds_C_monotone_free_flames_adiabatic_and_heat_loss_below(built):
    code, lines = table_check(built.path)
    assert code == 0, lines
    assert "6 of 6 flames" in lines["C rises through every flame"]
    assert "ok" in lines["free flames adiabatic"] and "4 of 4 flames" in lines["heat-loss flames below adiabatic h"]


@pytest.mark.parametrize("args, fragments", [
    (["--burner-mass-flux-ratio", "1.5"], ("burner_mass_flux_ratio=[1.5]", "each in (0, 1)")),
    (["--refine", "slop:0.1"], ("unknown criterion 'slop'",)),
    (["--mechanism", "nonexistent.yaml"], ("nonexistent.yaml",)),
    (["--mixture-fraction", "0"], ("mixture_fraction=[0.0]", "each in (0, 1)")),
])
def test_bad_input_is_a_one_line_error_and_leaves_no_file(tmp_path, args, fragments):
    result = CliRunner().invoke(cli, ["table", "build", "premixed-fgm", "-o", str(tmp_path / "x.h5"), *args])
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "x.h5").exists()


def test_flame_outside_the_flammable_range_is_reported_and_skipped(tmp_path):
    report = PremixedFGMTable.build(tmp_path / "lean.h5", progress=False,
                                    **{**SMALL, "equivalence_ratio": [0.15, 1.0], "burner_mass_flux_ratio": []})
    assert report.numbers["flames"] == 1
    assert any("phi=0.15: free flame" in note for note in report.notes)


@pytest.mark.slow
def test_stoichiometric_methane_air_flame_speed_with_gri30(tmp_path):
    report = PremixedFGMTable.build(tmp_path / "ch4.h5", progress=False, equivalence_ratio=[1.0], workers=1)
    S_L = report.numbers["S_L range [m/s]"][0]
    assert 0.37 < S_L < 0.39  # GRI-3.0, 300 K, 1 atm: 0.38 m/s
