"""A run's table is checked, not trusted by path: `surrogate export` and `surrogate evaluate` re-open the table a
run was trained on only when its content has the SHA-256 recorded in the run's config.json, since the stored
splits are row numbers of that file. A rebuilt table is accepted on request; split rows past its end never are."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from surrogate.cli.main import cli
from surrogate.table import Table
from tests.test_export_runs import write_run, write_synthetic_table


@pytest.fixture()
def run_on_table(tmp_path: Path) -> tuple[Path, Path]:
    """(run directory, its table): an untrained fixture run on a 600-row synthetic table of its own."""
    table = write_synthetic_table(tmp_path / "table.h5", n_rows=600)
    return write_run(tmp_path / "run", table), table


def rebuild(table: Path, n_rows: int = 600) -> None:
    """Replace `table` by another draw (same columns, other rows) under the same path, as a rebuild would."""
    fresh = write_synthetic_table(table.with_name("rebuilt.h5"), n_rows=n_rows, seed=7)
    shutil.move(fresh, table)


COMMANDS = {
    "export": lambda run, tmp: ["export", str(run), "-o", str(tmp / "model.onnx")],
    "evaluate": lambda run, tmp: ["evaluate", str(run)],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_unchanged_table_is_used(command: str, run_on_table, tmp_path: Path) -> None:
    run, _ = run_on_table
    result = CliRunner().invoke(cli, COMMANDS[command](run, tmp_path))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_rebuilt_table_is_refused_naming_both_files(command: str, run_on_table, tmp_path: Path) -> None:
    run, table = run_on_table
    recorded = Table(table).sha256()
    rebuild(table)
    assert Table(table).sha256() != recorded
    result = CliRunner().invoke(cli, COMMANDS[command](run, tmp_path))
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.count("\n") == 0 and "Traceback" not in message
    assert str(table) in message and str(run / "config.json") in message and recorded[:12] in message
    assert "--accept-table-change" in message
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_rebuilt_table_is_used_when_accepted(command: str, run_on_table, tmp_path: Path) -> None:
    run, table = run_on_table
    rebuild(table)
    result = CliRunner().invoke(cli, [*COMMANDS[command](run, tmp_path), "--accept-table-change"])
    assert result.exit_code == 0, result.output
    if command == "export":
        assert f"test-split rows of {table}" in result.output  # the parity check read the rebuilt table's rows


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_split_rows_past_the_tables_end_are_refused(command: str, run_on_table, tmp_path: Path) -> None:
    """The run's splits name rows up to 599; a rebuilt table of 400 rows cannot hold them, accepted or not (the
    rows are not silently dropped)."""
    run, table = run_on_table
    rebuild(table, n_rows=400)
    result = CliRunner().invoke(cli, [*COMMANDS[command](run, tmp_path), "--accept-table-change"])
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.count("\n") == 0 and "Traceback" not in message
    assert str(run / "splits.npz") in message and f"{table} has 400 rows" in message
