"""What a new user gets from `pip install .`: four packages, the entry points, a fast CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_cli_start_up_imports_no_heavy_library():
    code = ("import sys; from click.testing import CliRunner; from surrogate.cli.main import cli; "
            "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output; "
            "heavy = [m for m in ('torch', 'cantera', 'onnx', 'onnxruntime', 'h5py', 'matplotlib') if m in sys.modules]; "
            "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_version_is_reported():
    result = subprocess.run([sys.executable, "-m", "surrogate.cli.main", "--version"], capture_output=True, text=True)
    from surrogate import __version__

    assert result.returncode == 0 and __version__ in result.stdout


@pytest.mark.slow
def test_wheel_holds_all_four_packages_and_the_entry_points(tmp_path):
    pytest.importorskip("setuptools")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("thermo_surrogate-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    for package in ("surrogate", "plugins", "cantera_tables", "export"):
        assert f"{package}/__init__.py" in names, package
    assert "export/c/surrogate_ort.c" in names and "export/c/CMakeLists.txt" in names
    for group in ("surrogate.tables", "surrogate.models", "surrogate.weightings", "surrogate.physics"):
        assert f"[{group}]" in entry_points
    assert "inverse-variance = plugins.weightings.static:InverseVariance" in entry_points
    assert "surrogate = surrogate.cli.main:cli" in entry_points


def test_shell_completion_completes_lazily_loaded_commands_and_table_kinds():
    """The completion documented in docs/install.md: click's protocol through the installed entry point."""
    program = [sys.executable, "-c", "from surrogate.cli.main import cli; cli(prog_name='surrogate')"]

    def complete(words: str) -> list[str]:
        env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1),
               "_SURROGATE_COMPLETE": "bash_complete"}
        result = subprocess.run(program, env=env, capture_output=True, text=True, cwd=ROOT)
        return [line.split(",", 1)[1] for line in result.stdout.splitlines()]

    assert complete("surrogate ev") == ["evaluate"]
    assert complete("surrogate table build h2") == ["h2-flamelet"]
    assert complete("surrogate train t.h5 --weighting-o") == ["--weighting-option"]
    source = subprocess.run(program, cwd=ROOT, env={**os.environ, "_SURROGATE_COMPLETE": "bash_source"},
                            capture_output=True, text=True)
    assert "complete -o nosort -F _surrogate_completion surrogate" in source.stdout
