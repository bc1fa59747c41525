"""``surrogate table check``: the content checks every table of rows gets from its declared defaults, and the
stored checks of a counterflow flamelet table (C monotone along the S-curve, FPV lookup error)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from cantera_tables.flamelet_table import SMALL_OPTIONS, CounterflowFlameletTable
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


def test_counterflow_table_check_reports_C_monotonicity_and_the_fpv_lookup_error(tmp_path):
    report = CounterflowFlameletTable.build(tmp_path / "h2.h5", progress=False, preset="h2", workers=1,
                                            points_per_flamelet=30, **SMALL_OPTIONS)
    code, lines = table_check(report.path)
    monotone = lines["C monotone along the S-curve"]
    assert ("ok" in monotone) == (code == 0) and " of " in monotone
    T_error = float(lines["FPV lookup error T"].split("max ")[1].split()[0])
    assert T_error == pytest.approx(report.numbers["structured lookup error T max, rms [K]"][0], rel=1e-2)
    assert "ok" in lines["mass fractions sum to 1"]
