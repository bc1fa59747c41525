"""Kills during a `surrogate table build kdv` / `cahn-hilliard`: the same command resumes with the chunks of
trajectories the killed build had not saved and writes the table an uninterrupted build writes, value for value
(every dataset and attribute); a resume with other options is refused in one line."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from .helpers import assert_one_error, hidden_files, run_cli, start_cli, stop, wait_until

# 24 trajectories in 12 chunks of 2, one process: about a tenth of a second of work per chunk
OPTIONS = ("--trajectories", "24", "--steps", "100", "--chunk-trajectories", "2")


def build_args(kind: str, output: Path, *extra: str) -> list[str]:
    return ["table", "build", kind, "-o", str(output), *OPTIONS, *extra]


def chunk_files(output: Path) -> list[Path]:
    return sorted(output.with_name(output.name + ".work").glob("chunk-*.npz"))


def h5_contents(path: Path) -> dict[str, Any]:
    """Every dataset (values) and every attribute (of the file, its groups and datasets) of an HDF5 file, but the
    file's time of writing (root attribute ``created``)."""
    contents: dict[str, Any] = {}

    def visit(name: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            contents[name] = item[()]
        contents.update({f"{name}@{key}": value for key, value in item.attrs.items()})

    with h5py.File(path, "r") as h5:
        contents.update({f"@{key}": value for key, value in h5.attrs.items() if key != "created"})
        h5.visititems(visit)
    return contents


def assert_same_contents(path: Path, reference: Path) -> None:
    got, expected = h5_contents(path), h5_contents(reference)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)


@pytest.fixture(scope="module", params=["kdv", "cahn-hilliard"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def reference(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The table built in one go, on two processes."""
    path = tmp_path_factory.mktemp("reference") / "pde.h5"
    code, output = run_cli(*build_args(kind, path, "--workers", "2"))
    assert code == 0, output
    return path


@pytest.fixture(scope="module")
def killed(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of a one-process build killed (SIGKILL) after it saved at least two chunks: no table, the work
    folder with some chunks."""
    folder = tmp_path_factory.mktemp("killed")
    output = folder / "pde.h5"
    process = start_cli(*build_args(kind, output, "--workers", "1"))
    wait_until(process, lambda: len(chunk_files(output)) >= 2)
    assert stop(process, signal.SIGKILL).returncode == -signal.SIGKILL
    assert 2 <= len(chunk_files(output)) < 12 and not output.exists()
    return folder


def test_after_sigkill_the_same_command_resumes_to_the_uninterrupted_table(killed, reference, kind, tmp_path):
    folder = Path(shutil.copytree(killed, tmp_path / "build"))
    saved = len(chunk_files(folder / "pde.h5"))
    code, output = run_cli(*build_args(kind, folder / "pde.h5", "--workers", "2"))  # workers may change
    assert code == 0, output
    assert f"(resumed {2 * saved * 101})" in output  # rows: 2 trajectories of 101 states per saved chunk
    assert_same_contents(folder / "pde.h5", reference)
    assert sorted(p.name for p in folder.iterdir()) == ["pde.h5"] and hidden_files(folder) == []


def test_a_resume_with_other_options_is_one_line_and_leaves_the_work(killed, kind, tmp_path):
    folder = Path(shutil.copytree(killed, tmp_path / "build"))
    before = [p.read_bytes() for p in chunk_files(folder / "pde.h5")]
    code, output = run_cli(*build_args(kind, folder / "pde.h5", "--seed", "3"))
    assert_one_error(code, output, "pde.h5.work: an unfinished build with other options (seed)")
    assert [p.read_bytes() for p in chunk_files(folder / "pde.h5")] == before and not (folder / "pde.h5").exists()


def test_chunk_size_and_workers_change_no_value(reference, kind, tmp_path):
    """Each trajectory is integrated on its own rows: one chunk of all 24 in this process gives the same table."""
    code, output = run_cli(*build_args(kind, tmp_path / "one.h5", "--chunk-trajectories", "24", "--workers", "1"))
    assert code == 0, output
    assert_same_contents(tmp_path / "one.h5", reference)


def test_a_damaged_chunk_is_integrated_again_with_a_warning(killed, reference, kind, tmp_path):
    """A truncated chunk file and one with a flipped byte (the .npz CRC-32 finds it) are integrated again."""
    folder = Path(shutil.copytree(killed, tmp_path / "build"))
    first, second = chunk_files(folder / "pde.h5")[:2]
    saved = len(chunk_files(folder / "pde.h5"))
    first.write_bytes(first.read_bytes()[:200])
    data = bytearray(second.read_bytes())
    data[len(data) // 2] ^= 0xFF
    second.write_bytes(bytes(data))
    code, output = run_cli(*build_args(kind, folder / "pde.h5"))
    assert code == 0, output
    assert f"warning: {first}: damaged" in output and f"warning: {second}: damaged" in output
    kept = 2 * (saved - 2) * 101  # rows of the chunks that read back
    assert f"(resumed {kept})" in output if kept else "resumed" not in output
    assert_same_contents(folder / "pde.h5", reference)


@pytest.mark.parametrize("content", [b'{"trajectories": 2', b"[1, 2]", b"\xff\xfe\x00garbage"])
def test_a_damaged_options_file_of_the_work_folder_is_one_line(killed, kind, tmp_path, content):
    folder = Path(shutil.copytree(killed, tmp_path / "build"))
    work = folder / "pde.h5.work"
    (work / "options.json").write_bytes(content)
    code, output = run_cli(*build_args(kind, folder / "pde.h5"))
    assert_one_error(code, output, f"{work / 'options.json'}: damaged resume state", f"delete {work}")
    assert (work / "options.json").read_bytes() == content and not (folder / "pde.h5").exists()
