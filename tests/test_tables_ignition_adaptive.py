"""Adaptive ignition tables: reactors added in T0 where ln tau_ign curves against 1/T0 (real Cantera, h2o2.yaml)."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ProcessPoolExecutor
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cantera_tables import ignition
from cantera_tables.checks import ignition_checks
from cantera_tables.ignition import IgnitionTable
from cantera_tables.ignition_refine import MIN_INTERVAL_T0, line_errors, next_T0
from surrogate.chunks import work_dir_for
from surrogate.cli.main import cli
from surrogate.table import Table
from tests.cantera_checks import assert_one_line_error, built_across_a_kill, table_check
from tests.h5_compare import assert_same_h5

# H2/air at 1 atm: towards 950 K ignition nears H2's extended second explosion limit and its apparent activation
# energy rises steeply (below it, no ignition within end_time), so ln tau_ign bends against 1000/T0 between 1000
# and 1200 K and is nearly straight above
H2 = {"mechanism": "h2o2.yaml", "fuel": "H2:1", "progress_variable": {"H2O": 1.0},
      "initial_temperature": [1000.0, 1100.0, 1200.0, 1300.0, 1400.0], "equivalence_ratio": [0.5, 1.0],
      "end_time": 0.05, "points_per_trajectory": 20, "workers": 1}
ADAPTIVE = {**H2, "tolerance": 0.05, "max_refine": 6}
N_GRID = 10  # reactors of the given grid: 5 temperatures on 2 lines


def leave_one_out(path) -> float:
    """Independently of cantera_tables.ignition_refine: the largest |ln tau_ign - its linear interpolation in
    1000/T0 between the two neighbouring ignited reactors| over the interior reactors of every (phi, p) line."""
    with h5py.File(path, "r") as h5:
        d = {name: h5["ignition"][name][()] for name in ("T0", "phi", "p", "tau_ign")}
    worst = 0.0
    for phi, p in {(a, b) for a, b in zip(d["phi"], d["p"])}:
        at = (d["phi"] == phi) & (d["p"] == p) & np.isfinite(d["tau_ign"])
        x, y = 1000.0 / d["T0"][at], np.log(d["tau_ign"][at])
        order = np.argsort(x)
        x, y = x[order], y[order]
        for j in range(1, len(x) - 1):
            predicted = np.interp(x[j], [x[j - 1], x[j + 1]], [y[j - 1], y[j + 1]])
            worst = max(worst, abs(predicted - y[j]))
    return worst


@pytest.fixture(scope="module")
def adaptive(tmp_path_factory):
    """The grid alone; the adaptive build killed after the first reactor the refinement added and resumed; the
    adaptive build in one go."""
    root = tmp_path_factory.mktemp("adaptive_ignition")
    plain = IgnitionTable.build(root / "plain.h5", progress=False, **H2)
    resumed, first, second = built_across_a_kill(IgnitionTable, ignition, "solve_condition", N_GRID + 1,
                                                 root / "resumed.h5", **ADAPTIVE)
    fresh = IgnitionTable.build(root / "fresh.h5", progress=False, **ADAPTIVE)
    return SimpleNamespace(plain=plain, resumed=resumed, fresh=fresh, first=first, second=second)


def delays(path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as h5:
        return {name: h5["ignition"][name][()] for name in h5["ignition"]}


def test_reactors_are_added_where_ln_tau_curves_until_the_tolerance_is_met(adaptive):
    tolerance = ADAPTIVE["tolerance"]
    assert leave_one_out(adaptive.plain.path) > tolerance  # the given grid misses it
    report = adaptive.fresh
    added = report.numbers["adaptive: reactors added"]
    assert 1 <= added <= 2 * ADAPTIVE["max_refine"] and report.numbers["reactors"] == N_GRID + added
    reached = leave_one_out(report.path)
    assert reached <= tolerance
    assert report.numbers["adaptive: largest leave-one-out error"] == pytest.approx(reached, rel=1e-9)
    new = delays(report.path)["T0"][N_GRID:]
    # all in the bend, most of them next to 1000 K where it is sharpest; none where ln tau_ign is straight
    assert np.all((new > 1000.0) & (new < 1200.0)) and np.sum(new < 1100.0) > np.sum(new > 1100.0), new
    note = next(n for n in report.notes if n.startswith("adaptive"))
    assert "(tolerance 0.05, met;" in note and f"{added} added" in note


def test_the_history_of_rounds_is_stored_shown_by_info_and_checked(adaptive, tmp_path):
    report = adaptive.fresh
    record = Table(report.path).attrs["refinement"]
    sizes = [entry[0] for entry in record["rounds"]]
    assert sizes[0] == N_GRID and sizes[-1] == report.numbers["reactors"] and np.all(np.diff(sizes) >= 1)
    assert np.all(np.diff(sizes) <= 2)  # at most one reactor per line and round
    assert [line["added"] for line in record["lines"]] and sum(line["added"] for line in record["lines"]) == sizes[-1] - N_GRID
    info = CliRunner().invoke(cli, ["table", "info", str(report.path)]).output
    assert f"{N_GRID} -> {sizes[-1]} reactors" in info and "(tolerance 0.05, met)" in info
    assert "leave-one-out" not in CliRunner().invoke(cli, ["table", "info", str(adaptive.plain.path)]).output
    code, lines = table_check(report.path)
    assert code == 0 and "ok" in lines["adaptive tolerance"], lines
    reached = leave_one_out(report.path)
    strict = tmp_path / "strict.h5"  # the same reactors held to a tolerance below the error they reach
    shutil.copy(report.path, strict)
    with h5py.File(strict, "r+") as h5:
        h5.attrs["refinement"] = json.dumps({**json.loads(h5.attrs["refinement"]), "tolerance": 0.9 * reached})
    value, passed = next((v, ok) for label, v, ok in ignition_checks(strict) if label == "adaptive tolerance")
    assert not passed and f"{reached:.3g}" in value


def test_a_spent_budget_is_reported_with_the_worst_reactor_and_fails_the_check(tmp_path):
    report = IgnitionTable.build(tmp_path / "budget.h5", progress=False, **{**ADAPTIVE, "max_refine": 1})
    assert report.numbers["adaptive: reactors added"] == 2  # one per line
    reached = leave_one_out(report.path)
    assert reached > ADAPTIVE["tolerance"]
    d = delays(report.path)
    worst = Table(report.path).attrs["refinement"]["rounds"][-1]
    assert worst[1] == pytest.approx(reached, rel=1e-9) and worst[2] in d["T0"] and worst[3] in (0.5, 1.0)
    note = next(n for n in report.notes if n.startswith("adaptive"))
    assert (f"not met: the largest error is at T0={worst[2]:.6g} K, phi={worst[3]:g}, p=101325 Pa, and the line's "
            "budget is spent") in note
    code, lines = table_check(report.path)
    assert code == 1 and "FAIL" in lines["adaptive tolerance"] and f"{reached:.3g}" in lines["adaptive tolerance"]


def test_a_killed_adaptive_build_resumes_to_the_same_table(adaptive):
    assert adaptive.first == list(range(N_GRID + 1))
    assert adaptive.second[0] == N_GRID + 1 and adaptive.resumed.resumed == N_GRID + 1
    assert not work_dir_for(adaptive.resumed.path).exists()
    assert_same_h5(adaptive.resumed.path, adaptive.fresh.path)


class CountingPool(ProcessPoolExecutor):
    """A process pool that counts the reactors submitted to it."""

    submitted = 0

    def submit(self, *args, **kwargs):
        self.submitted += 1
        return super().submit(*args, **kwargs)


def test_the_added_reactors_run_on_the_executor_and_give_the_same_table(adaptive, tmp_path):
    with CountingPool(2) as pool:
        report = IgnitionTable.build(tmp_path / "pool.h5", progress=False, executor=pool, **ADAPTIVE)
    assert pool.submitted == report.numbers["reactors"] > N_GRID  # the grid and every round's added reactors
    assert_same_h5(report.path, adaptive.fresh.path)


def test_without_a_tolerance_the_table_is_the_grid_alone(adaptive):
    plain, fresh = Table(adaptive.plain.path), Table(adaptive.fresh.path)
    assert "refinement" not in plain.attrs and "adaptive: reactors added" not in adaptive.plain.numbers
    assert adaptive.plain.numbers["reactors"] == N_GRID
    grid_rows = fresh.read_labels("trajectory") < N_GRID  # the given grid's reactors are the same in both
    for name in ("T0", "phi", "C", "T", "Y_OH"):
        np.testing.assert_array_equal(plain.read(name), fresh.read(name)[grid_rows])
    np.testing.assert_array_equal(delays(adaptive.plain.path)["tau_ign"], delays(adaptive.fresh.path)["tau_ign"][:N_GRID])


def test_the_worst_reactor_gets_a_new_neighbour_at_the_midpoint_in_inverse_temperature():
    T0 = np.array([800.0, 900.0, 1000.0, 1200.0, 1400.0])
    straight = np.exp(15000.0 / T0) * 1e-9  # Arrhenius: ln tau linear in 1/T0, nothing to add
    order, errors = line_errors(T0, straight)
    assert order.tolist() == [0, 1, 2, 3, 4] and np.nanmax(errors) < 1e-12
    assert next_T0(T0, errors, 0.01) is None
    bent = straight * np.where(T0 < 950.0, np.exp(30.0 * (950.0 / T0 - 1.0)), 1.0)  # steeper below 950 K
    order, errors = line_errors(T0, bent)
    assert int(np.nanargmax(errors)) == 2  # the kink sits next to 1000 K
    new = next_T0(T0, errors, 0.01)
    # of the two intervals beside 1000 K, 1000-1200 K is the wider in 1/T0: its midpoint in 1/T0
    assert new == pytest.approx(2.0 / (1.0 / 1000.0 + 1.0 / 1200.0))
    assert next_T0(T0, errors, 10.0) is None  # within a loose tolerance


def test_reactors_that_did_not_ignite_and_intervals_below_the_floor_are_skipped():
    step = 0.4 * MIN_INTERVAL_T0
    T0 = np.array([900.0, 1000.0, 1000.0 + step, 1000.0 + 2 * step, 1100.0, 1200.0])
    tau = np.array([np.nan, 1e-3, 1e-2, 1e-3, 1e-4, 5e-5])  # 900 K: not ignited, left out of the estimate
    order, errors = line_errors(T0, tau)
    assert order.tolist() == [1, 2, 3, 4, 5] and np.isnan(errors[[0, -1]]).all()
    assert np.nanargmax(errors) == 1 and errors[2] > 1.0  # the spike and its hotter neighbour
    # both intervals beside the spike are below the floor: the next worst reactor's wider interval is split
    assert next_T0(T0[order], errors, 0.01) == pytest.approx(2.0 / (1.0 / T0[3] + 1.0 / 1100.0))


@pytest.mark.parametrize("args, fragments", [
    (["--tolerance", "-0.1"], ("tolerance=-0.1",)),
    (["--tolerance", "2"], ("tolerance=2",)),
    (["--tolerance", "abc"], ("tolerance",)),
    (["--tolerance", "0.05", "--initial-temperature", "1000,1100"], ("at least 3 initial temperatures",)),
    (["--tolerance", "0.05", "--max-refine", "-1"], ("max_refine=-1",)),
])
def test_bad_refinement_options_are_one_line_errors_and_leave_no_file(tmp_path, args, fragments):
    result = CliRunner().invoke(cli, ["table", "build", "ignition", "-o", str(tmp_path / "x.h5"), *args])
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "x.h5").exists() and not work_dir_for(tmp_path / "x.h5").exists()
