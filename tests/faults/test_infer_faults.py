"""Faults around `surrogate infer`: an output path that is an input, an output suffix it cannot write, empty and
non-real input files, damaged HDF5 data, and kills (SIGTERM, SIGINT, SIGKILL) while the output is written."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from export.runtime import Surrogate
from surrogate.errors import UserError
from surrogate.threads import max_threads
from test_export_runs import INPUTS, OUTPUTS, in_range_points

from .helpers import assert_one_error, copy_model, folder_state, run_cli, start_cli, stop, wait_until


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model and the same 200 cells as .npy, .csv (with header) and .h5, once for the module."""
    folder = tmp_path_factory.mktemp("infer-faults")
    copy_model(folder)
    x = in_range_points(200).astype(np.float64)
    np.save(folder / "cells.npy", x)
    np.savetxt(folder / "cells.csv", x, delimiter=",", header=",".join(INPUTS), comments="", fmt="%.17g")
    with h5py.File(folder / "cells.h5", "w") as h5:
        for j, name in enumerate(INPUTS):
            h5[name] = x[:, j]
    return folder


def infer(folder: Path, source: str | Path, output: str | Path, *options: str) -> tuple[int, str]:
    return run_cli("infer", folder / "model.onnx", folder / source, "-o", output, *options)


# --- thread counts ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("threads", [10000, 0, -2])
def test_a_thread_count_out_of_range_is_one_line_naming_the_option_and_range(folder, tmp_path, threads) -> None:
    """--threads 10000 made ONNX Runtime start ten thousand threads: memory grew and infer never returned. Now
    exit code 2 before any work, one line with the range (1 to 4 per CPU), nothing written."""
    top = max_threads()
    line = assert_one_error(*infer(folder, "cells.npy", tmp_path / "out.h5", "--threads", str(threads)),
                            f"--threads {threads}: expected 1..{top} (at most 4 per CPU of this machine's ")
    assert line.endswith(f"{top // 4})")
    assert list(tmp_path.iterdir()) == []


def test_the_python_runtime_refuses_a_thread_count_out_of_range(folder) -> None:
    with pytest.raises(UserError, match=rf"^threads=1000000: expected 1\.\.{max_threads()} \(at most 4 per CPU"):
        Surrogate(folder / "model.onnx", provider="cpu", threads=1_000_000)


# --- the output path ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["cells.npy", "cells.csv", "cells.h5"])
def test_output_equal_to_the_input_is_refused_and_the_input_kept(folder, source) -> None:
    before = folder_state(folder)
    assert_one_error(*infer(folder, source, folder / source), f"-o/--output {folder / source}: is the input file")
    assert folder_state(folder) == before


def test_output_equal_to_the_model_is_refused_and_the_model_kept(folder) -> None:
    before = folder_state(folder)
    assert_one_error(*infer(folder, "cells.npy", folder / "model.onnx"), "-o/--output", "is the model")
    assert folder_state(folder) == before


def test_another_spelling_or_a_link_of_the_input_is_refused(folder, tmp_path) -> None:
    before = folder_state(folder)
    spelled = folder / ".." / folder.name / "cells.npy"
    assert_one_error(*infer(folder, "cells.npy", spelled), "is the input file")
    link = tmp_path / "link.npy"
    link.symlink_to(folder / "cells.npy")
    assert_one_error(*infer(folder, "cells.npy", link), "is the input file")
    hard = tmp_path / "hard.csv"
    os.link(folder / "cells.csv", hard)
    assert_one_error(*infer(folder, "cells.csv", hard), "is the input file")
    assert folder_state(folder) == before


@pytest.mark.parametrize("name", ["out.txt", "out", "out.h5.bak"])
def test_an_output_suffix_without_a_format_is_refused(folder, tmp_path, name) -> None:
    assert_one_error(*infer(folder, "cells.npy", tmp_path / name), f"-o/--output {tmp_path / name}: unknown output "
                     "type", ".h5, .hdf5, .npy, .csv")
    assert list(tmp_path.iterdir()) == []


def test_the_output_format_follows_the_suffix(folder, tmp_path) -> None:
    """.csv is CSV (header of output names), .npy a float32 array, .hdf5 a table: the same numbers in each."""
    expected = Surrogate(folder / "model.onnx", provider="cpu", threads=1)(np.load(folder / "cells.npy"))
    for name in ("out.csv", "out.npy", "out.hdf5"):
        code, output = infer(folder, "cells.npy", tmp_path / name, "--chunk-rows", "64")
        assert code == 0, output
    csv = (tmp_path / "out.csv").read_text().splitlines()
    assert csv[0] == ",".join(OUTPUTS) and len(csv) == 201
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "out.csv", delimiter=",", skiprows=1).astype(np.float32),
                                  np.load(tmp_path / "out.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-6, atol=1e-7)
    with h5py.File(tmp_path / "out.hdf5") as h5:
        assert [h5[f"outputs/{n}"][3] for n in OUTPUTS] == pytest.approx(list(expected[3]), rel=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.hdf5", "out.npy"]


# --- input files --------------------------------------------------------------------------------------------

def write_h5(path: Path, values: np.ndarray) -> None:
    with h5py.File(path, "w") as h5:
        for j, name in enumerate(INPUTS):
            h5[name] = values[:, j]


EMPTY = {
    "header-only.csv": lambda p: p.write_text("Z,C,chi\n"),
    "blank.csv": lambda p: p.write_text(""),
    "zero-rows.npy": lambda p: np.save(p, np.zeros((0, 3))),
    "zero-rows.h5": lambda p: write_h5(p, np.zeros((0, 3))),
}


@pytest.mark.parametrize("name", EMPTY)
def test_an_input_without_cells_is_one_line(tmp_path, folder, name) -> None:
    EMPTY[name](tmp_path / name)
    assert_one_error(*run_cli("infer", folder / "model.onnx", tmp_path / name, "-o", tmp_path / "out.h5"),
                     f"{tmp_path / name}: no cells to evaluate (0 data rows)")
    assert [p.name for p in tmp_path.iterdir()] == [name]


NOT_REAL = {
    "complex.npy": (lambda p: np.save(p, np.ones((4, 3), dtype=complex)), "array has dtype complex128"),
    "bool.npy": (lambda p: np.save(p, np.ones((4, 3), dtype=bool)), "array has dtype bool"),
    "text.npy": (lambda p: np.save(p, np.full((4, 3), "0.5")), "array has dtype <U3"),
    "complex.h5": (lambda p: write_h5(p, np.ones((4, 3), dtype=complex)), "dataset /Z has dtype complex128"),
}


@pytest.mark.parametrize("name", NOT_REAL)
def test_an_input_of_complex_bool_or_text_is_refused_not_cast(tmp_path, folder, name) -> None:
    make, what = NOT_REAL[name]
    make(tmp_path / name)
    assert_one_error(*run_cli("infer", folder / "model.onnx", tmp_path / name, "-o", tmp_path / "out.h5"),
                     f"{tmp_path / name}: {what}; expected real numbers")
    assert [p.name for p in tmp_path.iterdir()] == [name]


BAD_CSV = {
    "text cell": (b"Z,C,chi\n0.5,0.01,1\n0.5,abc,1\n", "data line 3: 'abc' in column C is not a number"),
    "short line": (b"Z,C,chi\n0.5,0.01,1\n0.5,0.01\n", "data line 3 has 2 fields, the header 3"),
    "long line": (b"Z,C,chi\n0.5,0.01,1,7\n", "data line 2 has 4 fields, the header 3"),
    "repeated column": (b"Z,C,Z,chi\n0.5,0.01,0.6,1\n", "header names column 'Z' more than once"),
    "not UTF-8": (b"Z,C,chi,T_\xe9\n0.5,0.01,1,300\n", "not UTF-8 text"),
    "semicolons": (b"Z;C;chi\n0.5;0.01;1\n", "header has no column 'Z', 'C', 'chi'"),
}


@pytest.mark.parametrize("fault", BAD_CSV)
def test_a_malformed_csv_is_one_line_naming_the_line_or_column(tmp_path, folder, fault) -> None:
    content, message = BAD_CSV[fault]
    source = tmp_path / "cells.csv"
    source.write_bytes(content)
    assert_one_error(*run_cli("infer", folder / "model.onnx", source, "-o", tmp_path / "out.npy"),
                     f"{source}: {message}")
    assert [p.name for p in tmp_path.iterdir()] == ["cells.csv"] and source.read_bytes() == content


def test_a_csv_with_a_byte_order_mark_is_read(tmp_path, folder) -> None:
    """Spreadsheets save "UTF-8 CSV" with a byte-order mark in front of the header."""
    source = tmp_path / "cells.csv"
    source.write_bytes("\ufeffZ,C,chi\n0.5,0.01,1\n".encode())
    code, output = run_cli("infer", folder / "model.onnx", source, "-o", tmp_path / "out.npy")
    assert code == 0, output
    assert np.load(tmp_path / "out.npy").shape == (1, len(OUTPUTS))


def test_damaged_compressed_hdf5_data_is_one_line(tmp_path, folder) -> None:
    """Bit rot inside a gzip-compressed, checksummed (fletcher32) column: HDF5 notices, infer says which rows."""
    source = tmp_path / "rot.h5"
    x = np.repeat(in_range_points(2000).astype(np.float64), 5, axis=0)
    with h5py.File(source, "w") as h5:
        for j, name in enumerate(INPUTS):
            h5.create_dataset(name, data=x[:, j], chunks=(1000,), compression="gzip", fletcher32=True)
        offset, size = h5["chi"].id.get_chunk_info(3).byte_offset, h5["chi"].id.get_chunk_info(3).size
    data = bytearray(source.read_bytes())
    data[offset + size // 2: offset + size // 2 + 8] = bytes(8)
    source.write_bytes(bytes(data))
    assert_one_error(*run_cli("infer", folder / "model.onnx", source, "-o", tmp_path / "out.h5"),
                     f"{source}: rows ", "are unreadable, the file is damaged")
    assert [p.name for p in tmp_path.iterdir()] == ["rot.h5"]


# --- kills while writing ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_cells(folder: Path) -> Path:
    """Enough cells that infer is still writing, chunk by chunk, when the test kills it."""
    path = folder / "big.npy"
    np.save(path, np.tile(in_range_points(1000).astype(np.float64), (400, 1)))
    return path


def temp_files(output: Path) -> list[Path]:
    return sorted(output.parent.glob(f".{output.name}.tmp-*"))


def kill_while_writing(folder: Path, source: Path, output: Path, signum: int) -> subprocess.CompletedProcess:
    """Start infer (writing CSV in small chunks), wait until its temporary output exists, send `signum`, and wait
    for the end."""
    process = start_cli("infer", folder / "model.onnx", source, "-o", output, "--chunk-rows", "500", "--threads", "1")
    wait_until(process, lambda: bool(temp_files(output)))
    return stop(process, signum)


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 1)])
def test_sigterm_or_sigint_while_writing_leaves_nothing(folder, big_cells, tmp_path, signum, code) -> None:
    before = folder_state(folder)
    done = kill_while_writing(folder, big_cells, tmp_path / "out.csv", signum)
    assert done.returncode == code and "Traceback" not in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []
    assert folder_state(folder) == before


def test_after_sigkill_the_rerun_removes_the_stale_temporary_file(folder, big_cells, tmp_path) -> None:
    output = tmp_path / "out.csv"
    done = kill_while_writing(folder, big_cells, output, signal.SIGKILL)
    assert done.returncode == -signal.SIGKILL
    (stale,) = temp_files(output)  # SIGKILL cannot be caught: the hidden file stays, the output never appears
    assert not output.exists()
    code, text = run_cli("infer", folder / "model.onnx", folder / "cells.npy", "-o", output)
    assert code == 0, text
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"] and not stale.exists()


def test_a_second_writer_of_one_output_is_refused_while_the_first_holds_it(folder, tmp_path) -> None:
    """`infer` and `export` lock their output like `table build` and `train`: the second writer gets one line
    naming the job already running, and nothing is written."""
    from surrogate.locks import exclusive

    output = tmp_path / "out.npy"
    with exclusive(output, "an inference into this file"):
        assert_one_error(*infer(folder, "cells.npy", output), f"{output}: an inference into this file is already "
                         "running", f"process {os.getpid()} on")
    assert not output.exists()
    code, text = infer(folder, "cells.npy", output)  # the lock is gone with its holder
    assert code == 0, text
    np.testing.assert_array_equal(np.load(output), Surrogate(folder / "model.onnx", policy="clip")(
        np.load(folder / "cells.npy")))
