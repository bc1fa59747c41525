"""What every fault test asserts: exit code 2, exactly one "Error: " line naming the culprit, no traceback, and
the folder as it was (inputs untouched, nothing half-written or hidden left behind)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from click.testing import CliRunner

from surrogate.cli.main import cli
from test_export_runs import shared_onnx


def run_cli(*args: object) -> tuple[int, str]:
    """Exit code and combined output of ``surrogate ARGS`` run in this process."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def assert_one_error(code: int, output: str, *fragments: str) -> str:
    """Exit code 2 and exactly one line "Error: ..." holding every fragment; returns that line."""
    errors = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert code == 2, output
    assert "Traceback" not in output, output
    assert len(errors) == 1, output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def folder_state(folder: Path) -> dict[str, str]:
    """{name: SHA-256 of the content} of every file in `folder`, hidden ones included."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def copy_model(folder: Path) -> Path:
    """A private copy of the session's exported softmax-mlp model (a test may corrupt it or write next to it)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(shared_onnx("softmax-mlp"), folder / "model.onnx"))
