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


def test_full_batch_is_every_interior_point_the_grid_draws_not_the_requested_count(tmp_path):
    """A uniform 2-D grid rounds 50 requested points up to 8 x 8: with a batch of 50, every other step would
    train on the 14 points left over, and DeepXDE (which takes all 64 each step) would not train the same thing."""
    trainer = pinn.built_trainer(problem(tmp_path, "poisson-2d", points=50), 20, 10, 1e-3, 0)
    interior = trainer.task.train_points.interior
    assert len(interior) == 64
    sizes = [len(batch.interior) for batch in trainer.task.batches("train", trainer.options.batch_size)]
    assert sizes == [64] * 10  # `passes` full-batch steps per epoch


def test_every_bench_command_of_a_suite_is_given_the_seed(tmp_path):
    from pathlib import Path

    from surrogate.benchmarks.suite import load_suite
    from surrogate.benchmarks.suite_runner import SuiteRunner

    root = Path(__file__).resolve().parents[1]
    for name in ("bench-pinn", "bench-train", "bench-infer", "cfd-compare"):
        suite = load_suite(root / "benchmarks" / "suites" / f"{name}.yaml", "quick")
        runner = SuiteRunner(suite, tmp_path, root, print)
        for run in suite.runs:
            for seed in (3, 7):
                commands = runner.commands(run, tmp_path / "table.h5", seed, tmp_path / "seed")
                seeded = [command for command in commands if "--seed" in command]
                assert seeded and all(command[command.index("--seed") + 1] == str(seed) for command in seeded)
                if run.bench in ("pinn", "train"):
                    assert commands[-1][:2] == ["bench", run.bench] and commands[-1] in seeded


@pytest.mark.parametrize("steps, passes, rounds", [(5000, 100, [1000] * 5), (1000, 100, [200] * 5),
                                                   (20, 10, [10, 10]), (25, 10, [10, 10, 5]), (7, 100, [7])])
def test_the_sides_take_turns_in_whole_epochs_that_add_up_to_the_steps(steps, passes, rounds):
    assert pinn.rounds_of(steps, passes) == rounds
