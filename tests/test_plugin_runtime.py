"""Plugins that break their contract at run time are refused at the first batch with one line naming the plugin,
its package and version and the clause broken; a term that goes NaN later is named by the divergence message; and
runs and ONNX files record which plugin distributions, with versions, produced them.

The faulty plugins are in tests/fixtures/broken_plugin/surrogate_broken_example/runtime.py (package
surrogate-broken-example 0.1.0), the working ones in tests/fixtures/thirdparty_plugin (surrogate-plugin-example
0.1.0); each package is pip-installed into a temporary directory and made visible in this process only while a
test uses it.
"""

from __future__ import annotations

import contextlib
import json
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from surrogate import registry
from surrogate.cli.main import cli
from surrogate.config import TrainOptions
from surrogate.errors import PluginError, UserError
from surrogate.trainer import Trainer
from tests.synthetic import synthetic_table
from tests.test_thirdparty_plugin import FIXTURES, install

BROKEN = "(package surrogate-broken-example 0.1.0)"
EXAMPLE = "surrogate-plugin-example"
BATCH = 32


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> Path:
    return install(FIXTURES / "broken_plugin", tmp_path_factory.mktemp("broken"))


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    return install(FIXTURES / "thirdparty_plugin", tmp_path_factory.mktemp("example"))


@contextlib.contextmanager
def visible(site: Path) -> Iterator[None]:
    """The installed package importable and its entry points found in this process, then forgotten."""
    sys.path.insert(0, str(site))
    registry.refresh()
    try:
        yield
    finally:
        sys.path.remove(str(site))
        for module in [name for name in sys.modules if name.startswith(("surrogate_broken_example",
                                                                        "surrogate_plugin_example"))]:
            del sys.modules[module]
        registry.refresh()


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("table") / "t.h5"
    synthetic_table(path, n_rows=400)
    return path


def fit(table: Path, run: Path, **options) -> None:
    options = {"epochs": 1, "batch_size": BATCH, "weighting": "inverse-variance", **options}
    Trainer(TrainOptions(table=str(table), **options), run, progress=False).fit()


def n_outputs(table: Path) -> int:
    from surrogate.table import Table

    return len(Table(table).defaults.softmax_outputs or ())


@pytest.mark.parametrize("options, message", [
    ({"weighting": "vector-loss"},
     "weighting 'vector-loss' {broken}: combine() must return a scalar tensor, got a tensor of shape ({terms},)"),
    ({"weighting": "bare-loss"},
     "weighting 'bare-loss' {broken}: combine() must return (loss, {{term: weight}}), got a tensor of shape "
     "({terms},)"),
    ({"model": "one-too-many", "closure": "none"},
     "model 'one-too-many' {broken}: the network from build() must return (batch, n_outputs) = ({batch}, {n}), got a "
     "tensor of shape ({batch}, {n_plus})"),
    ({"physics": ["wide-term"]},
     "physics loss 'wide-term' {broken}: terms() must return element-wise terms, a scalar or 1-D with one value per "
     "sample (batch of {batch}) or per point of Batch.extras, got 'physics/wide' of shape ({batch}, 5)"),
    ({"physics": ["short-term"]},
     "physics loss 'short-term' {broken}: terms() must return element-wise terms, a scalar or 1-D with one value "
     "per sample (batch of {batch}) or per point of Batch.extras, got 'physics/short' of shape ({batch_less},)"),
    ({"physics": ["nan-term"]},
     "physics loss 'nan-term' {broken}: terms() must return finite terms, got NaN in 'physics/nan' on the first "
     "batch"),
    ({"weighting": "picky"}, "weighting 'picky' {broken}: level=5: expected 1 to 3"),
], ids=["vector-loss", "bare-loss", "one-too-many", "wide-term", "short-term", "nan-term", "constructor"])
def test_a_plugin_breaking_its_contract_is_named_with_its_package_and_the_clause(broken, table, tmp_path, options,
                                                                                message):
    n = n_outputs(table)
    terms = n + len(options.get("physics", ()))
    expected = message.format(broken=BROKEN, terms=terms, batch=BATCH, batch_less=BATCH - 1, n=n, n_plus=n + 1)
    with visible(broken), pytest.raises(PluginError) as raised:
        fit(table, tmp_path / "run", **options)
    assert str(raised.value) == expected


def test_the_first_batch_is_checked_before_its_step_and_only_then(broken, table, tmp_path):
    """A term that turns NaN on the fourth batch passes the first-batch check; the divergence names it and its
    plugin (not the data terms that follow it into NaN once the weights are NaN), then gives the usual advice."""
    with visible(broken), pytest.raises(UserError) as raised:
        fit(table, tmp_path / "run", physics=["nan-later"])
    assert str(raised.value) == (f"training diverged at epoch 1 (loss nan): term 'physics/nan_later' of physics loss "
                                 f"'nan-later' {BROKEN} went non-finite first; lower --lr or choose another weighting")


def test_on_the_command_line_a_plugin_error_is_one_line_without_traceback(broken, table, tmp_path):
    with visible(broken):
        for flags in (["--weighting", "picky"], ["--weighting", "inverse-variance", "--physics", "short-term"]):
            result = CliRunner().invoke(cli, ["train", str(table), "-o", str(tmp_path / "run"), "--epochs", "1",
                                              "--quiet", *flags])
            lines = [line for line in result.output.splitlines() if line.strip()]
            assert result.exit_code == 2, result.output
            assert len(lines) == 1 and lines[0].startswith("Error: ") and BROKEN in lines[0], result.output
            assert "Traceback" not in result.output and "this is a bug" not in result.output
            assert not (tmp_path / "run").exists()


def test_runs_and_onnx_files_record_the_plugin_distributions_and_versions(example, tmp_path):
    from export.metadata import read_model_file
    from export.onnx_export import export_run
    from surrogate.provenance import build_table
    from surrogate.run import load_run

    with visible(example):
        build_table("heat-trajectories", tmp_path / "heat.h5", {}, progress=False)
        fit(tmp_path / "heat.h5", tmp_path / "run", model="linear", weighting="relative", physics=["l2"])
        recorded = json.loads((tmp_path / "run" / "config.json").read_text())["plugins"]
        export_run(load_run(tmp_path / "run"), tmp_path / "heat.onnx", manifold=False)
        info = CliRunner().invoke(cli, ["info", str(tmp_path / "heat.onnx")])
    ours = version("thermo-surrogate")
    assert recorded == [
        {"kind": "tables", "name": "heat-trajectories", "package": EXAMPLE, "version": "0.1.0"},
        {"kind": "tasks", "name": "rollout", "package": "thermo-surrogate", "version": ours},
        {"kind": "models", "name": "linear", "package": EXAMPLE, "version": "0.1.0"},
        {"kind": "weightings", "name": "relative", "package": EXAMPLE, "version": "0.1.0"},
        {"kind": "physics", "name": "l2", "package": "thermo-surrogate", "version": ours},
        {"kind": "problems", "name": "heat-trajectories", "package": EXAMPLE, "version": "0.1.0"},  # the task's
    ]
    _, model = read_model_file(tmp_path / "heat.onnx")
    assert model.decoded()["plugins"] == recorded
    assert info.exit_code == 0, info.output
    assert f"made with table kind 'heat-trajectories' (package {EXAMPLE} 0.1.0)" in info.output
    assert "made with physics loss 'l2' (package thermo-surrogate" in info.output
