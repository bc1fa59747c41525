"""Faults around `surrogate export`: an output path that is a file of the run or its table, a folder that is
missing, a directory as output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from surrogate.run import CONFIG, WEIGHTS
from test_export_runs import shared_run, shared_table

from .helpers import assert_one_error, folder_state, run_cli


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the session's untrained softmax-mlp run (its table stays the session's)."""
    return Path(shutil.copytree(shared_run("softmax-mlp"), tmp_path_factory.mktemp("export-faults") / "run"))


@pytest.mark.parametrize("name", [WEIGHTS, CONFIG])
def test_output_equal_to_a_file_of_the_run_is_refused_and_the_run_kept(run, name) -> None:
    before = folder_state(run)
    assert_one_error(*run_cli("export", run, "-o", run / name), f"-o/--output {run / name}: is file {name} of run")
    assert folder_state(run) == before


def test_output_equal_to_the_runs_table_is_refused_and_the_table_kept(run) -> None:
    table = shared_table()
    content = table.read_bytes()
    assert_one_error(*run_cli("export", run, "-o", table), "is the run's table")
    assert table.read_bytes() == content


@pytest.mark.parametrize("where", ["missing/model.onnx", "."])
def test_an_output_in_a_missing_folder_or_a_directory_is_one_line(run, tmp_path, where) -> None:
    assert_one_error(*run_cli("export", run, "-o", tmp_path / where), str(tmp_path / where))
    assert list(tmp_path.iterdir()) == []
