"""bench table-error: a flamelet table judged at the flamelets of a reference table (real Cantera tables)."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cantera_tables import structured
from cantera_tables.flamelet_table import SMALL_OPTIONS, H2FlameletTable
from cantera_tables.plots import read_s_curve
from cantera_tables.stored_flamelets import read_curve
from cantera_tables.table_error import table_error
from surrogate.benchmarks.suite import load_suite
from surrogate.benchmarks.suite_runner import SuiteRunner
from surrogate.cli.main import cli
from surrogate.table import Table, encode_attr

# a sweep of twice the strain factor and fewer unstable flamelets: none of its flamelets is one of SMALL's
COARSE = {**SMALL_OPTIONS, "strain_factor": 6.0, "max_unstable": 2}


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    root = tmp_path_factory.mktemp("table-error")
    for name, options in (("small", SMALL_OPTIONS), ("coarse", COARSE)):
        H2FlameletTable.build(root / f"{name}.h5", progress=False, **options)
    return root


def judged_flamelets(table, reference):
    """Indices of the reference's burning flamelets strictly inside the table's T_max range, from the S-curves."""
    own, other = read_s_curve(table), read_s_curve(reference)
    hot = own["T_max"][own["branch"] != "extinguished"]
    inside = (other["branch"] != "extinguished") & (other["T_max"] > hot.min()) & (other["T_max"] < hot.max())
    return np.flatnonzero(inside)


def test_a_table_is_exact_between_its_own_flamelets_and_its_grid_error_is_the_builds_lookup_error(tables):
    path = tables / "small.h5"
    result = table_error(path, path)
    between, fpv = result["between_flamelets"]["all"], result["fpv_lookup"]["all"]
    assert between["flamelets"] == len(judged_flamelets(path, path)) > 5
    assert between["T_max_error_K"] < 1e-6 and between["Y_max_error"] < 1e-6
    # the FPV lookup at the same rows: the grid's own error, computed independently from the stored raw flamelets
    flamelets, species = read_curve(path)
    with h5py.File(path, "r") as h5:
        grid = {name: h5["structured"][name][()] for name in ("Z", "Lambda", "C_min", "C_max")}
        order = json.loads(h5["structured/outputs"].attrs["order"])
        grid["outputs"] = np.stack([h5["structured/outputs"][name][()] for name in order], axis=-1)
    table = Table(path)
    samples = structured.z_nodes(int(table.attrs["build_options"]["points_per_flamelet"]), float(table.attrs["Z_st"]))
    inside = [flamelets[k] for k in judged_flamelets(path, path)]
    expected = structured.lookup_error(grid, inside, samples, range(len(species)), species)
    assert fpv["T_max_error_K"] == pytest.approx(expected["T_max_error"], rel=1e-9) and fpv["T_max_error_K"] > 1.0
    assert result["table_flamelets"] == len(flamelets) and result["table_rows"] == table.n_rows
    assert result["lookup_grid"] == [SMALL_OPTIONS["structured_nz"], SMALL_OPTIONS["structured_nlambda"]]


def test_a_coarser_sweep_is_worse_between_its_flamelets_on_both_branches(tables):
    fine, coarse = (table_error(tables / f"{name}.h5", tables / "small.h5") for name in ("small", "coarse"))
    assert coarse["table_flamelets"] < fine["table_flamelets"]
    between = coarse["between_flamelets"]
    assert between["all"]["flamelets"] == len(judged_flamelets(tables / "coarse.h5", tables / "small.h5"))
    assert between["stable"]["flamelets"] + between["unstable"]["flamelets"] == between["all"]["flamelets"]
    assert between["stable"]["T_max_error_K"] > 10.0 and between["unstable"]["flamelets"] > 0
    assert between["all"]["T_mean_error_K"] < between["all"]["T_max_error_K"]
    assert between["all"]["Y_max_error"] > 100 * fine["between_flamelets"]["all"]["Y_max_error"]
    # on the small table's coarse 41 x 21 grid the grid's own error sets the largest FPV error of both; the spacing
    # of the flamelets shows in the mean
    assert coarse["fpv_lookup"]["all"]["T_mean_error_K"] > 1.3 * fine["fpv_lookup"]["all"]["T_mean_error_K"]


def test_the_command_prints_both_lookups_per_branch_and_writes_them_as_json(tables, tmp_path):
    out = tmp_path / "error.json"
    result = CliRunner().invoke(cli, ["bench", "table-error", str(tables / "coarse.h5"), "--reference",
                                      str(tables / "small.h5"), "--json", str(out)])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written["between_flamelets"] == table_error(tables / "coarse.h5", tables / "small.h5")["between_flamelets"]
    rows = [line for line in result.output.splitlines() if line.startswith(("FPV", "between"))]
    assert [line.split()[-7] for line in rows] == ["all", "stable", "unstable"] * 2


@pytest.mark.parametrize("attribute, value, message", [
    ("pressure", 202650.0, "pressure 202650 Pa, the table's is 101325 Pa"),
    ("mechanism", "gri30.yaml", "mechanism 'gri30.yaml', the table's is 'h2o2.yaml'"),
    ("progress_variable", {"H2O": 1.0, "H2": -1.0}, "progress_variable"),
])
def test_a_reference_of_other_flames_is_a_one_line_error(tables, tmp_path, attribute, value, message):
    """The same file with one root attribute changed: the check reads the attributes that name the flames."""
    other = tmp_path / "other.h5"
    shutil.copy(tables / "small.h5", other)
    with h5py.File(other, "r+") as h5:
        h5.attrs[attribute] = encode_attr(value)
    result = CliRunner().invoke(cli, ["bench", "table-error", str(tables / "small.h5"), "--reference", str(other)])
    assert result.exit_code == 2 and message in result.output and str(other) in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_reference_of_another_kind_is_a_one_line_error(tables, tmp_path):
    other = tmp_path / "eq.h5"
    built = CliRunner().invoke(cli, ["table", "build", "equilibrium", "-o", str(other), "--n-Z", "5"])
    assert built.exit_code == 0, built.output
    result = CliRunner().invoke(cli, ["bench", "table-error", str(tables / "small.h5"), "--reference", str(other)])
    assert result.exit_code == 2 and "a table of kind 'equilibrium', not a flamelet table" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_suite_builds_the_reference_and_hands_it_to_every_comparison(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for tier in ("full", "quick"):
        suite = load_suite(root / "benchmarks" / "suites" / "table-refinement.yaml", tier)
        assert {run.reference.name for run in suite.runs} == {"reference"}
        assert all(run.train is None and run.bench == "table-error" for run in suite.runs)
        runner = SuiteRunner(suite, tmp_path, root, print)
        command = runner.commands(suite.runs[0], tmp_path / "t.h5", 0, tmp_path / "seed", tmp_path / "ref.h5")
        assert command == [["bench", "table-error", str(tmp_path / "t.h5"), "--reference", str(tmp_path / "ref.h5"),
                            "--json", str(tmp_path / "seed" / "bench.json")]]


@pytest.mark.parametrize("run, message", [
    ("{label: r, table: a, bench: table-error}", "'reference' (a table of the suite) goes with"),
    ("{label: r, table: a, bench: train, reference: a}", "'reference' (a table of the suite) goes with"),
    ("{label: r, table: a, bench: table-error, reference: b}", "'reference' must be one of a"),
])
def test_a_suite_run_with_a_wrong_reference_is_a_one_line_error(tmp_path, run, message):
    (tmp_path / "bad.yaml").write_text(f"title: t\ntables: {{a: {{kind: h2-flamelet}}}}\nruns: [{run}]\n"
                                       "metrics: {m: x}\nseeds: [0]\n")
    result = CliRunner().invoke(cli, ["bench", "suite", "bad", "--suites", str(tmp_path)])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
