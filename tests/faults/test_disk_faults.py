"""A full disk. Two ways to fill one: a small tmpfs (mounted by the test; skipped where mounting is not permitted),
and a file size limit on the command's own process (RLIMIT_FSIZE, no root needed: a write beyond it fails with
EFBIG, "File too large", as one on a full disk fails with ENOSPC). Either way `surrogate table build`, `train` and
`infer` stop with exit code 2 and one line naming the file and the reason (no traceback: h5py printed pages of them
and the process ended in a segmentation fault), leave no partial output and no temporary file, and a build keeps
its work folder only when it holds solved results a rerun resumes from, saying so (else it removes it). Every HDF5
writer of the toolkit raises one OSError naming its file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from cantera_tables.flamelet_table import SMALL_OPTIONS
from waits import HANG_S
from surrogate.chunks import work_dir_for
from test_export_runs import in_range_points

from .helpers import (REPO, assert_one_error, copy_model, equilibrium_args, hidden_files, run_cli, run_cli_limited,
                      tiny_table, train_args)

LIMIT = 64 * 1024  # bytes a file may grow to in the file size limit tests


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


# --- surrogate infer ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The exported softmax-mlp model and 20000 cells inside its ranges: predictions of > 64 KiB in every format."""
    folder = tmp_path_factory.mktemp("disk-infer")
    np.save(folder / "cells.npy", in_range_points(20000).astype(np.float64))
    return copy_model(folder), folder / "cells.npy"


@pytest.mark.parametrize("name", ["out.h5", "out.npy", "out.csv"])
def test_infer_beyond_a_file_size_limit_is_one_line_and_leaves_nothing(cells, tmp_path, name) -> None:
    """Before, the .h5 output printed h5py tracebacks and ended in a segmentation fault (-11)."""
    model, inputs = cells
    done = run_cli_limited(LIMIT, "infer", model, inputs, "-o", tmp_path / name)
    assert_one_error(done.returncode, done.stdout + done.stderr, f"Error: {tmp_path / name}: File too large")
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file, no lock


@pytest.mark.parametrize("name", ["out.h5", "out.npy"])
def test_infer_on_a_full_disk_is_one_line_and_leaves_nothing(small_disk, cells, name) -> None:
    """Before, .h5 ended in a segmentation fault and .npy in SIGBUS (its memory map written where the disk had no
    blocks left), both leaving the temporary file and the lock behind."""
    model, inputs = cells
    done = run_cli_limited(None, "infer", model, inputs, "-o", small_disk / name)
    assert_one_error(done.returncode, done.stdout + done.stderr, f"Error: {small_disk / name}: No space left on device")
    assert list(small_disk.iterdir()) == []


# --- surrogate table build h2-flamelet ------------------------------------------------------------------------------

def flamelet_args(output: Path) -> list[str]:
    """`surrogate table build h2-flamelet` of the small S-curve (SMALL_OPTIONS: about 16 flamelets) into `output`."""
    args = ["table", "build", "h2-flamelet", "-o", str(output)]
    for key, value in SMALL_OPTIONS.items():
        text = ",".join(f"{k}:{v:g}" for k, v in value.items()) if isinstance(value, dict) else str(value)
        args += [f"--{key.replace('_', '-')}", text]
    return args


def committed_flamelets(output: Path) -> int:
    """Flamelets the state files of the work folder of `output` commit (what a rerun resumes from)."""
    return sum(json.loads(state.read_text())["n_flamelets"]
               for state in work_dir_for(output).glob("curve-*/state.json"))


def assert_work_settled(output: Path, line: str) -> int:
    """The line says what became of the work folder, and it did: kept with the committed flamelets it counts, or
    removed when it held none; no table, no temporary file either way. Returns the flamelets kept."""
    work = work_dir_for(output)
    kept = re.search(rf"; {re.escape(str(work))} keeps the (\d+) solved result\(s\) saved so far: rerun the same "
                     r"command to resume from them$", line)
    if kept:
        assert int(kept.group(1)) == committed_flamelets(output) > 0
    else:
        assert line.endswith(f"; nothing solved was saved yet, so {work} was removed"), line
        assert not work.exists()
    assert not output.exists() and hidden_files(output.parent) == []
    return int(kept.group(1)) if kept else 0


def test_a_flamelet_build_whose_first_files_do_not_fit_leaves_nothing(tmp_path) -> None:
    """Files of 20 kB at most: the first restart flame (written by Cantera's HDF5 writer, which aborted the whole
    process when a write failed) or flamelet does not fit; nothing solved was committed, so the work folder goes."""
    output = tmp_path / "h2.h5"
    done = run_cli_limited(20_000, *flamelet_args(output))
    line = assert_one_error(done.returncode, done.stdout + done.stderr, "File too large")
    assert assert_work_settled(output, line) == 0
    assert list(tmp_path.iterdir()) == []


def test_a_flamelet_table_beyond_the_limit_keeps_its_flamelets_and_a_rerun_resumes(tmp_path) -> None:
    """Files of 60 kB at most: every flamelet and restart flame fits, the table does not (the issue: h5py tracebacks,
    a segmentation fault, the work folder left without a word). One line names the table and the flamelets kept; a
    rerun without the limit resumes from all of them and leaves the table alone."""
    output = tmp_path / "h2.h5"
    done = run_cli_limited(60_000, *flamelet_args(output))
    line = assert_one_error(done.returncode, done.stdout + done.stderr, f"Error: {output}: File too large; ")
    kept = assert_work_settled(output, line)
    assert kept > 0
    rerun = run_cli_limited(None, *flamelet_args(output))
    assert rerun.returncode == 0 and f"(resumed {kept})" in rerun.stdout, rerun.stdout + rerun.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h2.h5"]


def test_a_flamelet_build_on_a_full_disk_is_one_line_and_settles_its_work(small_disk) -> None:
    """The issue's command on a 256 KiB file system: wherever the disk runs full (a flamelet, the restart flame,
    the state, the table), one line, no crash, the work folder kept only with committed flamelets."""
    assert mount_tmpfs(small_disk, "256k", remount=True)
    output = small_disk / "h2.h5"
    done = run_cli_limited(None, *flamelet_args(output))
    assert_work_settled(output, assert_one_error(done.returncode, done.stdout + done.stderr,
                                                 "No space left on device"))


# --- every HDF5 writer ------------------------------------------------------------------------------------------

WRITER = """
import sys
import numpy as np
from surrogate.datasets import write_collocation, write_trajectories
from surrogate.table import Column, write_table
from surrogate.benchmarks.scale_table import resample_table

kind, out = sys.argv[1], sys.argv[2]
values = np.random.default_rng(0).random(20000)
column = lambda name: Column(name, values, "1", name)
try:
    if kind == "table":
        write_table(out, kind="t", inputs=[column("x")], outputs=[column("y")], attrs={})
    elif kind == "trajectories":
        write_trajectories(out, kind="t", fields=[Column("u", values.reshape(4, 50, 100), "1", "u")],
                           grid=[Column("x", values[:100], "m", "x")], dt=0.1)
    elif kind == "collocation":
        write_collocation(out, kind="t", domain={"x": (0, 1)}, outputs=["u"], problem={"name": "p"},
                          observations=([column("x")], [column("u")]))
    else:
        resample_table(sys.argv[3], out, 20000, progress=False)
except OSError as exc:
    print(f"{exc.__class__.__name__}: {exc}")
"""


@pytest.mark.parametrize("kind", ["table", "trajectories", "collocation", "resample"])
def test_every_hdf5_writer_beyond_a_file_size_limit_raises_one_oserror_and_leaves_nothing(kind, tmp_path) -> None:
    """write_table, write_trajectories, write_collocation and the resampled scale table (whose partial file would
    otherwise be resumed from, though HDF5 left it inconsistent), in a process whose files may grow to 4 KiB: one
    OSError naming the file, nothing printed, nothing left, no crash."""
    source = tiny_table(tmp_path / "table.h5")
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([sys.executable, "-c", f"import resource, signal; signal.signal(signal.SIGXFSZ, "
                           f"signal.SIG_IGN); resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n{WRITER}",
                           kind, out / "data.h5", source], capture_output=True, text=True, cwd=REPO, timeout=HANG_S)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout == f"OSError: [Errno 27] File too large: '{out / 'data.h5'}'\n"
    assert list(out.iterdir()) == []
