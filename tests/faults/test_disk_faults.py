"""A full disk: a table build and a training that write onto a small tmpfs (mounted by the test; skipped where
mounting is not permitted) stop with one line naming the file and "No space left on device", leave no temporary
file and no half-written run, and a build resumes once there is space again."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from .helpers import assert_one_error, equilibrium_args, hidden_files, run_cli, tiny_table, train_args


def mount_tmpfs(where: Path, size: str, remount: bool = False) -> bool:
    options = f"remount,size={size}" if remount else f"size={size}"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB file system at tmp_path/disk, unmounted after the test."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not mount_tmpfs(disk, "64k"):
        pytest.skip("mounting a tmpfs is not permitted here (needs root or CAP_SYS_ADMIN)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_build_on_a_full_disk_is_one_line_and_resumes_when_there_is_space(small_disk) -> None:
    output = small_disk / "eq.h5"
    line = assert_one_error(*run_cli(*equilibrium_args(output, 120, 30)), "No space left on device")
    assert str(small_disk / "eq.h5.work") in line
    assert not output.exists() and hidden_files(small_disk) == []  # no temporary file, no lock file
    saved = len(list((small_disk / "eq.h5.work").glob("condition-*.npz")))
    assert saved > 0
    assert mount_tmpfs(small_disk, "2m", remount=True)
    code, text = run_cli(*equilibrium_args(output, 120, 30))
    assert code == 0 and f"(resumed {saved})" in text, text
    assert sorted(p.name for p in small_disk.iterdir()) == ["eq.h5"]


def test_a_table_that_does_not_fit_is_one_line_and_leaves_no_temporary_file(small_disk) -> None:
    """The lines fit, the table (written by HDF5, which reports the failed write as a RuntimeError) does not."""
    output = small_disk / "eq.h5"
    assert_one_error(*run_cli(*equilibrium_args(output, 2, 30)), f"{output}: No space left on device")
    assert sorted(p.name for p in small_disk.iterdir()) == ["eq.h5.work"]  # kept to resume from
    assert hidden_files(small_disk) == []


def test_a_training_on_a_full_disk_is_one_line_and_leaves_no_run(small_disk, tmp_path) -> None:
    table = tiny_table(tmp_path / "table.h5")
    assert_one_error(*run_cli(*train_args(table, small_disk / "run")), str(small_disk / "run"),
                     "No space left on device")
    assert list(small_disk.iterdir()) == []  # the failed start removed what it wrote, and its lock
