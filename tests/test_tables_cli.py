"""``surrogate table build/info/plot`` end to end through click, and every bad input as a one-line error."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from surrogate.cli.main import cli
from surrogate.table import Table

from cantera_tables.flamelet_table import SMALL_OPTIONS

SMALL_ARGS = [
    arg
    for name, value in SMALL_OPTIONS.items()
    for arg in (f"--{name.replace('_', '-')}",
                ",".join(f"{k}:{v:g}" for k, v in value.items()) if isinstance(value, dict) else str(value))
]


@pytest.fixture(scope="module")
def cli_table(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "h2.h5"
    result = CliRunner().invoke(cli, ["table", "build", "h2-flamelet", "-o", str(path), *SMALL_ARGS,
                                      "--set", "points_per_flamelet=50"])
    assert result.exit_code == 0, result.output
    return path, result.output


def assert_one_line_error(result, *fragments):
    lines = [line for line in result.output.strip().splitlines() if line.strip() and not line.startswith("flamelets:")]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_build_writes_a_table_with_options_from_the_command_line(cli_table):
    path, output = cli_table
    assert "flamelets" in output and "extinction chi_st" in output
    table = Table(path)
    assert table.attrs["build_options"]["points_per_flamelet"] == 50
    assert table.attrs["refine_criteria"]["slope"] == 0.2
    assert table.n_rows <= 50 * table.attrs["n_flamelets"]


def test_info_prints_kind_sizes_ranges_branches_and_extinction(cli_table):
    path, _ = cli_table
    result = CliRunner().invoke(cli, ["table", "info", str(path)])
    assert result.exit_code == 0, result.output
    for fragment in ("h2-flamelet", "rows", "Z [1]", "chi [1/s]", "stable flamelets", "unstable flamelets",
                     "extinction at p=101325 Pa", "cantera_version", "Bilger"):
        assert fragment in result.output, fragment


def test_plot_writes_s_curve_profiles_and_structured_png(cli_table, tmp_path):
    path, _ = cli_table
    result = CliRunner().invoke(cli, ["table", "plot", str(path), "-o", str(tmp_path / "figs")])
    assert result.exit_code == 0, result.output
    for name in ("s_curve.png", "profiles.png", "structured.png"):
        png = tmp_path / "figs" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--fuel", "XE:1"], ["fuel", "unknown species 'XE'"]),
        (["--oxidizer", "O2:0.21,N3:0.79"], ["oxidizer", "'N3'"]),
        (["--progress-variable", "CO2:1"], ["progress_variable", "'CO2'"]),
        (["--mechanism", "no-such-mechanism.yaml"], ["no-such-mechanism.yaml"]),
        (["--pressure", "-5"], ["pressure"]),
        (["--strain-factor", "fast"], ["strain_factor", "expected float"]),
        (["--set", "colour=red"], ["unknown option 'colour'"]),
        (["--transport", "magic"], ["transport", "expected one of"]),
    ],
)
def test_bad_build_input_is_a_one_line_error_and_leaves_no_file(tmp_path, args, fragments):
    out = tmp_path / "t.h5"
    result = CliRunner().invoke(cli, ["table", "build", "h2-flamelet", "-o", str(out), *args])
    assert_one_line_error(result, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_unparseable_mechanism_is_a_one_line_error(tmp_path):
    mechanism = tmp_path / "broken.yaml"
    mechanism.write_text("phases: [this is: not, a mechanism\n")
    out = tmp_path / "t.h5"
    result = CliRunner().invoke(cli, ["table", "build", "h2-flamelet", "-o", str(out), "--mechanism", str(mechanism)])
    assert_one_line_error(result, "broken.yaml", "cannot be loaded")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.yaml"]


def test_unwritable_output_is_a_one_line_error(tmp_path):
    out = tmp_path / "missing-dir" / "t.h5"
    result = CliRunner().invoke(cli, ["table", "build", "h2-flamelet", "-o", str(out)])
    assert_one_line_error(result, "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_flame_that_never_ignites_is_a_one_line_error_and_leaves_no_file(tmp_path):
    out = tmp_path / "t.h5"
    result = CliRunner().invoke(cli, ["table", "build", "h2-flamelet", "-o", str(out), "--initial-strain", "1e6"])
    assert_one_line_error(result, "no flamelet converged", "did not ignite")
    assert list(tmp_path.iterdir()) == []


def test_unknown_table_kind_lists_the_installed_ones(tmp_path):
    result = CliRunner().invoke(cli, ["table", "build", "ch4-flamelet", "-o", str(tmp_path / "t.h5")])
    assert_one_line_error(result, "ch4-flamelet", "h2-flamelet")


def test_info_on_a_non_table_hdf5_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5["x"] = np.arange(3.0)
    result = CliRunner().invoke(cli, ["table", "info", str(path)])
    assert_one_line_error(result, "other.h5", "not a thermo-surrogate-table")
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    assert_one_line_error(CliRunner().invoke(cli, ["table", "info", str(text)]), "notes.h5")
    assert_one_line_error(CliRunner().invoke(cli, ["table", "plot", str(path), "-o", str(tmp_path / "f")]), "other.h5")


def test_resume_with_other_options_is_refused(tmp_path):
    out = tmp_path / "t.h5"
    work = tmp_path / "t.h5.work"
    work.mkdir()
    (work / "options.json").write_text('{"strain_factor": 9.0}')
    result = CliRunner().invoke(cli, ["table", "build", "h2-flamelet", "-o", str(out)])
    assert_one_line_error(result, "t.h5.work", "other options")
    assert not out.exists()


def test_build_help_lists_the_plugin_options():
    result = CliRunner().invoke(cli, ["table", "build", "h2-flamelet", "--help"])
    assert result.exit_code == 0
    for option in ("--pressure", "--fuel", "--oxidizer-temperature", "--progress-variable", "--points-per-flamelet",
                   "--structured-nz", "--workers", "--set"):
        assert option in result.output, option


@pytest.mark.slow
def test_two_pressures_are_traced_in_parallel_and_add_a_pressure_input(tmp_path):
    out = tmp_path / "two.h5"
    result = CliRunner().invoke(cli, ["table", "build", "h2-flamelet", "-o", str(out), *SMALL_ARGS,
                                      "--pressure", "101325,303975", "--workers", "2",
                                      "--points-per-flamelet", "40"])
    assert result.exit_code == 0, result.output
    table = Table(out)
    assert table.input_names == ["Z", "C", "chi", "p"]
    assert sorted(np.unique(table.read("p"))) == [101325.0, 303975.0]
    assert "structured" not in table.groups and table.attrs["structured_table"] is False
    chi_ext = table.attrs["extinction_chi_st"]
    assert len(chi_ext) == 2 and all(50.0 < chi < 1000.0 for chi in chi_ext)


@pytest.mark.slow
def test_s_curves_run_on_a_dask_cluster_named_by_its_scheduler(tmp_path):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "dask.h5"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = CliRunner().invoke(cli, ["table", "build", "h2-flamelet", "-o", str(out), *SMALL_ARGS,
                                          "--pressure", "101325,303975", "--points-per-flamelet", "40",
                                          "--scheduler", cluster.scheduler_address])
        curves_run_there = [key for key, *_ in cluster.scheduler.transition_log
                            if "run_curve" in str(key)]
    assert result.exit_code == 0, result.output
    assert curves_run_there  # the S-curves were tasks of the Dask scheduler, not of a local pool
    table = Table(out)
    assert sorted(np.unique(table.read("p"))) == [101325.0, 303975.0]


def test_unreachable_dask_scheduler_is_a_one_line_error(tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "x.h5"
    result = CliRunner().invoke(cli, ["table", "build", "h2-flamelet", "-o", str(out), *SMALL_ARGS,
                                      "--pressure", "101325,303975", "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2 and "cannot reach the Dask scheduler" in result.output
    assert not out.exists()


def test_bench_table_reports_both_rates_and_their_ratio():
    result = CliRunner().invoke(cli, ["bench", "table", "--n-flamelets", "3", "--min-strain", "50",
                                      "--max-strain", "400"])
    assert result.exit_code == 0, result.output
    rates = [float(line.split()[-2]) for line in result.output.splitlines() if line.endswith("flamelets/s")]
    assert len(rates) == 2 and all(rate > 0 for rate in rates)
    assert "3/3 burning" in result.output and "speed-up of continuation over from-scratch" in result.output
    dT = float(result.output.split("between the two methods:")[1].split()[0])
    assert dT < 30.0  # both methods find the same flames
