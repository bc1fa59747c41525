"""Every example configuration in examples/ trains from the command line as its header says, shrunk to a few
epochs: the file's options reach the run's config.json, and the run learns (R² above the training mean's 0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cantera_tables.flamelet_table import SMALL_OPTIONS, H2FlameletTable
from surrogate.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SHORT = ["--epochs", "3", "--quiet"]


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict[str, Path]:
    """A small H2/air flamelet table (Cantera) and the Poisson collocation problem the headers build."""
    root = tmp_path_factory.mktemp("examples")
    H2FlameletTable.build(root / "h2.h5", progress=False, **SMALL_OPTIONS)
    built = CliRunner().invoke(cli, ["table", "build", "poisson-multiscale", "-o", str(root / "poisson.h5"),
                                     "--k", "10"])
    assert built.exit_code == 0, built.output
    return {"h2-flamelet": root / "h2.h5", "poisson-multiscale": root / "poisson.h5"}


def table_kind(example: Path) -> str:
    """The table kind the example's header builds (`surrogate table build KIND ...`)."""
    line = next(line for line in example.read_text().splitlines() if "surrogate table build" in line)
    return line.split("surrogate table build")[1].split()[0]


def test_every_example_is_valid_yaml_with_a_header_that_builds_its_table():
    examples = sorted(EXAMPLES.glob("*.yaml"))
    assert [e.name for e in examples] == ["h2-default.yaml", "h2-grouped.yaml", "h2-weighting.yaml",
                                          "pinn-poisson.yaml"]
    for example in examples:
        assert isinstance(yaml.safe_load(example.read_text()), dict)
        assert table_kind(example) in ("h2-flamelet", "poisson-multiscale")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["h2-default", "h2-grouped", "h2-weighting", "pinn-poisson"])
def test_example_config_trains_and_its_options_reach_the_run(name, tables, tmp_path):
    example = EXAMPLES / f"{name}.yaml"
    options = yaml.safe_load(example.read_text())
    run = tmp_path / "run"
    extra = ["--lbfgs-epochs", "1"] if options.get("lbfgs_epochs") else []
    result = CliRunner().invoke(cli, ["train", str(tables[table_kind(example)]), "--config", str(example),
                                      "-o", str(run), *SHORT, *extra])
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    trainer = config["trainer"]
    for key in ("weighting", "model", "split_by", "batch_size", "lr", "val_fraction", "patience", "seed"):
        if key in options:
            assert trainer[key] == options[key], key
    for key in ("weighting_options", "model_options"):
        for option, value in options.get(key, {}).items():
            assert trainer[key][option] == value, (key, option)
    metrics = json.loads((run / "metrics.json").read_text())
    split = "test" if "test" in metrics else "train"
    if name.startswith("h2"):
        assert metrics[split]["Y_H2O"]["r2"] > 0.0  # better than the training mean after 3 epochs
    else:
        assert metrics[split]["u"]["rel_l2"] < 1.5  # finite, and not diverged from the zero solution (1.0)
