"""The regression task's log-space term for softmax-closed mass fractions (``--task-option log_species``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from plugins.tasks.log_species import LogSpeciesError
from surrogate.errors import UserError
from surrogate.run import load_run
from surrogate.table import Table
from surrogate.trainer import Trainer, TrainOptions, train
from tests.synthetic import SPECIES, synthetic_table


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return synthetic_table(tmp_path_factory.mktemp("synthetic") / "table.h5")


def test_log_term_equals_the_analytic_value_on_a_tiny_case():
    # two closed species and T (column 2, left alone); species 1 spans three decades
    y_train = np.array([[0.9, 1e-3, 300.0], [0.6, 1e-5, 900.0], [0.3, 1e-6, 1500.0], [0.5, 1e-4, 2100.0]])
    term = LogSpeciesError(y_train, closed=[0, 1], weight=2.0, floor=1e-2)
    eps = np.array([0.9e-2, 1e-5])  # floor × the largest training value of each species
    u = np.log(y_train[:, :2] + eps)
    factor = 2.0 * y_train[:, :2].var(axis=0) / u.var(axis=0)
    y_pred = torch.tensor([[0.8, 2e-5, 0.0], [0.45, 3e-4, 0.0]], dtype=torch.float64)
    y = torch.tensor([[0.9, 1e-5, 7.0], [0.5, 1e-4, 7.0]], dtype=torch.float64)
    got = term(y_pred, y).numpy()
    expected = factor * (np.log(y_pred.numpy()[:, :2] + eps) - np.log(y.numpy()[:, :2] + eps)) ** 2
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # the same relative error costs the trace species as much as the major one, in units of its own variance:
    # a factor 2 on species 1 (above its floor) costs ≈ ln(2)² = 0.48 of its log variance
    assert math.isclose(expected[0, 1] / factor[1], math.log((2e-5 + 1e-5) / (1e-5 + 1e-5)) ** 2)
    assert got.shape == (2, 2)  # closed columns only: T gets no log term


def test_a_species_constant_in_training_gets_no_log_term():
    y_train = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    term = LogSpeciesError(y_train, closed=[0, 1], weight=1.0, floor=1e-4)
    assert torch.all(term(torch.full((2, 2), 0.3, dtype=torch.float64), torch.full((2, 2), 0.5,
                                                                                 dtype=torch.float64)) == 0)


def test_each_closed_species_term_carries_its_log_error_and_the_rest_stay_squared_errors(table, tmp_path):
    """data/Y_k = (Ŷ_k - Y_k)² + λ Var(Y_k)/Var(ln(Y_k + ε_k)) (ln(Ŷ_k + ε_k) - ln(Y_k + ε_k))² for the closed
    species, recomputed here from the table's training rows; T keeps its plain squared error."""
    outputs = [f"Y_{s}" for s in SPECIES] + ["T"]
    trainer = Trainer(TrainOptions(table=str(table), outputs=outputs, device="cpu", dtype="float64",
                                   task_options={"log_species": 0.5, "log_floor": 1e-3}), tmp_path / "r",
                      progress=False)
    trainer.build()
    task = trainer.task
    rows = next(task.batches("train", 64))
    terms, batch = task.loss_terms(task.trainable, rows)
    y_train = Table(table).read_matrix(outputs)[task.index_splits["train"]]
    y_pred, y = batch.y_pred.detach().numpy(), batch.y.numpy()
    for k, name in enumerate(outputs):
        expected = (y_pred[:, k] - y[:, k]) ** 2
        if name != "T":
            eps = 1e-3 * y_train[:, k].max()
            factor = 0.5 * y_train[:, k].var() / np.log(y_train[:, k] + eps).var()
            expected = expected + factor * (np.log(y_pred[:, k] + eps) - np.log(y[:, k] + eps)) ** 2
        np.testing.assert_allclose(terms[f"data/{name}"].detach().numpy(), expected, rtol=1e-9, err_msg=name)


def test_a_run_with_log_species_predicts_positive_mass_fractions_summing_to_one(table, tmp_path):
    outputs = [f"Y_{s}" for s in SPECIES] + ["T"]
    result = train(TrainOptions(table=str(table), outputs=outputs, epochs=8, batch_size=128, device="cpu",
                                task_options={"log_species": 1.0}), tmp_path / "log", progress=False)
    assert result.metrics["test"]["Y_HO2"]["r2"] > 0.95 and result.metrics["test"]["T"]["r2"] > 0.99
    loaded = load_run(result.run_dir)
    y = loaded.predict(Table(table).read_matrix(loaded.input_names)[:400])
    np.testing.assert_allclose(y[:, :-1].sum(axis=1), 1.0, atol=1e-5)
    assert (y[:, :-1] > 0).all()


def test_log_species_without_a_softmax_closure_is_a_one_line_error(table, tmp_path):
    options = TrainOptions(table=str(table), closure="none", task_options={"log_species": 1.0})
    with pytest.raises(UserError, match="log_species needs mass fractions closed by a softmax"):
        Trainer(options, tmp_path / "run", progress=False).build()


def test_log_species_refuses_a_streamed_table(table, tmp_path):
    options = TrainOptions(table=str(table), stream_memory=1.0, task_options={"log_species": 1.0})
    with pytest.raises(UserError, match="log_species needs the table in memory"):
        Trainer(options, tmp_path / "run", progress=False)
