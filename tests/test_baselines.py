"""Trivial baselines and honest selection for row models: the kept epoch never depends on the test rows, the
training mean and the interpolation of the training rows are scored like the model, the table's own structured
lookup is preferred where it has one, and a model that loses to a baseline is flagged in metrics.json and the
CLI."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from surrogate.baselines import Baselines, interpolate, judge, row_baselines
from surrogate.cli.main import cli
from surrogate.config import TrainOptions
from surrogate.training_data import split_indices
from surrogate.lookup import StructuredLookup
from surrogate.metrics import metrics_table
from surrogate.table import Column, write_table
from surrogate.trainer import train
from tests.synthetic import synthetic_table
from tests.torch_threads import one_thread  # noqa: F401 (autouse)


def plane_table(path, n_rows: int = 600, test_scale: float = 1.0, seed: int = 0):
    """y = 2 x0 - 3 x1 + 1 on random points of the unit square; the test rows' targets times `test_scale`."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n_rows, 2))
    y = 2 * x[:, 0] - 3 * x[:, 1] + 1
    test = split_indices(n_rows, 0.15, 0.15, 0)["test"]
    y[test] *= test_scale
    write_table(path, kind="synthetic", inputs=[Column("a", x[:, 0], "-", ""), Column("b", x[:, 1], "-", "")],
                outputs=[Column("y", y, "-", "")], attrs={})
    return str(path)


def test_perturbing_the_test_rows_changes_the_test_metrics_but_not_the_kept_epoch(tmp_path):
    runs = []
    for scale in (1.0, 3.0):
        options = TrainOptions(table=plane_table(tmp_path / f"t{scale}.h5", test_scale=scale), epochs=6,
                               batch_size=64, model="mlp", model_options={"depth": 1, "width": 8}, lr=3e-2,
                               weighting="uniform", seed=0, val_fraction=0.15, test_fraction=0.15)
        runs.append(train(options, tmp_path / f"run{scale}", progress=False))
    honest, perturbed = runs
    assert [r["val_score"] for r in perturbed.history] == [r["val_score"] for r in honest.history]
    assert perturbed.best_epoch == honest.best_epoch
    assert perturbed.metrics["test"]["y"]["mse"] > 10 * honest.metrics["test"]["y"]["mse"]
    assert honest.metrics["kept_epoch"] == honest.best_epoch and honest.metrics["last_epoch"]["epoch"] == 6


def test_linear_interpolation_is_exact_for_a_plane_inside_the_hull_and_nearest_outside():
    rng = np.random.default_rng(1)
    x_train = rng.uniform(0, 1, (300, 2)) * [1.0, 100.0]  # units differ by 100: scaled before triangulating
    plane = lambda x: 2 * x[:, 0] - 0.03 * x[:, 1] + 1  # noqa: E731
    inside = rng.uniform(0.2, 0.8, (50, 2)) * [1.0, 100.0]
    predicted = interpolate(x_train, plane(x_train)[:, None], inside, [False, False])
    np.testing.assert_allclose(predicted[:, 0], plane(inside), rtol=0, atol=1e-12)
    outside = np.array([[2.0, 50.0]])
    nearest = np.argmin(((x_train - outside) / [1.0, 100.0]) ** 2 @ [1, 1])
    assert interpolate(x_train, plane(x_train)[:, None], outside, [False, False])[0, 0] == plane(x_train)[nearest]
    x1 = np.array([[1.0], [10.0], [100.0]])  # one input, log10-scaled: linear in log10 x
    assert interpolate(x1, np.array([[0.0], [1.0], [2.0]]), np.array([[np.sqrt(10.0)]]), [True])[0, 0] == \
        pytest.approx(0.5)


def test_row_baselines_score_the_training_mean_and_skip_interpolation_beyond_four_inputs(tmp_path):
    rng = np.random.default_rng(2)
    x_train, x = rng.uniform(size=(200, 5)), rng.uniform(size=(40, 5))
    y_train, y = x_train[:, :2] ** 2, x[:, :2] ** 2
    table = plane_table(tmp_path / "no_structured.h5")
    result = row_baselines(x_train, y_train, x, y, list("abcde"), ["p", "q"], [], table)
    mean = result.scores["training mean"]
    assert mean["p"]["mse"] == pytest.approx(np.mean((y[:, 0] - y_train[:, 0].mean()) ** 2), rel=1e-12)
    assert mean["q"]["r2"] < 0.05
    assert list(result.scores) == ["training mean"] and "5 inputs" in result.skipped["linear interpolation"]


def structured_flamelets(path):
    """A synthetic flamelet table with a structured (Z, Lambda) grid of T; its rows' (Z, C, chi) and (Y_H2, T)."""
    path = synthetic_table(path, n_rows=500)
    z, lam = np.linspace(0, 1, 11), np.linspace(0, 1, 6)
    with h5py.File(path, "a") as h5:
        group = h5.create_group("structured")
        group["Z"], group["Lambda"] = z, lam
        group["C_min"], group["C_max"] = np.zeros_like(z), 0.25 * np.sin(np.pi * z)
        group.create_group("outputs")["T"] = 300 + 2000 * np.outer(np.sin(np.pi * z), lam)
    with h5py.File(path, "r") as h5:
        x = np.stack([h5["inputs/Z"][()], h5["inputs/C"][()], h5["inputs/chi"][()]], axis=1)
        y = np.stack([h5["outputs/Y_H2"][()], h5["outputs/T"][()]], axis=1)
    return path, x, y


def test_a_table_with_a_structured_grid_is_judged_against_its_own_lookup(tmp_path):
    path, x, y = structured_flamelets(tmp_path / "flamelets.h5")
    result = row_baselines(x[:400], y[:400], x[400:], y[400:], ["Z", "C", "chi"], ["Y_H2", "T"], ["chi"], path)
    assert list(result.scores) == ["training mean", "table lookup"] and not result.skipped
    expected = StructuredLookup(path, ["T"])(x[400:, 0], x[400:, 1])
    assert result.scores["table lookup"] == metrics_table(y[400:, 1:], expected, ["T"])
    assert result.scores["table lookup"]["T"]["r2"] > 0.999  # T is linear in C: the lookup reproduces it


def test_held_out_flamelets_are_not_judged_against_a_grid_that_saw_them(tmp_path):
    """The structured grid is built from every flamelet: with whole flamelets held out it would know the test
    rows, so the baseline becomes the interpolation of the training rows alone."""
    path, x, y = structured_flamelets(tmp_path / "flamelets.h5")
    result = row_baselines(x[:400], y[:400], x[400:], y[400:], ["Z", "C", "chi"], ["Y_H2", "T"], ["chi"], path,
                           held_out_groups=True)
    assert list(result.scores) == ["training mean", "linear interpolation"]
    assert "held-out ones" in result.skipped["table lookup"]
    expected = interpolate(x[:400], y[:400], x[400:], [False, False, True])
    assert result.scores["linear interpolation"] == metrics_table(y[400:], expected, ["Y_H2", "T"])


def test_a_model_worse_than_a_baseline_is_flagged_in_metrics_and_in_the_cli(tmp_path):
    table = plane_table(tmp_path / "plane.h5")
    runner = CliRunner()
    result = runner.invoke(cli, ["train", table, "-o", str(tmp_path / "run"), "--epochs", "1", "--quiet",
                                 "--model", "mlp", "--model-option", "width=4", "--lr", "1e-4"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    block = metrics["baselines"]
    assert block["split"] == "test" and block["metric"] == "r2"
    assert block["scores"]["linear interpolation"]["y"]["r2"] > 0.999  # a plane (nearest row outside the hull)
    assert metrics["beats_baselines"] is False
    assert "WARNING: worse than baseline 'linear interpolation' on test r2" in result.output
    evaluated = runner.invoke(cli, ["evaluate", str(tmp_path / "run")])
    assert evaluated.exit_code == 0, evaluated.output
    assert "linear interpolation" in evaluated.output and "WARNING" in evaluated.output


def test_judge_compares_on_the_outputs_each_baseline_predicts_and_higher_r2_wins():
    model = {"a": {"r2": 0.9, "mse": 1.0}, "b": {"r2": 0.5, "mse": 2.0}}
    baselines = Baselines({"only a": {"a": {"r2": 0.95, "mse": 0.5}}, "both": {"a": {"r2": 0.0, "mse": 9.0},
                                                                           "b": {"r2": None, "mse": 9.0}}})
    verdict = judge(model, baselines, "test")
    assert verdict["baselines"]["headline"] == {"only a": {"model": 0.9, "baseline": 0.95},
                                                "both": {"model": 0.7, "baseline": 0.0}}
    assert verdict["beats_baselines"] is False
    assert judge(model, Baselines(), "test")["beats_baselines"] is None
