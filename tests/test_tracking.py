"""Experiment loggers (surrogate.loggers): a run logged to TensorBoard and MLflow, read back with their own
readers (TensorBoard's EventAccumulator, MLflow's MlflowClient); export adds the ONNX file to the same run."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from click.testing import CliRunner

from surrogate.cli.main import cli
from surrogate.trainer import TrainOptions, train
from tests.synthetic import SPECIES, synthetic_table

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")

EPOCHS = 3
OPTIONS = dict(weighting="inverse-variance", epochs=EPOCHS, seed=4, threads=1, batch_size=256)


def read_history(run_dir) -> list[dict[str, float]]:
    with open(run_dir / "history.csv") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return synthetic_table(tmp_path_factory.mktemp("tracking") / "table.h5", n_rows=1500)


@pytest.fixture(scope="module")
def logged(table, tmp_path_factory):
    """A run with both loggers, exported (which logs the ONNX file), and the same run with history.csv alone."""
    folder = tmp_path_factory.mktemp("runs")
    runner = CliRunner()
    done = runner.invoke(cli, ["train", str(table), "-o", str(folder / "logged"), "--quiet", "--logger", "tensorboard",
                               "--logger", "mlflow", "--epochs", str(EPOCHS), "--seed", "4", "--threads", "1",
                               "--weighting", "inverse-variance"])
    assert done.exit_code == 0, done.output
    exported = runner.invoke(cli, ["export", str(folder / "logged"), "-o", str(folder / "model.onnx")])
    assert exported.exit_code == 0, exported.output
    assert "logged model.onnx to the run's tensorboard, mlflow logs" in exported.output
    plain = train(TrainOptions(table=str(table), **OPTIONS), folder / "plain", progress=False)
    return folder / "logged", plain.run_dir


def test_loggers_change_nothing_in_training(logged):
    run, plain = logged
    strip = ("time_s", "threads", "peak_rss_mb")
    assert [{k: v for k, v in row.items() if k not in strip} for row in read_history(run)] == \
           [{k: v for k, v in row.items() if k not in strip} for row in read_history(plain)]
    a, b = (torch.load(d / "model.pt", weights_only=True) for d in (run, plain))
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_tensorboard_event_files_hold_every_history_column_per_epoch_and_the_plots(logged):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, _ = logged
    history = read_history(run)
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    for column in ("train_loss", "val_score", "lr", *(f"weight/data/Y_{s}" for s in SPECIES),
                   *(f"train/data/Y_{s}" for s in SPECIES), *(f"val/data/Y_{s}" for s in SPECIES)):
        scalars = events.Scalars(column)
        assert [e.step for e in scalars] == [1, 2, 3], column
        assert [e.value for e in scalars] == pytest.approx([row[column] for row in history], rel=1e-6), column
    metrics = json.loads((run / "metrics.json").read_text())
    final = events.Scalars("final/test/Y_H2O/r2")
    assert final[-1].value == pytest.approx(metrics["test"]["Y_H2O"]["r2"], rel=1e-6)
    assert {"plots/parity", "plots/training", "plots/weights"} <= set(tags["images"])
    parity = events.Images("plots/parity")[-1]
    assert parity.width > 200 and parity.height > 200
    texts = set(tags["tensors"])  # add_text is stored as tensors
    assert "options/text_summary" in texts and "files/model.onnx/text_summary" in texts


def test_mlflow_run_holds_options_history_final_metrics_and_artefacts(logged):
    from mlflow.tracking import MlflowClient

    run, _ = logged
    record = json.loads((run / "mlflow.json").read_text())
    assert record["uri"] == (run.resolve() / "mlruns").as_uri()
    client = MlflowClient(tracking_uri=record["uri"])
    found = client.get_run(record["run_id"])
    assert found.info.status == "FINISHED"
    config = json.loads((run / "config.json").read_text())
    params = found.data.params
    assert params["trainer/lr"] == "0.01" and params["trainer/epochs"] == str(EPOCHS)
    assert params["weighting/name"] == "inverse-variance" and params["table_sha256"] == config["table_sha256"]
    history = read_history(run)
    losses = client.get_metric_history(record["run_id"], "train_loss")
    losses = sorted(losses, key=lambda m: m.step)
    assert [m.step for m in losses] == [1, 2, 3]
    assert [m.value for m in losses] == pytest.approx([r["train_loss"] for r in history])
    weights = client.get_metric_history(record["run_id"], "weight/data/Y_HO2")
    assert [m.step for m in sorted(weights, key=lambda m: m.step)] == [1, 2, 3]
    metrics = json.loads((run / "metrics.json").read_text())
    assert found.data.metrics["final/test/Y_OH/r2"] == pytest.approx(metrics["test"]["Y_OH"]["r2"])
    top = {a.path for a in client.list_artifacts(record["run_id"])}
    assert {"config.json", "metrics.json", "model.pt", "model.onnx", "plots"} <= top
    plots = {a.path for a in client.list_artifacts(record["run_id"], "plots")}
    assert {"plots/parity.png", "plots/training.png", "plots/weights.png"} <= plots


def test_a_resumed_run_goes_on_logging_into_the_same_mlflow_run(table, tmp_path):
    from mlflow.tracking import MlflowClient

    options = TrainOptions(table=str(table), **{**OPTIONS, "epochs": 2, "lr_schedule": "none"}, loggers=["mlflow"])
    train(options, tmp_path / "run", progress=False)
    first = json.loads((tmp_path / "run" / "mlflow.json").read_text())
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    config["trainer"]["epochs"] = 3
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    train(TrainOptions(**{**options.__dict__, "epochs": 3}), tmp_path / "run", resume=True, progress=False)
    record = json.loads((tmp_path / "run" / "mlflow.json").read_text())
    assert record["run_id"] == first["run_id"]
    client = MlflowClient(tracking_uri=record["uri"])
    assert sorted(m.step for m in client.get_metric_history(record["run_id"], "val_score")) == [1, 2, 3]
    assert len(client.search_runs([client.get_experiment_by_name("thermo-surrogate").experiment_id])) == 1


def test_unknown_logger_is_one_line_listing_the_installed_ones(table, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(table), "-o", str(tmp_path / "r"), "--logger", "wandb"])
    assert result.exit_code == 2
    assert "unknown logger 'wandb'; available: csv, mlflow, tensorboard" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "r").exists()


def test_logger_option_for_a_logger_not_chosen_is_refused(table, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(table), "-o", str(tmp_path / "r"), "--logger-option",
                                      "mlflow.experiment=x"])
    assert result.exit_code == 2
    assert "logger options given for 'mlflow', which is not among --logger" in result.output
