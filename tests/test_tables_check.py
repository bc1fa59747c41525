"""``surrogate table check``: the content checks every table of rows gets from its declared defaults, and the
checks of a counterflow flamelet table recomputed from its flamelets (branch labels, C monotone along the S-curve,
FPV lookup error) and of a presumed-PDF table against its source (laminar limit, β-PDF quadrature)."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cantera_tables import structured
from cantera_tables.flamelet import s_curve_order
from cantera_tables.flamelet_table import SMALL_OPTIONS, CounterflowFlameletTable
from cantera_tables.presumed_pdf_table import PresumedPDFTable
from cantera_tables.stored_flamelets import read_curve
from cantera_tables.structured import MONOTONE_TOLERANCE
from surrogate.cli.main import cli
from surrogate.table import Column, DatasetDefaults, write_table
from tests.cantera_checks import table_check


def rows_table(path, Y_a: np.ndarray, Y_b: np.ndarray, T: np.ndarray) -> None:
    """A two-species table of rows that declares Y_A, Y_B as softmax-closed mass fractions."""
    write_table(path, kind="handmade", inputs=[Column("x", np.linspace(0.0, 1.0, len(T)), "1", "x")],
                outputs=[Column("Y_A", Y_a, "1", "A"), Column("Y_B", Y_b, "1", "B"), Column("T", T, "K", "T")],
                attrs={}, defaults=DatasetDefaults(softmax_outputs=["Y_A", "Y_B"]))


def test_closed_finite_rows_pass_and_the_exit_status_is_zero(tmp_path):
    Y_a = np.linspace(0.0, 1.0, 50)
    rows_table(tmp_path / "good.h5", Y_a, 1.0 - Y_a, np.full(50, 300.0))
    code, lines = table_check(tmp_path / "good.h5")
    assert code == 0
    assert "0 of 200 values" in lines["finite values"] and "ok" in lines["mass fractions sum to 1"]


def test_a_row_summing_to_0_9_a_negative_mass_fraction_and_a_nan_each_fail(tmp_path):
    Y_a = np.linspace(0.0, 1.0, 50)
    Y_b = 1.0 - Y_a
    Y_b[3] -= 0.1  # that row sums to 0.9
    Y_a[0] = -1e-3
    Y_b[0] = 1.0 + 1e-3  # closed, but negative
    T = np.full(50, 300.0)
    T[10] = np.nan
    rows_table(tmp_path / "bad.h5", Y_a, Y_b, T)
    code, lines = table_check(tmp_path / "bad.h5")
    assert code == 1
    assert "FAIL" in lines["finite values"] and "1 of 200 values" in lines["finite values"]
    assert "FAIL" in lines["mass fractions >= 0"] and "-0.001" in lines["mass fractions >= 0"]
    assert "FAIL" in lines["mass fractions sum to 1"] and "0.1 " in lines["mass fractions sum to 1"]


def test_a_file_that_is_not_a_table_is_a_one_line_error(tmp_path):
    (tmp_path / "x.h5").write_text("not hdf5")
    result = CliRunner().invoke(cli, ["table", "check", str(tmp_path / "x.h5")])
    assert result.exit_code == 2 and result.output.startswith("Error:") and len(result.output.splitlines()) == 1


@pytest.fixture(scope="module")
def flamelet_table(tmp_path_factory):
    """A small real H2/air S-curve and its build report."""
    path = tmp_path_factory.mktemp("check") / "h2.h5"
    return CounterflowFlameletTable.build(path, progress=False, preset="h2", workers=1, points_per_flamelet=30,
                                          **SMALL_OPTIONS)


def check_lines(path, *options):
    result = CliRunner().invoke(cli, ["table", "check", str(path), *options])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, {line.split("  ")[0]: line for line in result.output.splitlines()}


def test_counterflow_check_recomputes_the_fpv_lookup_error_against_the_stated_bound(flamelet_table):
    code, lines = table_check(flamelet_table.path)
    assert "ok" in lines["branch labels from the S-curve"] and "0 of 16 flamelets" in lines[
        "branch labels from the S-curve"]
    T_error = flamelet_table.numbers["structured lookup error T max, rms [K]"][0]
    assert 1.0 < T_error < 500.0  # a coarse table: tens of K
    assert f"max {T_error:.3g} K" in lines["FPV lookup error T"] and "bound --max-T-error 10 K" in lines[
        "FPV lookup error T"]
    for bound, verdict in ((1.01 * T_error, "ok"), (0.99 * T_error, "FAIL")):
        _, lines = check_lines(flamelet_table.path, "--max-T-error", f"{bound:.6g}")
        assert lines["FPV lookup error T"].split()[4] == verdict, lines["FPV lookup error T"]
    # recomputed, not read back: a stored value that lies does not change the verdict
    forged = flamelet_table.path.with_name("forged.h5")
    shutil.copy(flamelet_table.path, forged)
    with h5py.File(forged, "r+") as h5:
        h5["structured"].attrs["lookup_error"] = json.dumps({**json.loads(h5["structured"].attrs["lookup_error"]),
                                                             "T_max_error": 0.0})
    _, lines = check_lines(forged)
    assert f"max {T_error:.3g} K" in lines["FPV lookup error T"]


def s_curve_C(path, tolerance=MONOTONE_TOLERANCE):
    """Independently of the checks: per Z node of /structured, whether C varies (above `tolerance` of the C
    range) and whether it rises along the S-curve by more than that (flamelets ordered by their stored labels)."""
    with h5py.File(path, "r") as h5:
        Z = h5["structured/Z"][()]
        raw = [(str(g.attrs["branch"]), g.attrs["chi_st"], g.attrs["T_max"], g["Z"][()], g["C"][()])
               for _, g in sorted(h5["flamelets"].items())]
    rank = {"stable": 0, "unstable": 1, "extinguished": 2}
    raw.sort(key=lambda f: (rank[f[0]], f[1] if f[0] == "stable" else -f[2]))
    C_range = max(f[4].max() for f in raw) - min(f[4].min() for f in raw)
    varies, rises = [], []
    for z in Z:
        C = np.array([np.interp(z, f[3][::-1], f[4][::-1]) for f in raw if f[3].min() - 1e-3 <= z <= f[3].max() + 1e-3])
        varies.append(C.max() - C.min() > tolerance * C_range)
        rises.append(varies[-1] and np.diff(C).max() > tolerance * C_range)
    return np.array(varies), np.array(rises)


def test_check_counts_the_Z_nodes_where_C_rises_along_the_s_curve(flamelet_table, tmp_path):
    path = tmp_path / "bumped.h5"
    shutil.copy(flamelet_table.path, path)
    with h5py.File(path, "r+") as h5:  # a stable flamelet burning more than its hotter neighbour: C rises
        group = next(g for _, g in sorted(h5["flamelets"].items()) if g.attrs["branch"] == "stable"
                     and g.attrs["chi_st"] > 5.0)
        group["C"][...] = 1.3 * group["C"][()]
    varies, rises = s_curve_C(path)
    assert 0 < rises.sum() < varies.sum() and rises.sum() != varies.sum() - rises.sum()
    code, lines = table_check(path)
    line = lines["C monotone along the S-curve"]
    assert code == 1 and "FAIL" in line and f"C rises at {rises.sum()} of {varies.sum()} Z nodes" in line, line


def test_reversals_of_C_far_below_its_range_near_the_streams_do_not_fail(flamelet_table):
    flamelets, _ = read_curve(flamelet_table.path)
    with h5py.File(flamelet_table.path, "r") as h5:
        Z = h5["structured/Z"][()]
    order = s_curve_order(flamelets)
    strict, _ = structured.progress_monotonicity(flamelets, order, Z, tolerance=0.0)
    default, _ = structured.progress_monotonicity(flamelets, order, Z)
    near_streams = (Z < 1e-4) | (Z > 0.999)
    assert np.any(strict[near_streams] == 0)  # C ~ 1e-5 of its range there, in no particular order
    assert np.all(default[near_streams] != 0)
    varies, rises = s_curve_C(flamelet_table.path)
    np.testing.assert_array_equal(default == 0, rises)
    np.testing.assert_array_equal(default >= 0, varies)


@pytest.fixture(scope="module")
def pdf_table(flamelet_table):
    path = flamelet_table.path.with_name("pdf.h5")
    PresumedPDFTable.build(path, progress=False, source=str(flamelet_table.path), n_Z_mean=17, n_S=9, mc_check=0,
                           workers=1)
    return path


def test_presumed_pdf_check_compares_the_laminar_limit_and_beta_means_with_the_source(pdf_table, tmp_path):
    code, lines = table_check(pdf_table)
    assert code == 0 and "ok" in lines["zero variance: the laminar table"] and "ok" in lines[
        "beta-PDF means vs quadrature"]
    for name, rows, broken in (("laminar.h5", np.s_[:, 0], "zero variance: the laminar table"),
                               ("turbulent.h5", np.s_[:, 1:-1], "beta-PDF means vs quadrature")):
        path = tmp_path / name
        shutil.copy(pdf_table, path)
        with h5py.File(path, "r+") as h5:  # 1e-4 K off, at S = 0 or at every 0 < S < 1
            T = h5["structured/outputs/T"]
            T[rows] = T[rows] + 1e-4
        code, lines = table_check(path)
        assert code == 1 and "FAIL" in lines[broken], lines[broken]
        other = ({"zero variance: the laminar table", "beta-PDF means vs quadrature"} - {broken}).pop()
        assert "ok" in lines[other], lines[other]
