"""``surrogate table build/info/plot`` end to end through click, every bad input as a one-line error, and
third-party table plugins (good, broken, off-contract) registered next to the built-in one."""

from __future__ import annotations

import json
import re
from importlib.metadata import EntryPoint
from types import SimpleNamespace
from typing import Any

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from surrogate import registry
from surrogate.cli.main import cli
from surrogate.contracts import BuildReport, TableGenerator
from surrogate.options import Option
from surrogate.table import Column, Table, write_table

from cantera_tables.flamelet_table import SMALL_OPTIONS, H2FlameletTable

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


def info_fields(output: str) -> dict[str, str]:
    """`surrogate table info` lines as {label: value} (label and value are separated by two spaces or more)."""
    return dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in output.splitlines() if "  " in line.strip())


def assert_one_line_error(result, *fragments):
    lines = [line for line in result.output.strip().splitlines() if line.strip() and not line.startswith("flamelets:")]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_build_writes_a_table_with_options_from_the_command_line(cli_table):
    path, output = cli_table
    table = Table(path)
    assert f"wrote {path}: {table.n_rows} rows in " in output
    assert f"flamelets = {table.attrs['n_flamelets']}\n" in output and "solves = " in output
    assert f"extinction chi_st [1/s] = {table.attrs['extinction_chi_st']:.4g}\n" in output
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
    fields = info_fields(result.output)
    n_flamelets = Table(path).attrs["n_flamelets"]
    assert fields["dataset"] == "scattered" and fields["labels"] == f"curve (1 group), flamelet ({n_flamelets} groups)"
    assert fields["default inputs"] == "Z, C, chi" and fields["log inputs"] == "chi"
    assert fields["group column"] == "flamelet" and fields["softmax outputs"].startswith("Y_H2, ")


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
        (["--strain-factor", "abc"], ["strain_factor", "expected float"]),
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
    (work / "curve-00").mkdir(parents=True)
    (work / "options.json").write_text('{"strain_factor": 9.0}')
    (work / "curve-00" / "state.json").write_text("{}")  # solved work of that other build
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
    assert table.input_names == table.defaults.default_inputs == ["Z", "C", "chi", "p"]
    assert sorted(np.unique(table.read("p"))) == [101325.0, 303975.0]
    np.testing.assert_array_equal(table.read("p"), np.array([101325.0, 303975.0])[table.read_labels("curve")])
    assert re.search(r"^extinction chi_st \[1/s\] = [-+.\de]+, [-+.\de]+$", result.stdout, re.MULTILINE), result.stdout
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
    """With --json the measurements are the only thing on stdout; the text report goes to stderr."""
    result = CliRunner().invoke(cli, ["bench", "table", "--n-flamelets", "3", "--min-strain", "50",
                                      "--max-strain", "400", "--json"])
    assert result.exit_code == 0, result.output
    text = result.stderr
    rates = [float(line.split()[-2]) for line in text.splitlines() if line.endswith("flamelets/s")]
    assert len(rates) == 2 and all(rate > 0 for rate in rates)
    assert "3/3 burning" in text and "speed-up of continuation over from-scratch" in text
    dT = float(text.split("between the two methods:")[1].split()[0])
    assert dT < 30.0  # both methods find the same flames
    record = json.loads(result.stdout)
    measured = sorted(r["flamelets_per_second"] for r in record["methods"].values())
    assert measured == pytest.approx(sorted(rates), abs=0.01)  # the text shows two decimals
    assert record["largest_T_max_difference_K"] == pytest.approx(dT, abs=0.01) and len(record["strain_rates"]) == 3


def test_bad_option_type_is_refused_by_the_core_before_the_plugin_runs(tmp_path, monkeypatch):
    def must_not_run(cls, output, *, progress=True, **options):
        raise AssertionError("build was called")

    monkeypatch.setattr(H2FlameletTable, "build", classmethod(must_not_run))
    result = CliRunner().invoke(cli, ["table", "build", "h2-flamelet", "-o", str(tmp_path / "t.h5"),
                                      "--strain-factor", "abc"])
    assert_one_line_error(result, "table kind 'h2-flamelet'", "strain_factor='abc'", "expected float")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- third-party table plugins
class ToyTable(TableGenerator):
    """A generator from another package: rows y = slope * x, a summary hook that can be made to fail."""

    description = "Toy rows y = slope * x."
    options = (
        Option("n", 5, "rows"),
        Option("slope", 2.0, "slope of y(x)"),
        Option("broken_summary", False, "make the summary hook raise"),
        Option("old_report", False, "return a pre-contract report object instead of a BuildReport"),
    )

    @classmethod
    def build(cls, output, *, progress=True, **options: Any) -> Any:
        assert sorted(options) == ["broken_summary", "n", "old_report", "slope"]  # every option, defaults applied
        n, slope = options["n"], options["slope"]
        assert isinstance(n, int) and isinstance(slope, float)  # typed by the core
        x = np.linspace(0.0, 1.0, n)
        path = write_table(output, kind="toy", inputs=[Column("x", x, "1", "abscissa")],
                           outputs=[Column("y", slope * x, "1", "ordinate")],
                           attrs={"broken_summary": options["broken_summary"]})
        if options["old_report"]:
            return SimpleNamespace(path=path, n_flamelets=0)
        return BuildReport(path, n, 0.01, notes=["toy note"], numbers={"slope": slope, "ends": [0.0, slope]})

    @staticmethod
    def summary(path) -> list[tuple[str, str]]:
        if Table(path).attrs["broken_summary"]:
            raise RuntimeError("toy summary exploded")
        return [("toy line", "from the plugin")]


class NoBuild:
    """Off contract: no build method."""

    description = "Cannot build anything."


@pytest.fixture
def third_party_tables(monkeypatch):
    """Table kinds 'toy' (works), 'nobuild' (fails the contract check) and 'broken' (cannot be imported),
    registered as entry points next to the built-in ones."""
    real = registry.entry_points
    extra = [EntryPoint("toy", f"{__name__}:ToyTable", "surrogate.tables"),
             EntryPoint("nobuild", f"{__name__}:NoBuild", "surrogate.tables"),
             EntryPoint("broken", "no_such_module_for_surrogate_tests:Generator", "surrogate.tables")]
    monkeypatch.setattr(registry, "entry_points",
                        lambda group: [*real(group=group), *(extra if group == "surrogate.tables" else [])])
    registry.registrations.cache_clear()
    yield
    registry.registrations.cache_clear()


def test_third_party_generator_gets_typed_options_and_its_report_is_printed(third_party_tables, tmp_path):
    out = tmp_path / "toy.h5"
    result = CliRunner().invoke(cli, ["table", "build", "toy", "-o", str(out), "--slope", "3"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"wrote {out}: 5 rows in 0.0 s", "slope = 3", "ends = 0, 3"]
    assert result.stderr.strip() == "toy note"
    np.testing.assert_allclose(Table(out).read("y"), 3.0 * np.linspace(0.0, 1.0, 5))


def test_build_help_lists_kinds_without_loading_any(third_party_tables, monkeypatch):
    def no_loading(kind, name):
        raise AssertionError(f"loaded {name}")

    monkeypatch.setattr(registry, "load", no_loading)
    result = CliRunner().invoke(cli, ["table", "build", "--help"])
    assert result.exit_code == 0, result.output
    for kind in ("broken", "h2-flamelet", "nobuild", "toy"):
        assert re.search(rf"^\s+{kind}\s+from ", result.output, re.MULTILINE), kind


def test_broken_and_off_contract_plugins_are_one_line_errors_that_spare_other_kinds(third_party_tables, tmp_path):
    out = tmp_path / "t.h5"
    assert_one_line_error(CliRunner().invoke(cli, ["table", "build", "broken", "-o", str(out)]),
                          "table kind 'broken'", "failed to load", "ModuleNotFoundError")
    assert_one_line_error(CliRunner().invoke(cli, ["table", "build", "nobuild", "-o", str(out)]),
                          "'nobuild'", "missing method build(output, *, progress)")
    assert list(tmp_path.iterdir()) == []
    help_text = CliRunner().invoke(cli, ["table", "build", "h2-flamelet", "--help"])
    assert help_text.exit_code == 0 and "--strain-factor" in help_text.output
    assert CliRunner().invoke(cli, ["table", "build", "toy", "-o", str(out)]).exit_code == 0


def test_a_report_off_the_contract_is_a_one_line_error(third_party_tables, tmp_path):
    result = CliRunner().invoke(cli, ["table", "build", "toy", "-o", str(tmp_path / "t.h5"), "--old-report", "true"])
    assert_one_line_error(result, "table kind 'toy'", "returned a SimpleNamespace", "BuildReport")


def test_info_adds_the_plugin_summary_and_survives_a_broken_one(third_party_tables, tmp_path):
    good, bad = tmp_path / "good.h5", tmp_path / "bad.h5"
    ToyTable.build(good, n=4, slope=1.0, broken_summary=False, old_report=False)
    ToyTable.build(bad, n=4, slope=1.0, broken_summary=True, old_report=False)
    result = CliRunner().invoke(cli, ["table", "info", str(good)])
    assert result.exit_code == 0, result.output
    assert info_fields(result.stdout)["toy line"] == "from the plugin"
    result = CliRunner().invoke(cli, ["table", "info", str(bad)])
    assert result.exit_code == 0, result.output
    assert info_fields(result.stdout)["rows"] == "4" and "toy line" not in result.stdout
    assert result.stderr.strip() == ("warning: no summary from the 'toy' plugin "
                                     "(RuntimeError: toy summary exploded)")
    plot = CliRunner().invoke(cli, ["table", "plot", str(good), "-o", str(tmp_path / "figs")])
    assert_one_line_error(plot, "no plots for this scattered dataset: its table plugin 'toy' draws no figures",
                          f"surrogate table info {good}")
