"""ignition tables: constant-pressure CH4/air reactors (real Cantera, GRI-3.0), delays and rows along C."""

from __future__ import annotations

from types import SimpleNamespace

import cantera as ct
import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cantera_tables import ignition
from cantera_tables.ignition import IgnitionTable
from cantera_tables.plots import mixture_axis
from surrogate.chemistry import BilgerMixtureFraction
from surrogate.chunks import work_dir_for
from surrogate.cli.main import cli
from surrogate.table import Table
from tests.cantera_checks import (assert_one_line_error, assert_rows_are_closed_mass_fractions,
                                  built_across_a_kill, table_check, train_from_cli)

SMALL = {"initial_temperature": [1200.0, 1400.0, 1600.0], "equivalence_ratio": [0.5, 1.0],
         "points_per_trajectory": 30, "workers": 1}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """6 reactors, killed after 4 and resumed with the same options."""
    path = tmp_path_factory.mktemp("ignition") / "ign.h5"
    report, first, second = built_across_a_kill(IgnitionTable, ignition, "solve_condition", 4, path, **SMALL)
    with h5py.File(path, "r") as h5:
        delays = {name: h5["ignition"][name][()] for name in h5["ignition"]}
    return SimpleNamespace(path=path, table=Table(path), report=report, first=first, second=second, delays=delays)


def direct_ignition_delay(T0: float, phi: float, p: float = ct.one_atm) -> float:
    """Cantera alone: a constant-pressure reactor advanced on a uniform time grid of 20,000 steps over twice
    a first estimate, τ = time of the largest dT/dt."""

    def run(t_end: float) -> tuple[np.ndarray, np.ndarray]:
        gas = ct.Solution("gri30.yaml")
        gas.set_equivalence_ratio(phi, "CH4:1", "O2:0.21,N2:0.79")
        gas.TP = T0, p
        reactor = ct.IdealGasConstPressureReactor(gas, clone=False)
        network = ct.ReactorNet([reactor])
        times = np.linspace(0.0, t_end, 20_001)
        temperatures = [reactor.T]
        for t in times[1:]:
            network.advance(t)
            temperatures.append(reactor.T)
        return times, np.array(temperatures)

    times, T = run(1.0)
    estimate = times[np.argmax(np.diff(T))]
    times, T = run(2.0 * estimate)
    rate = np.diff(T) / np.diff(times)
    return float(0.5 * (times[np.argmax(rate)] + times[np.argmax(rate) + 1]))


def test_interrupted_build_resumes_with_the_reactors_left(built):
    assert built.first == [0, 1, 2, 3] and built.second == [4, 5]
    assert built.report.resumed == 4 and built.report.numbers["reactors"] == 6
    assert not work_dir_for(built.path).exists()


def test_ignition_delay_falls_as_the_initial_temperature_rises(built):
    d = built.delays
    for phi in (0.5, 1.0):
        at = d["phi"] == phi
        order = np.argsort(d["T0"][at])
        tau = d["tau_ign"][at][order]
        assert np.all(np.diff(tau) < 0), tau
    stoich_1400 = d["tau_ign"][(d["phi"] == 1.0) & (d["T0"] == 1400.0)][0]
    assert 1e-3 < stoich_1400 < 1e-2  # CH4/air, 1 atm, 1400 K: a few ms with GRI-3.0


def test_one_delay_equals_a_direct_cantera_reactor_run(built):
    d = built.delays
    stored = d["tau_ign"][(d["phi"] == 1.0) & (d["T0"] == 1600.0)][0]
    assert stored == pytest.approx(direct_ignition_delay(1600.0, 1.0), rel=0.01)


def test_rows_follow_C_up_to_equilibrium_and_mass_fractions_close(built):
    table = built.table
    assert_rows_are_closed_mass_fractions(table)
    assert table.input_names == ["T0", "phi", "C", "Z"]  # Z stored too, for a solver that transports it
    assert table.defaults.default_inputs == ["T0", "phi", "C"]
    C, T, trajectory = table.read("C"), table.read("T"), table.read_labels("trajectory")
    for k in range(6):
        at = trajectory == k
        assert np.all(np.diff(C[at]) > 0)
        assert T[at][0] == pytest.approx(built.delays["T0"][k], abs=1e-6)
        assert T[at][-1] == pytest.approx(built.delays["T_eq"][k], abs=1.5)  # end_delta_T = 1 K
    assert table.attrs["ignition_delay_definition"].startswith("time of the maximum of dT/dt")


def test_cli_plots_delay_against_inverse_temperature_and_a_softmax_mlp_trains_on_it(built, tmp_path):
    runner = CliRunner()
    info = runner.invoke(cli, ["table", "info", str(built.path)])
    assert "tau_ign at phi=1, p=101325 Pa" in info.output and "1600 K:" in info.output
    plotted = runner.invoke(cli, ["table", "plot", str(built.path), "-o", str(tmp_path / "plots")])
    assert (tmp_path / "plots" / "ignition_delay.png").stat().st_size > 10_000, plotted.output
    metrics = train_from_cli(built.path, tmp_path / "run")
    assert "test" in metrics


def test_conditions_given_in_mixture_fraction_are_the_same_reactors_with_Z_as_default_input(built, tmp_path):
    d = built.delays
    Z_stoich = d["Z"][(d["phi"] == 1.0) & (d["T0"] == 1600.0)][0]
    assert Z_stoich == pytest.approx(0.0552, abs=5e-4)  # CH4/air: Z_st = 0.055
    report = IgnitionTable.build(tmp_path / "z.h5", progress=False, initial_temperature=[1600.0],
                                 mixture_fraction=[Z_stoich, 0.03], points_per_trajectory=30, workers=1)
    table = Table(report.path)
    assert table.defaults.default_inputs == ["T0", "Z", "C"] and table.input_names == ["T0", "Z", "C", "phi"]
    assert mixture_axis(report.path) == "Z" and mixture_axis(built.path) == "phi"  # what the plots label lines by
    with h5py.File(report.path, "r") as h5:
        phi, Z, tau = h5["ignition"]["phi"][()], h5["ignition"]["Z"][()], h5["ignition"]["tau_ign"][()]
    np.testing.assert_allclose(Z, [Z_stoich, 0.03], rtol=1e-12)
    assert phi[0] == pytest.approx(1.0, rel=1e-9) and 0.5 < phi[1] < 0.55  # Z = 0.03 is lean
    # the same reactor up to round-off in phi, which moves CVODES's steps (tau is a step time) by ~1e-5
    assert tau[0] == pytest.approx(d["tau_ign"][(d["phi"] == 1.0) & (d["T0"] == 1600.0)][0], rel=1e-4)
    # Bilger's Z is conserved in a closed reactor: every row's Y gives back the Z column
    rows_Z = BilgerMixtureFraction.from_table_attrs(table.attrs)(
        table.read_matrix([f"Y_{s}" for s in table.attrs["species"]]), table.attrs["species"])
    np.testing.assert_allclose(rows_Z, table.read("Z"), atol=1e-9)


def test_table_check_finds_enthalpy_kept_and_every_reactor_at_equilibrium(built):
    code, lines = table_check(built.path)
    assert code == 0, lines
    for label in ("reactor enthalpy conserved", "ignited reactors reach T_eq", "mass fractions sum to 1"):
        assert "ok" in lines[label], lines[label]
    assert "on 2 of 2 (phi, p) lines" in lines["tau_ign falls as T0 rises"]
    drift = float(lines["reactor enthalpy conserved"].split("h(t=0)| ")[1].split()[0])
    assert drift < 1.0  # J/kg: CVODES keeps h of an adiabatic constant-pressure reactor


@pytest.mark.parametrize("args, fragments", [
    (["--equivalence-ratio", "0"], ("equivalence_ratio=[0.0]", "each > 0")),
    (["--oxidizer", "O2:1,Q:2"], ("unknown species 'Q'",)),
    (["--points-per-trajectory", "1"], ("points_per_trajectory=1",)),
    (["--mixture-fraction", "1"], ("mixture_fraction=[1.0]", "each in (0, 1)")),
    (["--mixture-fraction", "0.05", "--equivalence-ratio", "1"], ("equivalence_ratio and mixture_fraction",)),
])
def test_bad_input_is_a_one_line_error_and_leaves_no_file(tmp_path, args, fragments):
    result = CliRunner().invoke(cli, ["table", "build", "ignition", "-o", str(tmp_path / "x.h5"), *args])
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.slow
def test_reactors_run_on_a_dask_cluster_named_by_its_scheduler(tmp_path):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "dask.h5"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = CliRunner().invoke(cli, ["table", "build", "ignition", "-o", str(out), "--initial-temperature",
                                          "1400,1600", "--equivalence-ratio", "1", "--points-per-trajectory", "20",
                                          "--scheduler", cluster.scheduler_address])
        ran_there = [key for key, *_ in cluster.scheduler.transition_log if "solve_condition" in str(key)]
    assert result.exit_code == 0, result.output
    assert ran_there  # the reactors were tasks of the Dask scheduler, not of a local pool
    assert Table(out).n_rows == 40
