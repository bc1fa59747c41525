"""`surrogate infer` on .h5/.npy/.csv in chunks, the structured-table lookup, and `surrogate bench infer`."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from export.benchmarks.inference import run_benchmark
from export.lookup import StructuredLookup
from export.runtime import Surrogate
from surrogate.cli.main import cli
from surrogate.table import Table
from test_export_runs import (INPUTS, OUTPUTS, UNITS, bilinear_outputs, c_max, in_range_points, shared_decoder,
                              shared_onnx, shared_run, shared_table)


@pytest.fixture(scope="module")
def cells() -> np.ndarray:
    return in_range_points(1000, seed=11).astype(np.float64)


@pytest.fixture(scope="module")
def expected(cells: np.ndarray) -> np.ndarray:
    return Surrogate(shared_onnx("softmax-mlp"), provider="cpu", threads=1)(cells)


def run_infer(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["infer", str(shared_onnx("softmax-mlp")), *args])
    return result.exit_code, result.output


def read_predictions(path) -> tuple[Table, np.ndarray]:
    table = Table(path)
    return table, table.read_matrix(OUTPUTS)


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".h5"])
def test_infer_matches_the_runtime_and_chunking_changes_nothing(tmp_path, suffix, cells, expected) -> None:
    """Each input format gives the runtime's predictions, in 7-row chunks as in one; units are kept."""
    source = tmp_path / f"cells{suffix}"
    if suffix == ".npy":
        np.save(source, cells)
    elif suffix == ".csv":  # columns in another order than the model's: the header picks them by name
        np.savetxt(source, cells[:, [2, 0, 1]], delimiter=",", header="chi,Z,C", comments="", fmt="%.17g")
    else:  # any HDF5 holding datasets named like the inputs
        with h5py.File(source, "w") as h5:
            for j, name in enumerate(INPUTS):
                h5[f"inputs/{name}"] = cells[:, j]
    one, chunked = tmp_path / "one.h5", tmp_path / "chunked.h5"
    code, output = run_infer(str(source), "-o", str(one))
    assert code == 0, output
    assert run_infer(str(source), "-o", str(chunked), "--chunk-rows", "7")[0] == 0
    table, y_one = read_predictions(one)
    _, y_chunked = read_predictions(chunked)
    # ONNX Runtime's GEMM blocking depends on the batch size: equal to float32 round-off, not bit for bit
    np.testing.assert_allclose(y_chunked, y_one, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(y_one, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(table.read_matrix(INPUTS), cells)
    assert table.kind == "inference" and table.units("T") == "K" and table.units("chi") == UNITS["chi"]


def test_infer_reads_a_thermo_surrogate_table_by_column_name(tmp_path) -> None:
    """A training table as input: its Z, C, χ columns are found by name among inputs and outputs."""
    out = tmp_path / "pred.h5"
    code, output = run_infer(str(shared_table()), "-o", str(out), "--chunk-rows", "1000")
    assert code == 0, output
    source = Table(shared_table())
    reference = Surrogate(shared_onnx("softmax-mlp"), threads=1)(source.read_matrix(INPUTS))
    _, y = read_predictions(out)
    np.testing.assert_allclose(y, reference, rtol=1e-6, atol=1e-7)
    assert Table(out).attrs["model_table_sha256"] == source.sha256()


def test_infer_errors_are_one_line_and_leave_no_output(tmp_path, cells) -> None:
    bad = cells.copy()
    bad[1500 % len(bad), 1] = np.nan
    source = tmp_path / "nan.npy"
    np.save(source, bad)
    out = tmp_path / "out.h5"
    code, output = run_infer(str(source), "-o", str(out), "--chunk-rows", "100")
    assert code == 2 and "Traceback" not in output
    assert output.strip().splitlines()[-1] == f"Error: {source}: rows 500-599: NaN in input column C; the surrogate is undefined there"
    assert not out.exists() and list(tmp_path.iterdir()) == [source]

    wrong_header = tmp_path / "cells.csv"
    wrong_header.write_text("Z,C,strain\n0.1,0.01,1\n")
    code, output = run_infer(str(wrong_header), "-o", str(out))
    assert code == 2 and "header has no column 'chi'" in output.strip().splitlines()[-1]

    narrow = tmp_path / "narrow.npy"
    np.save(narrow, cells[:, :2])
    code, output = run_infer(str(narrow), "-o", str(out))
    assert code == 2 and "expected (n_cells, 3)" in output

    outside = tmp_path / "outside.npy"
    far = cells.copy()
    far[3, 0] = 2.0
    np.save(outside, far)
    code, output = run_infer(str(outside), "-o", str(out), "--out-of-range", "error")
    assert code == 2 and "outside the trained range: Z" in output and not out.exists()
    code, output = run_infer(str(outside), "-o", str(out))  # default policy 'warn': runs, and says so
    assert code == 0 and "1 of 1000 cells lie outside the trained input ranges" in output

    code, output = run_infer(str(tmp_path / "cells.txt"), "-o", str(out), "--overwrite")  # out holds the last run's
    assert code == 2 and "no such file" in output


def test_infer_refuses_a_model_with_two_input_tensors_in_one_line(tmp_path, cells) -> None:
    source = tmp_path / "cells.npy"
    np.save(source, cells[:, :2])
    out = tmp_path / "out.h5"
    result = CliRunner().invoke(cli, ["infer", str(shared_decoder()), str(source), "-o", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.count("\n") == 1 and result.output.startswith(f"Error: {shared_decoder()}: condition ")
    assert "needs one input and one output tensor; evaluate this model with Surrogate.run(" in result.output
    assert not out.exists()


def test_structured_lookup_reproduces_bilinear_data_exactly() -> None:
    """Outputs bilinear in (Z, Λ) are interpolated without error, which needs Λ = (C − C_min)/(C_max − C_min)."""
    lookup = StructuredLookup(shared_table(), OUTPUTS)
    rng = np.random.default_rng(4)
    z = rng.uniform(0, 1, 2000)
    z_grid = lookup.z
    lam = rng.uniform(0, 1, 2000)
    c_max_linear = np.interp(z, z_grid, c_max(z_grid))  # C_max is piecewise linear between grid nodes
    exact = bilinear_outputs(z, lam)
    y = lookup(z, lam * c_max_linear)
    for j, name in enumerate(OUTPUTS):
        np.testing.assert_allclose(y[:, j], exact[name], rtol=1e-10, atol=1e-12)
    assert lookup.nbytes == 8 * (41 + 21 + 41 + 41 + 41 * 21 * len(OUTPUTS))
    np.testing.assert_array_equal(lookup.progress(np.array([0.0, 1.0]), np.array([0.1, 0.1])), [0.0, 0.0])


def test_bench_infer_measures_every_engine_and_the_memory(tmp_path) -> None:
    """One short run: ONNX Runtime, PyTorch and the lookup at two batch sizes, with the memory comparison."""
    result = CliRunner().invoke(cli, ["bench", "infer", "--run", str(shared_run("softmax-mlp")), "--model",
                                      str(shared_onnx("softmax-mlp")), "--batch-sizes", "1,64",
                                      "--min-time", "0.02", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # --json alone: the JSON object is all of stdout, the text on stderr
    names = list(report["engines"])
    assert any(n.startswith("ONNX Runtime Python, Surrogate") for n in names)
    assert any(n.startswith("PyTorch eager") for n in names)
    assert any(n.startswith("table lookup") for n in names)
    for name in names:
        rates = report["engines"][name]["cells_per_second"]
        if rates:
            assert set(rates) == {"1", "64"}
            assert all(r["best"] >= r["mean"] > 0 for r in rates.values())
    memory = report["memory"]
    assert memory["model"]["parameters"] > 400 and memory["model"]["file_bytes"] < 20_000
    assert memory["table_over_model"] == pytest.approx(memory["table_bytes"] / memory["model"]["file_bytes"])
    assert "CUDA provider" in result.stderr
    memory_line = next(line for line in result.stderr.splitlines() if line.startswith("structured table:"))
    assert memory_line == (f"structured table: {memory['table_bytes']} bytes of arrays, "
                           f"{memory['table_over_model']:.3g} times the ONNX file that replaces it")
    assert "target" not in result.stderr
    assert CliRunner().invoke(cli, ["bench", "infer"]).exit_code == 2


def test_bench_without_a_run_or_table_says_what_it_skipped(tmp_path) -> None:
    report = run_benchmark(run_dir=None, model=shared_onnx("mlp"), table=None, batches=[16], threads=1,
                           min_time=0.01, c_bench=None, scratch=tmp_path, echo=lambda line: None)
    text = "\n".join(report.lines())
    assert "PyTorch eager skipped: needs --run" in text and "table lookup skipped" in text
    assert "points drawn uniformly in the trained ranges" in text
