"""The core's contracts from a user's side: any table trains, defaults come from the dataset, grouped splits hold
out whole groups, and the contracts import no torch (which plugin packages the core may import:
test_import_rules)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from surrogate.training_data import split_groups
from surrogate.table import Column, Table, write_table
from tests.synthetic import synthetic_table
from tests.waits import HANG_S


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from surrogate.cli.main import cli; cli()", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=HANG_S)


def test_a_table_with_only_z_as_input_trains_from_the_cli(tmp_path):
    z = np.linspace(0.0, 1.0, 400)
    write_table(tmp_path / "z.h5", kind="mixing-line", inputs=[Column("Z", z, "1", "mixture fraction")],
                outputs=[Column("T", 300 + 1700 * np.sin(np.pi * z), "K", "temperature")], attrs={})
    result = cli("train", "z.h5", "-o", "run", "--model", "mlp", "--weighting", "uniform", "--epochs", "30",
                 "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["inputs"] == ["Z"] and config["outputs"] == ["T"] and config["log_inputs"] == []
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]["T"]["r2"] > 0.9
    nothing_logged = cli("train", "z.h5", "-o", "run2", "--log-input", "", "--epochs", "1", "--quiet", cwd=tmp_path)
    assert nothing_logged.returncode == 0, nothing_logged.stderr


def test_training_defaults_come_from_the_table(tmp_path):
    synthetic_table(tmp_path / "t.h5", n_rows=600)
    result = cli("train", "t.h5", "-o", "run", "--epochs", "2", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    mass_fractions = Table(tmp_path / "t.h5").defaults.softmax_outputs
    assert config["outputs"] == mass_fractions and "T" not in config["outputs"]
    assert config["log_inputs"] == ["chi"] and config["softmax_outputs"] == mass_fractions
    assert config["task"]["name"] == "regression"
    unknown = cli("train", "t.h5", "-o", "bad", "--log-input", "p", "--quiet", cwd=tmp_path)
    assert unknown.returncode == 2 and "--log-input 'p' is not one of the inputs" in unknown.stderr
    assert not (tmp_path / "bad").exists()


def test_group_split_holds_out_whole_groups_with_about_the_asked_fractions():
    labels = np.repeat(np.arange(40), 25)
    splits = split_groups(labels, 0.1, 0.2, seed=3)
    groups = {name: set(labels[rows]) for name, rows in splits.items()}
    assert not groups["train"] & groups["test"] and not groups["train"] & groups["val"]
    assert not groups["val"] & groups["test"]
    assert (len(groups["val"]), len(groups["test"])) == (4, 8)
    assert sorted(np.concatenate(list(splits.values()))) == list(range(1000))


def test_groups_that_bound_the_data_always_stay_in_training():
    labels = np.repeat(np.arange(10), 5)
    for seed in range(20):
        splits = split_groups(labels, 0.2, 0.2, seed=seed, train_groups=[7])
        assert 7 in set(labels[splits["train"]])
        assert 7 not in set(labels[splits["test"]]) | set(labels[splits["val"]])
        assert len(set(labels[splits["test"]])) == 2  # drawn from the nine others


def test_split_by_group_from_the_cli_holds_out_whole_bands(tmp_path):
    synthetic_table(tmp_path / "t.h5", n_rows=800)
    result = cli("train", "t.h5", "-o", "run", "--split-by", "group", "--epochs", "2", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    bands = Table(tmp_path / "t.h5").read_labels("band")
    splits = np.load(tmp_path / "run" / "splits.npz")
    assert not set(bands[splits["test"]]) & set(bands[splits["train"]])
    write_table(tmp_path / "plain.h5", kind="plain", inputs=[Column("x", np.arange(50.0), "1", "x")],
                outputs=[Column("y", np.arange(50.0) ** 2, "1", "y")], attrs={})
    refused = cli("train", "plain.h5", "-o", "r", "--split-by", "group", "--quiet", cwd=tmp_path)
    assert refused.returncode == 2 and "declares a group column" in refused.stderr


def test_contracts_and_table_generators_import_no_torch():
    code = ("import sys, surrogate.contracts, surrogate.config, surrogate.datasets, cantera_tables.flamelet_table; "
            "print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
