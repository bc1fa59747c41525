"""What the tests of every Cantera table generator check alike: a kill in the middle of a build, a table's mass
fractions and declared defaults, and a softmax MLP trained on the table from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from click.testing import CliRunner

from surrogate.cli.main import cli
from surrogate.table import Table


class Interrupted(Exception):
    """Stands for a kill in the middle of a build."""


def killed_after(solve: Callable[[Any], None], count: int, calls: list) -> Callable[[Any], None]:
    """`solve` that records each call and raises :class:`Interrupted` after the `count`-th has finished (its
    result saved), as a kill between two conditions would."""

    def wrapped(job: Any) -> None:
        solve(job)
        calls.append(job.index)
        if len(calls) == count:
            raise Interrupted

    return wrapped


def built_across_a_kill(generator: Any, module: Any, solve_name: str, count: int, path: Path,
                        **options: Any) -> tuple[Any, list, list]:
    """(report, conditions solved before the kill, conditions solved on resume): `generator` builds `path`, is
    interrupted after `count` conditions (``module.solve_name`` stands for one condition's solve) and is run
    again with the same options."""
    solve = getattr(module, solve_name)
    first: list = []
    second: list = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, solve_name, killed_after(solve, count, first))
        with pytest.raises(Interrupted):
            generator.build(path, progress=False, **options)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, solve_name, killed_after(solve, 99, second))
        report = generator.build(path, progress=False, **options)
    return report, first, second


def assert_rows_are_closed_mass_fractions(table: Table) -> None:
    """Every row's mass fractions are non-negative and sum to one; the declared softmax outputs are all of them."""
    Y_names = [name for name in table.output_names if name.startswith("Y_")]
    assert table.defaults.softmax_outputs == Y_names
    Y = table.read_matrix(Y_names)
    assert Y.min() >= 0.0
    np.testing.assert_allclose(Y.sum(axis=1), 1.0, atol=1e-8)
    assert table.defaults.group_column in table.label_names


def train_from_cli(table: Path, run: Path) -> dict[str, Any]:
    """Train the default model (softmax-mlp) on `table` for two epochs from the CLI; returns metrics.json."""
    result = CliRunner().invoke(cli, ["train", str(table), "-o", str(run), "--epochs", "2", "--quiet",
                                      "--model", "softmax-mlp", "--model-option", "depth=2",
                                      "--model-option", "width=16", "--split-by", "group"])
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert config["softmax_outputs"] == Table(table).defaults.softmax_outputs
    return json.loads((run / "metrics.json").read_text())


def assert_one_line_error(result: Any, *fragments: str) -> None:
    """A CLI result that is one ``Error:`` line (exit code 2) holding every fragment, and no traceback."""
    lines = [line for line in result.output.strip().splitlines() if line.strip() and "it/s" not in line
             and "%|" not in line]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def table_check(path) -> tuple[int, dict[str, str]]:
    """`surrogate table check PATH`: its exit code and each check's line by label."""
    result = CliRunner().invoke(cli, ["table", "check", str(path)])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, {line.split("  ")[0]: line for line in result.output.splitlines()}
