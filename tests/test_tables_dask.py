"""Every condition-parallel table generator on a Dask cluster named by its scheduler (a local two-worker cluster,
real ``dask.distributed``): the solves are tasks of that scheduler, not of a local pool, and the table equals
the one built inline (equilibrium, premixed-fgm) or holds every S-curve (counterflow-flamelet)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from cantera_tables.equilibrium import EquilibriumTable
from cantera_tables.flamelet_table import SMALL_OPTIONS
from cantera_tables.plots import mixture_axis, plot_flame_speed
from cantera_tables.premixed import PremixedFGMTable
from surrogate.cli.main import cli
from surrogate.table import Table

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes, shared by the tests of this module."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local


def ran_on(cluster, function_name: str) -> int:
    """How many tasks of `function_name` the cluster's scheduler has seen finish."""
    return len({str(key) for key, _, finish, *_ in cluster.scheduler.transition_log
                if function_name in str(key) and finish == "memory"})


def build_on_dask(cluster, kind: str, path, *args: str):
    """`surrogate table build KIND` with ``--scheduler`` pointing at `cluster`; returns the opened table."""
    result = CliRunner().invoke(cli, ["table", "build", kind, "-o", str(path), *args,
                                      "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    return Table(path)


def assert_same_table(a: Table, b: Table, rtol: float) -> None:
    """The same columns, labels and values (to `rtol`) in both tables."""
    assert a.input_names == b.input_names and a.output_names == b.output_names and a.n_rows == b.n_rows
    for name in (*a.input_names, *a.output_names):
        np.testing.assert_allclose(a.read(name), b.read(name), rtol=rtol, atol=1e-14, err_msg=name)
    for name in a.label_names:
        np.testing.assert_array_equal(a.read_labels(name), b.read_labels(name))


def test_equilibrium_lines_run_on_dask_and_equal_the_inline_build(cluster, tmp_path):
    options = {"n_Z": 21, "unburnt_temperature": [300.0, 600.0], "pressure": [101325.0, 506625.0]}
    table = build_on_dask(cluster, "equilibrium", tmp_path / "dask.h5", "--n-Z", "21",
                          "--unburnt-temperature", "300,600", "--pressure", "101325,506625")
    assert ran_on(cluster, "solve_line") == 4  # one task per (T_in, p) line
    inline = EquilibriumTable.build(tmp_path / "inline.h5", progress=False, workers=1, **options)
    assert_same_table(table, Table(inline.path), rtol=1e-12)
    assert 2200.0 < table.read("T").max() < 2400.0  # CH4/air adiabatic equilibrium from 600 K, 5 atm


def test_premixed_flames_run_on_dask_and_equal_the_inline_build(cluster, tmp_path):
    options = {"mechanism": "h2o2.yaml", "fuel": "H2:1", "progress_variable": {"H2O": 1.0},
               "mixture_fraction": [0.02, 0.0285], "refine": {"slope": 0.2, "curve": 0.4}, "points_per_flame": 30}
    table = build_on_dask(cluster, "premixed-fgm", tmp_path / "dask.h5", "--mechanism", "h2o2.yaml",
                          "--fuel", "H2:1", "--progress-variable", "H2O:1", "--mixture-fraction", "0.02,0.0285",
                          "--refine", "slope:0.2,curve:0.4", "--points-per-flame", "30")
    assert ran_on(cluster, "solve_equivalence_ratio") == 2  # one task per mixture
    assert table.defaults.default_inputs == ["Z", "C"]
    inline = PremixedFGMTable.build(tmp_path / "inline.h5", progress=False, workers=1, **options)
    assert_same_table(table, Table(inline.path), rtol=1e-9)
    assert mixture_axis(inline.path) == "Z"  # its plots label the flames by Z, as they were asked for
    assert plot_flame_speed(inline.path, tmp_path / "plots").stat().st_size > 10_000


@pytest.mark.slow
def test_counterflow_s_curves_run_on_dask_one_task_per_pressure(cluster, tmp_path):
    args = [arg for name, value in SMALL_OPTIONS.items()
            for arg in (f"--{name.replace('_', '-')}",
                        ",".join(f"{k}:{v:g}" for k, v in value.items()) if isinstance(value, dict) else str(value))]
    table = build_on_dask(cluster, "counterflow-flamelet", tmp_path / "dask.h5", "--preset", "h2", *args,
                          "--pressure", "101325,303975", "--points-per-flamelet", "30")
    assert ran_on(cluster, "run_curve") == 2  # one S-curve per pressure
    assert sorted(np.unique(table.read("p"))) == [101325.0, 303975.0]
    chi_ext = table.attrs["extinction_chi_st"]
    assert len(chi_ext) == 2 and chi_ext[1] > chi_ext[0]  # a higher pressure burns faster: extinguishes later
