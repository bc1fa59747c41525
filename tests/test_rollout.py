"""The `rollout` task: a time-stepper trained from the CLI on a tiny KdV data set rolls out better than its
initial weights, reports state/energy/mass errors over both halves of the horizon, and its ONNX export steps
like the PyTorch model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from export.runtime import Surrogate
from plugins.tasks.rollout import rollout
from plugins.tasks.rollout import Rollout
from surrogate.cli.main import cli
from surrogate.config import TrainOptions
from surrogate.contracts import StepContext, TrainingState
from surrogate.datasets import open_dataset
from surrogate.errors import UserError
from surrogate.run import build_network, load_run
from surrogate.trainer import Trainer
from torch_threads import one_thread  # noqa: F401 (autouse)

TRAIN = ["--model", "node", "--model-option", "width=16", "--weighting", "uniform", "--epochs", "40",
         "--batch-size", "64", "--test-fraction", "0.2", "--quiet"]


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def kdv(tmp_path_factory):
    path = tmp_path_factory.mktemp("kdv") / "kdv.h5"
    invoke("table", "build", "kdv", "-o", str(path), "--trajectories", "10", "--steps", "60", "--workers", "1")
    return path


@pytest.fixture(scope="module")
def run(kdv, tmp_path_factory):
    directory = tmp_path_factory.mktemp("runs") / "node"
    output = invoke("train", str(kdv), "-o", str(directory), *TRAIN)
    assert "energy" in output and "mass" in output
    return load_run(directory)


def test_cli_training_lowers_rollout_error(run, kdv):
    data = open_dataset(kdv)
    test = run.split_indices("test")
    truth = data.read_field("u")[test]
    torch.manual_seed(0)  # the trainer's seed: the network the run started from
    initial = Rollout.assemble(build_network(run.config), json.loads((run.path / "scalers.json").read_text()),
                               run.config).eval()
    start = torch.as_tensor(truth[:, 0], dtype=torch.float32)
    untrained = rollout(initial, start, data.n_times - 1, data.dt).double().numpy()
    metrics = json.loads((run.path / "metrics.json").read_text())
    assert metrics["test"]["u"]["mse"] < 0.1 * np.mean((untrained - truth)[:, 1:] ** 2)


def test_metrics_cover_state_energy_and_mass_over_both_halves(run):
    metrics = json.loads((run.path / "metrics.json").read_text())
    assert {"train", "val", "test", "kept_epoch", "last_epoch", "baselines", "beats_baselines"} == set(metrics)
    for name in ("u", "energy", "mass"):
        assert set(metrics["test"][name]) == {"mse", "mse_first_half", "mse_second_half", "max_abs", "diverged"}
        assert metrics["test"][name]["diverged"] == 0
    assert metrics["test"]["u"]["mse_second_half"] > metrics["test"]["u"]["mse_first_half"]  # errors grow
    assert (run.path / "plots" / "rollout.png").is_file() and (run.path / "plots" / "conserved.png").is_file()
    assert run.signature["inputs"][0]["shape"] == ["batch", 50] and run.signature["outputs"][0]["name"] == "rate"


def test_trivial_rollouts_are_scored_on_the_test_trajectories_beside_the_model(run, kdv):
    """Keeping u(0), the zero field and the spatial mean of u(0), by hand on the stored test trajectories; the
    verdict compares the model's state MSE with each, and the last epoch's test metrics are kept beside."""
    truth = open_dataset(kdv).read_field("u")[run.split_indices("test")]
    metrics = json.loads((run.path / "metrics.json").read_text())
    block = metrics["baselines"]
    assert block["split"] == "test" and block["metric"] == "mse"
    initial = truth[:, :1]
    for name, guess in (("keep initial state", initial), ("zero field", 0 * initial),
                        ("spatial mean", initial.mean(axis=2, keepdims=True))):
        assert block["scores"][name]["u"]["mse"] == pytest.approx(np.mean((guess - truth)[:, 1:] ** 2), rel=1e-12)
        assert block["headline"][name] == {"model": metrics["test"]["u"]["mse"],
                                           "baseline": block["scores"][name]["u"]["mse"]}
    best = min(block["scores"][name]["u"]["mse"] for name in block["scores"])
    assert metrics["beats_baselines"] == (metrics["test"]["u"]["mse"] < best)
    assert metrics["last_epoch"]["epoch"] == 40 and set(metrics["last_epoch"]["test"]) == {"u", "energy", "mass"}


@pytest.mark.filterwarnings("ignore::export.runtime.OutOfRangeWarning")
def test_onnx_euler_rollout_reproduces_pytorch(run, kdv, tmp_path):
    invoke("export", str(run.path), "-o", str(tmp_path / "node.onnx"))
    data = open_dataset(kdv)
    u = data.read_field("u")[run.split_indices("test"), 0].astype(np.float32)
    expected = rollout(run.model, torch.from_numpy(u), data.n_times - 1, data.dt).numpy()
    field = Surrogate(tmp_path / "node.onnx", provider="cpu", threads=1)
    states = [u]
    for _ in range(data.n_times - 1):
        states.append(states[-1] + np.float32(data.dt) * field(states[-1]))
    np.testing.assert_allclose(np.stack(states, axis=1), expected, atol=1e-4 * np.abs(expected).max())


def test_k_step_rk2_terms_weight_single_grid_values(kdv, tmp_path):
    options = TrainOptions(table=str(kdv), task_options={"steps": 3, "integrator": "rk2"}, model="hnn++",
                           model_options={"width": 8}, weighting="imbalance-aware", batch_size=16, epochs=1,
                           device="cpu")
    trainer = Trainer(options, tmp_path / "run", progress=False)
    trainer.build()
    pairs = next(trainer.task.batches("train", 16, torch.Generator().manual_seed(0)))
    terms = trainer.loss_terms(pairs)
    assert list(terms) == ["data/u"] and terms["data/u"].shape == (16 * 3 * 50,)  # batch x steps x grid
    loss, _ = trainer.strategy(terms, StepContext(TrainingState(), trainer.shared_parameters))
    assert torch.isfinite(loss) and terms["data/u"].mean() < loss <= terms["data/u"].max()


def test_split_seed_holds_out_the_same_trajectories_for_every_seed(kdv):
    def held_out(seed: int, options: dict) -> list[int]:
        trainer = Trainer(TrainOptions(table=str(kdv), seed=seed, task_options=options), "unused", progress=False)
        return list(trainer.task.trajectories["test"])

    assert held_out(1, {"split_seed": 0}) == held_out(2, {"split_seed": 0}) == held_out(0, {})
    assert held_out(1, {}) != held_out(2, {})


@pytest.mark.parametrize("option, message", [({"steps": 61}, "steps=61"), ({"field": "v"}, "field=v")])
def test_bad_task_options_are_one_line_errors(kdv, option, message):
    with pytest.raises(UserError, match=message):
        Trainer(TrainOptions(table=str(kdv), task_options=option), "unused", progress=False)


def test_a_diverged_rollout_reports_infinite_errors_and_still_plots(kdv, tmp_path):
    """Output weights of 1e38 overflow float32 in the first step: every error is inf (never NaN), every
    trajectory counts as diverged, and the plots are drawn from what is finite."""
    options = TrainOptions(table=str(kdv), model="node", model_options={"width": 8}, test_fraction=0.2, epochs=1,
                           device="cpu")
    trainer = Trainer(options, tmp_path / "run", progress=False)
    trainer.build()
    with torch.no_grad():
        trainer.task.trainable.out.weight.fill_(1e38)
    metrics = trainer.task.final_metrics()
    for name in ("u", "energy", "mass"):
        assert metrics["test"][name]["diverged"] == 2 and metrics["test"][name]["mse"] == np.inf
        assert metrics["test"][name]["max_abs"] == np.inf
    trainer.task.write_plots(metrics, tmp_path)
    assert (tmp_path / "rollout.png").is_file() and (tmp_path / "conserved.png").is_file()
