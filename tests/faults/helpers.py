"""What every fault test asserts: exit code 2, exactly one "Error: " line naming the culprit, no traceback, and
the folder as it was (inputs untouched, nothing half-written or hidden left behind); and the small tables, runs
and processes the fault tests start from."""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from click.testing import CliRunner

from surrogate.cli.main import cli
from test_export_runs import shared_onnx
from waits import HANG_S


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


def tree_state(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones and subfolders too) with its content."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def copy_model(folder: Path) -> Path:
    """A private copy of the session's exported softmax-mlp model (a test may corrupt it or write next to it)."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(shared_onnx("softmax-mlp"), folder / "model.onnx"))


# --- tables, runs and processes for the table, train and evaluate faults ------------------------------------

REPO = Path(__file__).resolve().parents[2]
# a tiny equilibrium build (H2 in air, h2o2.yaml): one line per unburnt temperature, each one job of the build
EQUILIBRIUM = ("table", "build", "equilibrium", "--mechanism", "h2o2.yaml", "--fuel", "H2:1",
               "--progress-variable", "H2O:1", "--workers", "1")


def equilibrium_args(output: Path | str, lines: int = 3, n_z: int = 5) -> list[str]:
    """`surrogate table build equilibrium` arguments for `lines` lines of `n_z` mixture fractions each."""
    levels = ",".join(str(300 + 5 * k) for k in range(lines))
    return [*EQUILIBRIUM, "-o", str(output), "--n-Z", str(n_z), "--unburnt-temperature", levels]


def tiny_table(path: Path, n_rows: int = 300) -> Path:
    """The synthetic flamelet-like table (tests/synthetic.py) with few rows: trains in a second."""
    from synthetic import synthetic_table

    return synthetic_table(path, n_rows=n_rows)


def train_args(table: Path, run_dir: Path, *options: object) -> list[str]:
    """`surrogate train` arguments for a short run (a new run: 2 epochs unless `options` say otherwise)."""
    given = [str(o) for o in options]
    epochs = [] if "--epochs" in given or "--resume" in given else ["--epochs", "2"]
    return ["train", str(table), "-o", str(run_dir), *epochs, "--quiet", "--device", "cpu", *given]


def trained_run(table: Path, run_dir: Path, *options: object) -> None:
    """A tiny table at `table` and a finished short run on it at `run_dir` (`options` as for :func:`train_args`)."""
    tiny_table(table)
    code, output = run_cli(*train_args(table, run_dir, *options))
    assert code == 0, output


def rewrite_column(path: Path, where: str, data: np.ndarray) -> None:
    """Replace the HDF5 dataset `where` (e.g. 'outputs/T') of a table by `data`, keeping its attributes."""
    import h5py

    with h5py.File(path, "a") as h5:
        attrs = dict(h5[where].attrs)
        del h5[where]
        h5.create_dataset(where, data=data)
        h5[where].attrs.update(attrs)


def start_cli(*args: object) -> subprocess.Popen:
    """`surrogate ARGS` in its own process (one torch/OpenMP thread), for kills and concurrent writers."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "surrogate.cli.main", *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)


def run_cli_limited(max_file_bytes: int | None, *args: object, timeout: float = 600) -> subprocess.CompletedProcess:
    """`surrogate ARGS` run to its end in its own process (a crash ends that one, not the tests), whose files may
    grow to `max_file_bytes` only (RLIMIT_FSIZE, None: no limit). SIGXFSZ is ignored, so a write beyond the limit
    fails with EFBIG ("File too large") where one on a full disk fails with ENOSPC: the same failed write for the
    code, without root or a file system of that size (`timeout` only ends a hung run: the test then fails)."""
    def limit() -> None:
        default_sigint()
        if max_file_bytes is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return subprocess.run([sys.executable, "-m", "surrogate.cli.main", *map(str, args)], cwd=REPO,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          preexec_fn=limit, timeout=timeout)


def default_sigint() -> None:
    """In the child: SIGINT back to its default, so Python turns it into KeyboardInterrupt even when the test
    runs in a background job (where the shell starts everything with SIGINT ignored, and Python keeps that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_until(process: subprocess.Popen, ready: Callable[[], bool]) -> None:
    """Poll until `ready()` (an event the process makes: a file it saved, a row it appended) while `process` runs;
    fail if it ends first. No deadline but HANG_S: on a loaded machine the event may take minutes to come."""
    deadline = time.monotonic() + HANG_S
    while not ready():
        assert process.poll() is None, f"the process ended before the test could act: {process.communicate()}"
        assert time.monotonic() < deadline, f"no event from the process in {HANG_S} s: it hangs"
        time.sleep(0.02)


@contextlib.contextmanager
def paused(process: subprocess.Popen) -> Iterator[None]:
    """Hold `process` stopped (SIGSTOP) while the block runs, then let it go on (SIGCONT): what the block does
    (start a second writer, send a signal) happens while the process is mid-run, however slowly the machine
    runs the block; left running, the process could finish first. A stopped process keeps its locks and acts on
    other signals only once it goes on (SIGKILL excepted)."""
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        process.send_signal(signal.SIGCONT)  # a no-op once the process has ended and been waited for


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    """Wait for the end of `process` (HANG_S at most); stdout and stderr of the whole run."""
    stdout, stderr = process.communicate(timeout=HANG_S)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def stop(process: subprocess.Popen, signum: int) -> subprocess.CompletedProcess:
    """Send `signum` and wait for the end; stdout and stderr of the whole run."""
    process.send_signal(signum)
    return finish(process)


def hidden_files(folder: Path) -> list[str]:
    """Names of the hidden files (temporary files, lock files) anywhere under `folder`."""
    return sorted(p.name for p in folder.rglob(".*"))
