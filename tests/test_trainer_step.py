"""The trainer's step reads a task's per-output errors as the one matrix they come from and skips what nothing
reads: the run is the same, to the last bit, as with the step written plainly; the bench's baselines train the
same network on the same rows."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from plugins.tasks.regression import Regression
from plugins.weightings.weights import weighted_sum
from surrogate.cli.main import cli
from surrogate.contracts import Batch
from surrogate.terms import data_term, stacked
from surrogate.trainer import TrainOptions, train
from tests.synthetic import synthetic_table

UNTIMED = ("time_s", "peak_rss_mb", "threads")


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return synthetic_table(tmp_path_factory.mktemp("synthetic") / "table.h5")


def test_columns_of_one_matrix_are_read_in_place_and_other_terms_are_stacked():
    matrix = torch.randn(64, 5, requires_grad=True) ** 2
    columns = matrix.unbind(dim=1)
    assert stacked(columns) is matrix  # no copy
    separate = [column.clone() for column in columns]
    assert torch.equal(stacked(separate), matrix)
    assert stacked(list(reversed(columns))) is not matrix  # columns out of order are a new matrix
    assert torch.equal(stacked(list(reversed(columns))), matrix.flip(1))
    assert stacked([columns[0], torch.ones(3)]) is None  # different shapes: no matrix


def test_weighted_sum_of_matrix_columns_is_the_formula():
    """sum_i w_i mean(term_i), for unit weights and for others, with gradients through the matrix."""
    torch.manual_seed(0)
    matrix = torch.rand(100, 4, dtype=torch.float64, requires_grad=True)
    terms = {f"data/y{j}": column for j, column in enumerate(matrix.unbind(dim=1))}
    weights = {"data/y0": 2.0, "data/y1": 0.5, "data/y2": 1.0, "data/y3": 3.0}
    for used in ({}, weights):
        loss = weighted_sum(terms, used)
        formula = sum(used.get(name, 1.0) * value.mean() for name, value in terms.items())
        assert loss.item() == pytest.approx(formula.item(), rel=1e-12)
        (gradient,) = torch.autograd.grad(loss, matrix)
        expected = torch.tensor([used.get(name, 1.0) for name in terms], dtype=torch.float64) / 100
        assert torch.allclose(gradient, expected.expand(100, 4), rtol=1e-12)


def run_history(table, directory, weighting):
    options = TrainOptions(table=str(table), weighting=weighting, epochs=4, seed=3, batch_size=128,
                           threads=1, device="cpu")
    result = train(options, directory, progress=False)
    state = torch.load(result.run_dir / "model.pt", weights_only=True)
    return [{k: v for k, v in row.items() if k not in UNTIMED} for row in result.history], state


@pytest.mark.parametrize("weighting", ["uniform", "inverse-variance"])
def test_a_run_is_bit_identical_to_the_textbook_step(table, tmp_path, monkeypatch, weighting):
    """History (losses, every weight, every term, scores) and final weights equal exactly those of the step
    written plainly: (ŷ − y)² per output, each term a tensor of its own (stacked again every step), the physical
    predictions computed whether read or not. Reading the task's error matrix in place, the fused squared error
    and computing y_pred_phys on first read change no number of a run. Strategies with plain-number weights
    take the matrix path; those with tensor weights reduce each term on its own, as before."""
    fast = run_history(table, tmp_path / "fast", weighting)

    def textbook(self, forward, rows):
        x, x_phys, y = self.columns(rows)
        y_pred = forward(x)
        squared = (y_pred - y) ** 2
        terms = {data_term(name): squared[:, j].clone() for j, name in enumerate(self.output_names)}
        return terms, Batch(x=x, x_phys=x_phys, y=y, y_pred=y_pred, y_pred_phys=self.model.output_scaler(y_pred),
                            input_names=self.input_names, output_names=self.output_names, model=self.trainable)

    monkeypatch.setattr(Regression, "loss_terms", textbook)
    plain = run_history(table, tmp_path / "plain", weighting)
    assert fast[0] == plain[0]
    assert fast[1].keys() == plain[1].keys()
    assert all(torch.equal(fast[1][k], plain[1][k]) for k in fast[1])


def test_physical_predictions_given_as_a_function_are_computed_once_when_first_read():
    calls = []

    def physical():
        calls.append(1)
        return torch.full((2, 1), 3.0)

    batch = Batch(x=torch.zeros(2, 1), x_phys=torch.zeros(2, 1), y=None, y_pred=torch.zeros(2, 1),
                  y_pred_phys=physical, input_names=["a"], output_names=["u"], model=torch.nn.Identity())
    assert calls == []
    assert torch.equal(batch.y_pred_phys, torch.full((2, 1), 3.0)) and batch.y_pred_phys is batch.y_pred_phys
    assert calls == [1]
    given = Batch(x=torch.zeros(1, 1), x_phys=torch.zeros(1, 1), y=None, y_pred=torch.zeros(1, 1),
                  y_pred_phys=torch.ones(1, 1), input_names=["a"], output_names=["u"], model=torch.nn.Identity())
    assert torch.equal(given.y_pred_phys, torch.ones(1, 1))


def test_bench_train_times_the_trainer_against_a_bare_loop_and_a_dataloader_loop(table, tmp_path):
    report = tmp_path / "bench.json"
    result = CliRunner().invoke(cli, ["bench", "train", str(table), "--batch-sizes", "64", "--steps", "20",
                                      "--threads", "1", "--device", "cpu", "--json", str(report)])
    assert result.exit_code == 0, result.output
    measured = json.loads(report.read_text())["measurements"]["in-memory/64/1"]
    job = measured["jobs"][0]
    assert job["samples_per_s"] > 0 and job["bare_samples_per_s"] > 0 and job["dataloader_samples_per_s"] > 0
    assert measured["ratio"] == pytest.approx(job["samples_per_s"] / job["bare_samples_per_s"])
    assert measured["dataloader_ratio"] == pytest.approx(job["samples_per_s"] / job["dataloader_samples_per_s"])
