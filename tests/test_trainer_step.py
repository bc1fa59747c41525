"""The trainer's step reads a task's per-output errors as the one matrix they come from: the run is the same, to
the last bit, as when every term is a separate tensor that has to be stacked; the bench's baselines train the
same network on the same rows."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from plugins.tasks.regression import Regression
from plugins.weightings.weights import weighted_sum
from surrogate.cli.main import cli
from surrogate.terms import stacked
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
def test_a_run_is_bit_identical_whether_its_terms_are_one_matrix_or_separate_tensors(table, tmp_path,
                                                                                     monkeypatch, weighting):
    """History (losses, every weight, every term, scores) and final weights equal exactly: reading the matrix
    in place changes no number of a run (the separate tensors are stacked, as every step used to). Strategies
    with plain-number weights take this path; those with tensor weights reduce each term on its own, as before."""
    in_place = run_history(table, tmp_path / "in-place", weighting)
    loss_terms = Regression.loss_terms

    def separate(self, forward, rows):
        terms, batch = loss_terms(self, forward, rows)
        return {name: value.clone() for name, value in terms.items()}, batch

    monkeypatch.setattr(Regression, "loss_terms", separate)
    copied = run_history(table, tmp_path / "separate", weighting)
    assert in_place[0] == copied[0]
    assert in_place[1].keys() == copied[1].keys()
    assert all(torch.equal(in_place[1][k], copied[1][k]) for k in in_place[1])


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
