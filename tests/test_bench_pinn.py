"""`surrogate bench pinn`: the toolkit and DeepXDE train the same Poisson problem for the same steps; the report's
ratios are those of its own timings; without DeepXDE the toolkit is timed alone with one line saying so."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from surrogate.benchmarks import pinn
from surrogate.cli.main import cli
from tests.test_pinn import problem


def bench(table: str, report, *options: str):
    result = CliRunner().invoke(cli, ["bench", "pinn", table, "--steps", "20", "--passes", "10", "--json",
                                      str(report), *options])
    assert result.exit_code == 0, result.output
    return result.output, json.loads(report.read_text())


@pytest.mark.slow  # a spawned training process
def test_without_deepxde_the_toolkit_is_timed_alone_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(pinn, "deepxde_available", lambda: False)
    output, report = bench(problem(tmp_path, "poisson-multiscale", k=2, points=64), tmp_path / "bench.json")
    assert "DeepXDE is not installed (pip install 'thermo-surrogate[bench]')" in output
    assert report["deepxde"]["seconds_per_step"] is None and report["speedup"] is None
    toolkit = report["toolkit"]
    assert toolkit["steps"] == 20 and toolkit["seconds_per_step"] > 0
    assert 0 < toolkit["rel_l2"] < 10  # u ≈ 0 at the start: error near 1, and finite after 20 steps
    assert report["points"] == 64


@pytest.mark.slow
@pytest.mark.skipif(not pinn.deepxde_available(), reason="DeepXDE not installed (pip install 'thermo-surrogate[bench]')")
def test_deepxde_trains_the_same_points_for_the_same_steps(tmp_path):
    output, report = bench(problem(tmp_path, "poisson-2d", points=64), tmp_path / "bench.json")
    toolkit, deepxde = report["toolkit"], report["deepxde"]
    assert toolkit["steps"] == deepxde["steps"] == 20
    assert report["speedup"] == pytest.approx(deepxde["seconds_per_step"] / toolkit["seconds_per_step"])
    assert report["error_ratio"] == pytest.approx(toolkit["rel_l2"] / deepxde["rel_l2"])
    assert 0 < deepxde["rel_l2"] < 10
    assert "toolkit / DeepXDE" in output


def test_a_dataset_other_than_a_soft_poisson_problem_is_refused_in_one_line(tmp_path):
    table = problem(tmp_path, "poisson-multiscale", k=2, points=64, constraints="hard")
    result = CliRunner().invoke(cli, ["bench", "pinn", table, "--steps", "2"])
    assert result.exit_code != 0
    assert "bench pinn compares Poisson problems with soft boundary conditions" in result.output
    assert "Traceback" not in result.output
