"""The trainer on a synthetic table: run directory contents, metrics, resume, determinism, CLI errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from surrogate.cli.main import cli
from surrogate.run import load_run
from surrogate.trainer import TrainOptions, train
from tests.synthetic import SPECIES, synthetic_table
from tests.waits import HANG_S


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return synthetic_table(tmp_path_factory.mktemp("synthetic") / "table.h5")


@pytest.fixture(scope="module")
def run(table, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "inverse-variance"
    options = TrainOptions(table=str(table), weighting="inverse-variance", epochs=25, seed=1, batch_size=256)
    return train(options, run_dir, progress=False)


def test_run_directory_holds_everything_needed_to_reuse_the_run(run):
    files = {p.name for p in run.run_dir.iterdir()}
    assert {"config.json", "model.pt", "scalers.json", "splits.npz", "history.csv", "metrics.json",
            "checkpoint.pt", "plots"} <= files
    assert {p.name for p in (run.run_dir / "plots").iterdir()} == {"parity.png", "training.png", "weights.png"}
    config = json.loads((run.run_dir / "config.json").read_text())
    assert len(config["table_sha256"]) == 64
    assert config["outputs"] == [f"Y_{s}" for s in SPECIES]


def test_metrics_cover_every_split_and_output(run):
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    assert set(metrics) == {"train", "val", "test", "kept_epoch", "last_epoch", "baselines", "beats_baselines"}
    for split in (metrics[name] for name in ("train", "val", "test")):
        assert set(split) == {f"Y_{s}" for s in SPECIES}
        for values in split.values():
            assert set(values) == {"r2", "mse", "mre", "max_abs"}


def test_inverse_variance_learns_every_species_including_trace_ones(run):
    r2 = {name: m["r2"] for name, m in run.metrics["test"].items()}
    assert min(r2.values()) > 0.95, r2


def test_loaded_run_predicts_mass_fractions_that_sum_to_one(run, table):
    from surrogate.table import Table

    loaded = load_run(run.run_dir)
    x = Table(table).read_matrix(loaded.input_names)[:500]
    y = loaded.predict(x)
    assert np.allclose(y.sum(axis=1), 1.0, atol=1e-5)
    assert (y >= 0).all()


def test_history_logs_the_weight_of_every_term_each_epoch(run):
    with open(run.run_dir / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 25
    variance = json.loads((run.run_dir / "config.json").read_text())
    weights = {k: float(v) for k, v in rows[0].items() if k.startswith("weight/")}
    assert set(weights) == {f"weight/data/Y_{s}" for s in SPECIES}
    # inverse variance: the trace species (tiny variance) gets by far the largest weight
    assert max(weights, key=weights.get) in ("weight/data/Y_HO2", "weight/data/Y_OH")
    assert variance["weighting"]["name"] == "inverse-variance"


def test_a_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(table, tmp_path):
    options = TrainOptions(table=str(table), weighting="uniform", epochs=4, seed=3, lr_schedule="none")
    full = train(options, tmp_path / "full", progress=False)
    short = TrainOptions(**{**options.__dict__, "epochs": 2})
    train(short, tmp_path / "resumed", progress=False)
    config = json.loads((tmp_path / "resumed" / "config.json").read_text())
    config["trainer"]["epochs"] = 4
    (tmp_path / "resumed" / "config.json").write_text(json.dumps(config))
    with open(tmp_path / "resumed" / "history.csv", "a") as handle:
        handle.write("3,0.001,0.5")  # killed while appending the next epoch's line
    resumed = train(options, tmp_path / "resumed", resume=True, progress=False)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]
    with open(tmp_path / "resumed" / "history.csv") as handle:
        assert [int(float(row["epoch"])) for row in csv.DictReader(handle)] == [1, 2, 3, 4]
    a = torch.load(full.run_dir / "model.pt", weights_only=True)
    b = torch.load(resumed.run_dir / "model.pt", weights_only=True)
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6), key


def test_cli_train_rejects_unknown_weighting_with_one_line(table, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(table), "-o", str(tmp_path / "r"), "--weighting", "nope"])
    assert result.exit_code == 2
    assert "unknown weighting 'nope'; available:" in result.output
    assert "inverse-variance" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_cli_train_rejects_unknown_option_and_column(table, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["train", str(table), "-o", str(tmp_path / "r"), "--model-option", "depht=3"])
    assert result.exit_code == 2 and "unknown option 'depht'; valid options: depth, width, activation" in result.output
    result = runner.invoke(cli, ["train", str(table), "-o", str(tmp_path / "r"), "--outputs", "Y_XX"])
    assert result.exit_code == 2 and "no column 'Y_XX'" in result.output


@pytest.mark.parametrize("flag, value, message", [
    ("--optimizer", "rmsprop", "Error: optimizer 'rmsprop': expected one of adam, adamw, sgd, lbfgs"),
    ("--lr", "-1.0", "Error: lr=-1.0: expected a number > 0"),
    ("--threads", "100000", "Error: threads=100000: expected 0 (chosen from the problem size"),
])
def test_a_bad_training_option_is_one_message_from_flag_or_yaml_and_overwrites_nothing(run, tmp_path, flag, value,
                                                                                         message):
    """Training options are checked once, as they are made: the command line and a YAML config give the same line,
    and --overwrite does not discard the run the directory holds for a command that cannot train."""
    import shutil

    kept = tmp_path / "kept"
    shutil.copytree(run.run_dir, kept)
    table = json.loads((kept / "config.json").read_text())["trainer"]["table"]
    config = tmp_path / "bad.yaml"
    config.write_text(f"{flag[2:]}: {value}\n")
    runner = CliRunner()
    for given in ([flag, value], ["--config", str(config)]):
        result = runner.invoke(cli, ["train", table, "-o", str(kept), "--overwrite", "--quiet", *given])
        assert result.exit_code == 2 and result.output.startswith(message), result.output
        assert len(result.output.strip().splitlines()) == 1
    assert (kept / "model.pt").is_file() and (kept / "metrics.json").is_file()


def test_cli_train_rejects_a_file_that_is_not_a_table(tmp_path):
    bogus = tmp_path / "bogus.h5"
    bogus.write_bytes(b"not hdf5 at all")
    result = CliRunner().invoke(cli, ["train", str(bogus), "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and "not a readable HDF5 file" in result.output


def test_cli_train_with_yaml_config_and_evaluate(table, tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("weighting: inverse-std\nepochs: 2\nbatch_size: 256\nmodel_options: {width: 16}\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["train", str(table), "-o", str(tmp_path / "r"), "--config", str(config), "--quiet"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["weighting"]["name"] == "inverse-std" and saved["model"]["options"]["width"] == 16
    result = runner.invoke(cli, ["evaluate", str(tmp_path / "r")])
    assert result.exit_code == 0 and "Y_HO2" in result.output
    assert "MRE: mean relative error, mean |predicted - true| / max(|true|, 0.001 max|true|), dimensionless" \
        in result.output and "MSE: mean squared error, in the output's units squared" in result.output
    as_json = runner.invoke(cli, ["evaluate", str(tmp_path / "r"), "--json"])
    assert as_json.exit_code == 0, as_json.output
    record = json.loads(as_json.stdout)  # the whole of stdout: one JSON object
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert record["rows"] == "test"
    assert record["metrics"]["Y_HO2"]["r2"] == pytest.approx(metrics["test"]["Y_HO2"]["r2"])
    assert record["baselines"]["split"] == "test" and "training mean" in record["baselines"]["scores"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("epoch: 3\n")
    result = runner.invoke(cli, ["train", str(table), "-o", str(tmp_path / "r2"), "--config", str(bad)])
    assert result.exit_code == 2 and "unknown key 'epoch'" in result.output


def test_compare_trains_each_strategy_alike_and_tabulates_r2(table, tmp_path):
    result = CliRunner().invoke(cli, ["compare", str(table), "--weighting", "uniform", "--weighting", "inverse-std",
                                      "--epochs", "2", "--quiet", "-o", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    assert "uniform" in result.output and "inverse-std" in result.output and "Y_HO2" in result.output
    lines = (tmp_path / "cmp" / "compare.csv").read_text().splitlines()
    assert lines[0] == "output,uniform,inverse-std" and len(lines) == 1 + len(SPECIES)
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 1000
    split_a = np.load(tmp_path / "cmp" / "uniform" / "splits.npz")["test"]
    split_b = np.load(tmp_path / "cmp" / "inverse-std" / "splits.npz")["test"]
    assert np.array_equal(split_a, split_b)
    again = CliRunner().invoke(cli, ["compare", str(table), "--weighting", "uniform", "--weighting", "inverse-std",
                                     "--epochs", "2", "--quiet", "-o", str(tmp_path / "cmp")])
    assert again.exit_code == 0 and again.output == result.output  # finished runs are reused, not retrained
    other = CliRunner().invoke(cli, ["compare", str(table), "--weighting", "uniform", "--weighting", "inverse-std",
                                     "--epochs", "3", "--quiet", "-o", str(tmp_path / "cmp")])
    assert other.exit_code == 2 and "holds a run with other options" in other.output


def test_default_budget_is_about_fifty_thousand_steps_within_bounds():
    options = TrainOptions(table="t.h5", batch_size=256)
    assert options.resolved(7076).epochs == 1786  # 7076 training rows: 28 steps per epoch
    assert options.resolved(100).epochs == 2000  # tiny table: capped
    assert options.resolved(10_000_000).epochs == 10  # huge table: at least 10 passes
    assert TrainOptions(table="t.h5", epochs=7).resolved(8844).epochs == 7


def test_softmax_mlp_with_a_linear_head_closes_species_and_predicts_temperature(table, tmp_path):
    outputs = [f"Y_{s}" for s in SPECIES] + ["T"]
    result = train(TrainOptions(table=str(table), outputs=outputs, epochs=15, batch_size=128), tmp_path / "r",
                   progress=False)
    loaded = load_run(result.run_dir)
    from surrogate.table import Table

    x = Table(table).read_matrix(loaded.input_names)[:300]
    y = loaded.predict(x)
    assert np.allclose(y[:, :-1].sum(axis=1), 1.0, atol=1e-5)
    assert result.metrics["test"]["T"]["r2"] > 0.99  # T is linear in C here: the linear head must learn it


def test_early_stopping_ends_training_after_patience_epochs_without_gain(table, tmp_path):
    # a learning rate so small that nothing improves by min_delta: stops after `patience` epochs
    options = TrainOptions(table=str(table), epochs=50, patience=3, min_delta=1.0, lr=1e-6, lr_schedule="none")
    result = train(options, tmp_path / "r", progress=False)
    assert len(result.history) == 4 and result.best_epoch == 1


def test_lbfgs_reduces_the_loss_on_a_small_problem(table, tmp_path):
    options = TrainOptions(table=str(table), weighting="inverse-variance", optimizer="lbfgs", lr=1.0, epochs=6,
                           lr_schedule="none", model_options={"width": 16, "depth": 2})
    result = train(options, tmp_path / "r", progress=False)
    assert result.history[-1]["val_score"] < 0.5 * result.history[0]["val_score"]


@pytest.mark.slow
def test_torchrun_with_two_ranks_trains_like_one_process_on_the_same_global_batches(table, tmp_path):
    import os
    import subprocess
    import sys

    common = ["train", str(table), "--epochs", "2", "--batch-size", "256", "--weighting", "uniform",
              "--lr-schedule", "none", "--seed", "5", "--quiet"]
    single = CliRunner().invoke(cli, [*common, "-o", str(tmp_path / "one")])
    assert single.exit_code == 0, single.output
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launched = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                               "-m", "surrogate.cli.main", *common, "-o", str(tmp_path / "two")],
                              capture_output=True, text=True, env=env, timeout=HANG_S)
    assert launched.returncode == 0, launched.stderr[-2000:]
    a = torch.load(tmp_path / "one" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "two" / "model.pt", weights_only=True)
    for key in a:
        assert torch.allclose(a[key], b[key], atol=2e-5), key
    with open(tmp_path / "two" / "history.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 2  # one writer: rank 0


def test_ranks_share_every_global_batch_without_overlap():
    from surrogate.distributed import Processes

    batch = torch.arange(257)
    shares = [Processes(rank=r, world=3).share(batch) for r in range(3)]
    assert sorted(torch.cat(shares).tolist()) == batch.tolist()
    assert [len(s) for s in shares] == [86, 86, 85]
