"""The solver side: C, C++ and Fortran programs on the C wrapper export/c/surrogate_ort, built with CMake against
the ONNX Runtime library of the Python wheel (headers from Debian's libonnxruntime-dev, prepared by
export/c/fetch_onnxruntime.sh), give the numbers ONNX Runtime's Python API and the project's runtime give, apply
the out-of-range policy, and fail with a clear message on bad files and inputs. The wrapper reads metadata of
format version 1 and 2, evaluates a field model (a time-stepper's state on a grid), and refuses a model with two
input tensors and forged signatures with one line.

Skipped, with the reason, where no C compiler or CMake is installed or the headers cannot be downloaded;
the Fortran checks are skipped where gfortran is missing (apt-get install gfortran).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_export_runs import (FORGERIES, GRID, INPUTS, OUTPUTS, flip_weight_bytes, forge_signature, in_range_points,
                              shared_decoder, shared_onnx, shared_stepper, to_version_1)
from waits import HANG_S

C_DIR = Path(__file__).resolve().parents[1] / "export" / "c"
LANGUAGES = ("c", "cpp", "fortran")


def run_tool(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=HANG_S)


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three example programs, configured and built once for this module."""
    missing = [tool for tool in ("cmake", "cc", "c++") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install cmake build-essential)")
    fetch = subprocess.run(["bash", str(C_DIR / "fetch_onnxruntime.sh")], capture_output=True, text=True,
                           env={**os.environ, "PYTHON": sys.executable}, timeout=HANG_S)
    if fetch.returncode != 0:
        pytest.skip(f"ONNX Runtime C headers could not be prepared: {fetch.stderr.strip().splitlines()[-1]}")
    root = fetch.stdout.strip().splitlines()[-1]
    build = tmp_path_factory.mktemp("solver-build")
    configure = run_tool("cmake", "-S", C_DIR, "-B", build, f"-DONNXRUNTIME_ROOT={root}", "-DCMAKE_BUILD_TYPE=Release")
    assert configure.returncode == 0, configure.stdout + configure.stderr
    compiled = run_tool("cmake", "--build", build, "-j", os.cpu_count() or 1)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return {language: build / f"example_{language}" for language in LANGUAGES}


def program(examples: dict[str, Path], language: str) -> Path:
    if not examples[language].is_file():
        pytest.skip(f"example_{language} not built: no Fortran compiler (apt-get install gfortran)")
    return examples[language]


def run_example(examples: dict[str, Path], language: str, model: Path, cells: Path, out: Path,
                policy: str = "error") -> subprocess.CompletedProcess:
    """Each program's command line for: evaluate CELLS with MODEL under POLICY on one thread, write OUT."""
    exe = program(examples, language)
    if language == "c":
        return run_tool(exe, model, "--input", cells, "--output", out, "--policy", policy, "--threads", 1)
    return run_tool(exe, model, cells, out, policy, 1)


def write_cells(path: Path, x: np.ndarray, names: list[str] = INPUTS) -> Path:
    """CSV with 9 significant digits: every float32 value survives the round trip exactly."""
    np.savetxt(path, x, fmt="%.9g", delimiter=",", header=",".join(names), comments="")
    return path


def read_outputs(path: Path, names: list[str] = OUTPUTS) -> np.ndarray:
    assert path.read_text().splitlines()[0].replace(" ", "") == ",".join(names)
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def input_ranges(model: Path) -> np.ndarray:
    from export.metadata import read_model_file

    ranges = read_model_file(model)[1].input_ranges
    return np.array([ranges[name] for name in INPUTS], dtype=np.float64)


def cells_inside(model: Path, n: int = 200, seed: int = 3) -> np.ndarray:
    """Cells spread over the trained ranges (χ log-uniform), with both corners of the range box; where the file has
    manifold bounds, each input but the binned one is drawn inside its bin's bounds (corners: the bounds' ends)."""
    from export.metadata import read_model_file

    bounds = input_ranges(model)
    manifold = read_model_file(model)[1].manifold
    rng = np.random.default_rng(seed)
    u = rng.uniform(0, 1, (n, len(INPUTS)))
    u[0], u[1] = 0, 1
    chi = INPUTS.index("chi")
    x = np.empty((n, len(INPUTS)), dtype=np.float32)
    lower, upper = np.broadcast_to(bounds[:, 0], x.shape), np.broadcast_to(bounds[:, 1], x.shape)
    if manifold is not None:
        x[:, manifold.along] = bounds[manifold.along, 0] + u[:, manifold.along] * np.ptp(bounds[manifold.along])
        k = manifold.bins(x[:, manifold.along])
        lower = np.where(np.isfinite(manifold.lower[k]), manifold.lower[k], lower)
        upper = np.where(np.isfinite(manifold.upper[k]), manifold.upper[k], upper)
    floor = np.maximum(lower[:, chi], 1e-3)
    values = lower + u * (upper - lower)
    values[:, chi] = np.where(u[:, chi] == 0, lower[:, chi], floor * (upper[:, chi] / floor) ** u[:, chi])
    x[:] = values
    return np.clip(x, bounds[:, 0].astype(np.float32), bounds[:, 1].astype(np.float32))


def onnxruntime_reference(model: Path, x: np.ndarray) -> np.ndarray:
    """ONNX Runtime's Python InferenceSession on the same file, one thread (its one input and output tensor)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def assert_same_numbers(y: np.ndarray, reference: np.ndarray) -> None:
    """Equal to 1e-6 relative to each output's scale (max |y|), the measure the exporter's parity check uses."""
    scale = np.abs(reference).max(axis=0)
    np.testing.assert_allclose(y, reference, rtol=1e-6, atol=0)
    assert np.all(np.abs(y - reference) <= 1e-6 * scale)


@pytest.mark.parametrize("language", LANGUAGES)
def test_example_matches_python_onnxruntime_and_project_runtime(examples, language, tmp_path) -> None:
    """Each program reproduces onnxruntime.InferenceSession and export.runtime.Surrogate on 200 cells."""
    from export.runtime import Surrogate

    model = shared_onnx("softmax-mlp")
    x = cells_inside(model)
    done = run_example(examples, language, model, write_cells(tmp_path / "cells.csv", x), tmp_path / "out.csv")
    assert done.returncode == 0, done.stderr
    assert "ran 200 cells: 0 outside the trained range" in done.stdout
    y = read_outputs(tmp_path / "out.csv")
    assert_same_numbers(y, onnxruntime_reference(model, x))
    assert_same_numbers(y, Surrogate(model, provider="cpu", threads=1, policy="error")(x))
    assert np.allclose(y[:, :4].sum(axis=1), 1.0, atol=1e-5)  # the softmax head closes the mass fractions


@pytest.mark.parametrize("plugin, fp16", [("mlp", False), ("fourier-mlp", False), ("softmax-mlp", True)])
def test_c_example_matches_python_for_every_model_plugin_and_fp16(examples, plugin, fp16, tmp_path) -> None:
    model = shared_onnx(plugin, fp16)
    x = cells_inside(model, n=50)
    done = run_example(examples, "c", model, write_cells(tmp_path / "cells.csv", x), tmp_path / "out.csv")
    assert done.returncode == 0, done.stderr
    assert_same_numbers(read_outputs(tmp_path / "out.csv"), onnxruntime_reference(model, x))


def test_c_example_prints_the_metadata(examples, tmp_path) -> None:
    model = shared_onnx("softmax-mlp")
    done = run_tool(program(examples, "c"), model, "--generate", 10)
    assert done.returncode == 0, done.stderr
    lo, hi = input_ranges(model)[INPUTS.index("chi")]
    assert re.search(rf"chi\s+\[{lo:.9g}, {hi:.9g}\] 1/s", done.stdout), done.stdout
    assert re.search(r"T\s+K", done.stdout) and "softmax-mlp" in done.stdout and "fp32" in done.stdout


def out_of_range_cells(model: Path) -> np.ndarray:
    """Three cells: inside, Z above its range (1.5), χ below its range (-1)."""
    x = cells_inside(model, n=3)
    x[1, INPUTS.index("Z")] = 1.5
    x[2, INPUTS.index("chi")] = -1.0
    return x


@pytest.mark.parametrize("language", ["c", "fortran"])
def test_error_policy_refuses_cells_outside_the_trained_range(examples, language, tmp_path) -> None:
    model = shared_onnx("softmax-mlp")
    cells = write_cells(tmp_path / "cells.csv", out_of_range_cells(model))
    done = run_example(examples, language, model, cells, tmp_path / "out.csv", "error")
    assert done.returncode == 1
    assert "2 of 3 cells outside the trained range; first: cell 1: input 'Z' = 1.5" in done.stderr
    assert not (tmp_path / "out.csv").exists()


def test_clip_policy_evaluates_cells_clamped_to_the_range(examples, tmp_path) -> None:
    from export.metadata import read_model_file
    from export.runtime import Surrogate

    model = shared_onnx("softmax-mlp")
    x = out_of_range_cells(model)
    bounds = input_ranges(model).astype(np.float32)
    done = run_example(examples, "c", model, write_cells(tmp_path / "cells.csv", x), tmp_path / "out.csv", "clip")
    assert done.returncode == 0, done.stderr
    assert "ran 3 cells: 2 outside the trained range (clipped)" in done.stdout
    y = read_outputs(tmp_path / "out.csv")
    clipped = np.clip(x, bounds[:, 0], bounds[:, 1])
    clipped = read_model_file(model)[1].manifold.clip(clipped)  # then into its Z bin's C and χ bounds
    assert_same_numbers(y, onnxruntime_reference(model, clipped))
    assert_same_numbers(y, Surrogate(model, provider="cpu", threads=1, policy="clip")(x))
    assert not np.allclose(y[1:], onnxruntime_reference(model, x)[1:], rtol=1e-3)  # clipping changed them


def test_warn_policy_evaluates_cells_as_given_and_warns(examples, tmp_path) -> None:
    model = shared_onnx("softmax-mlp")
    x = out_of_range_cells(model)
    done = run_example(examples, "c", model, write_cells(tmp_path / "cells.csv", x), tmp_path / "out.csv", "warn")
    assert done.returncode == 0, done.stderr
    assert "surrogate: warning: 2 of 3 cells outside the trained range" in done.stderr
    assert_same_numbers(read_outputs(tmp_path / "out.csv"), onnxruntime_reference(model, x))


@pytest.mark.parametrize("language", LANGUAGES)
def test_truncated_model_file_is_a_clear_error(examples, language, tmp_path) -> None:
    data = shared_onnx("softmax-mlp").read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 2])
    cells = write_cells(tmp_path / "cells.csv", np.full((1, len(INPUTS)), 0.5, dtype=np.float32))
    done = run_example(examples, language, truncated, cells, tmp_path / "out.csv")
    assert done.returncode == 1
    assert f"cannot load ONNX model {truncated}: not a readable ONNX file (truncated or corrupt?)" in done.stderr


@pytest.mark.parametrize("language", LANGUAGES)
def test_weights_changed_after_export_are_refused_by_their_checksum(examples, language, tmp_path) -> None:
    """32 inverted bytes inside the weights: ONNX Runtime would run the file; the wrapper's checksum refuses it."""
    flipped = flip_weight_bytes(shared_onnx("softmax-mlp"), tmp_path / "flipped.onnx")
    cells = write_cells(tmp_path / "cells.csv", cells_inside(shared_onnx("softmax-mlp"), n=4))
    done = run_example(examples, language, flipped, cells, tmp_path / "out.csv")
    assert done.returncode == 1 and not (tmp_path / "out.csv").exists()
    assert f"{flipped}: weights checksum mismatch (file corrupted after export?)" in done.stderr


def test_foreign_onnx_model_is_refused_by_its_metadata(examples, tmp_path) -> None:
    """A valid ONNX graph with the right tensor names but without thermo-surrogate metadata."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["inputs"], ["outputs"])], "foreign",
        [helper.make_tensor_value_info("inputs", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("outputs", TensorProto.FLOAT, ["batch", 3])],
    )
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), foreign)
    done = run_tool(program(examples, "c"), foreign, "--generate", 1)
    assert done.returncode == 1
    assert f"{foreign} is not a thermo-surrogate model: metadata 'format' is missing" in done.stderr


def test_nan_input_and_wrong_width_are_clear_errors(examples, tmp_path) -> None:
    model = shared_onnx("softmax-mlp")
    x = cells_inside(model, n=4)
    x[2, INPUTS.index("C")] = np.nan
    done = run_example(examples, "c", model, write_cells(tmp_path / "nan.csv", x), tmp_path / "out.csv", "clip")
    assert done.returncode == 1
    assert "input 'C' of cell 2 is NaN" in done.stderr
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("Z,C,chi\n0.5,0.1\n")
    done = run_example(examples, "c", model, narrow, tmp_path / "out.csv")
    assert done.returncode == 1
    assert f"{narrow} line 2: expected 3 comma-separated numbers (one per input)" in done.stderr


def test_c_benchmark_prints_a_machine_readable_throughput(examples) -> None:
    done = run_tool(program(examples, "c"), shared_onnx("softmax-mlp"), "--bench", 512, "--threads", 1,
                    "--repeat", 5)
    assert done.returncode == 0, done.stderr
    fields = dict(item.split("=") for item in done.stdout.split()[1:])
    assert done.stdout.startswith("bench ") and fields["batch"] == "512" and fields["threads"] == "1"
    assert 0 < float(fields["cells_per_second"]) <= float(fields["best_cells_per_second"])


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_version_1_file_runs_like_its_version_2_twin(examples, language, tmp_path) -> None:
    """Metadata in the layout of format version 1 (flat keys): same metadata printed, same numbers, same policy."""
    v2 = shared_onnx("softmax-mlp")
    v1 = to_version_1(v2, tmp_path / "v1.onnx")
    x = cells_inside(v2, n=40)
    cells = write_cells(tmp_path / "cells.csv", x)
    outputs = {}
    for model in (v1, v2):
        done = run_example(examples, language, model, cells, tmp_path / f"{model.stem}.csv")
        assert done.returncode == 0, done.stderr
        outputs[model] = read_outputs(tmp_path / f"{model.stem}.csv")
    np.testing.assert_array_equal(outputs[v1], outputs[v2])
    assert_same_numbers(outputs[v1], onnxruntime_reference(v2, x))
    if language == "c":
        printed = [run_tool(program(examples, "c"), m, "--generate", 1).stdout.splitlines()[1:] for m in (v1, v2)]
        assert printed[0] == printed[1] and any("chi" in line and "1/s" in line for line in printed[0])
    refused = run_example(examples, language, v1, write_cells(tmp_path / "out.csv", out_of_range_cells(v1)),
                          tmp_path / "never.csv")
    assert refused.returncode == 1 and "2 of 3 cells outside the trained range" in refused.stderr


def test_a_field_model_runs_with_one_range_for_every_grid_value(examples, tmp_path) -> None:
    """A time-stepper state [batch, 6] of field u: columns u[0] .. u[5], each with u's range [-1, 2]."""
    model = shared_stepper()
    names = [f"u[{i}]" for i in range(GRID)]
    x = np.random.default_rng(5).uniform(-1, 2, (30, GRID)).astype(np.float32)
    x[3, 4] = 2.5
    done = run_example(examples, "c", model, write_cells(tmp_path / "cells.csv", x, names), tmp_path / "out.csv",
                       "clip")
    assert done.returncode == 0, done.stderr
    assert "ran 30 cells: 1 outside the trained range (clipped)" in done.stdout
    y = read_outputs(tmp_path / "out.csv", [f"dudt[{i}]" for i in range(GRID)])
    assert_same_numbers(y, onnxruntime_reference(model, np.clip(x, -1, 2)))
    shown = run_tool(program(examples, "c"), model, "--generate", 1).stdout
    assert re.search(r"u\[5\]\s+\[-1, 2\] 1\n", shown) and re.search(r"dudt\[0\]\s+1/s", shown), shown


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_model_with_two_input_tensors_is_refused_with_a_clear_message(examples, language, tmp_path) -> None:
    model = shared_decoder()
    cells = write_cells(tmp_path / "cells.csv", np.zeros((1, 2), dtype=np.float32), ["Z", "chi"])
    done = run_example(examples, language, model, cells, tmp_path / "out.csv")
    assert done.returncode == 1 and not (tmp_path / "out.csv").exists()
    assert (f"{model}: this wrapper evaluates models with one input and one output tensor; this one takes 2 "
            "(condition, latent) and returns 1 (species): call ONNX Runtime directly or use the Python runtime's "
            "Surrogate.run") in done.stderr


@pytest.mark.parametrize("forgery", FORGERIES, ids=[f[0] for f in FORGERIES])
def test_forged_signatures_are_refused_with_one_line(examples, forgery, tmp_path) -> None:
    name, edit, _, message = forgery
    forged = forge_signature(shared_onnx("softmax-mlp"), tmp_path / f"{name}.onnx", edit)
    done = run_tool(program(examples, "c"), forged, "--generate", 1)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"example_c: error: {forged}: metadata 'signature' is not valid: "
                                                f"{message}"]


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["bounds"].update(T=m["bounds"]["C"]), "'bounds' names 'T', which is not an input column"),
    (lambda m: m["edges"].reverse(), "'edges' must be at least 2 increasing numbers"),
])
def test_forged_manifold_bounds_are_refused_alike_by_c_and_python(examples, edit, message, tmp_path) -> None:
    import json

    from export.metadata import ModelFileError, read_model_file
    from test_export_runs import rewrite_metadata

    def forge(metadata: dict[str, str]) -> None:
        manifold = json.loads(metadata["manifold"])
        edit(manifold)
        metadata["manifold"] = json.dumps(manifold)

    forged = rewrite_metadata(shared_onnx("softmax-mlp"), tmp_path / "forged.onnx", forge)
    done = run_tool(program(examples, "c"), forged, "--generate", 1)
    line = f"{forged}: metadata 'manifold' is not valid: {message}"
    assert done.returncode == 1 and done.stderr.strip() == f"example_c: error: {line}"
    with pytest.raises(ModelFileError, match=re.escape(line)):
        read_model_file(forged)


@pytest.mark.parametrize("language", ["c", "cpp", "fortran"])
def test_examples_report_counters_and_agree_in_double_precision(examples, language, tmp_path) -> None:
    """The C++ and Fortran examples rerun the cells in double precision (per field in C++) and stop on any
    difference; all three print the handle's counters: 2 of 3 cells out of range per call."""
    model = shared_onnx("softmax-mlp")
    done = run_example(examples, language, model, write_cells(tmp_path / "cells.csv", out_of_range_cells(model)),
                       tmp_path / "out.csv", "clip")
    assert done.returncode == 0, done.stderr
    calls = 1 if language == "c" else 2
    assert f"counters: calls={calls} cells={3 * calls} out_of_range={2 * calls} off_manifold=0" in done.stdout


@pytest.mark.parametrize("language", LANGUAGES)
def test_examples_evaluate_a_table_backend_file_with_the_numbers_of_c(examples, language, tmp_path) -> None:
    """The table-backend file of a small H2 table (tests/test_c_api.py): each program says it runs the table,
    evaluates 202 cells inside C_min(Z)..C_max(Z) (the pure streams first) with nothing out of range, gives the
    numbers of the C example bitwise (float32) and of the Python runtime to 1e-5 of each output's scale, and its
    double-precision rerun (C++, Fortran) rounds to the same floats."""
    from export.metadata import read_model_file
    from export.runtime import Surrogate
    from test_c_api import shared_table_model, table_cells

    model = shared_table_model()
    names = read_model_file(model)[1].output_names
    x = table_cells(model, n=200)
    cells = write_cells(tmp_path / "cells.csv", x, ["Z", "C"])
    outputs = {}
    for lang in dict.fromkeys(("c", language)):
        done = run_example(examples, lang, model, cells, tmp_path / f"{lang}.csv")
        assert done.returncode == 0, done.stderr
        assert re.search(r"backend\s+table", done.stdout) and "ran 202 cells: 0 outside the trained range" in done.stdout
        outputs[lang] = read_outputs(tmp_path / f"{lang}.csv", names).astype(np.float32)
    np.testing.assert_array_equal(outputs[language], outputs["c"])
    reference = Surrogate(model, provider="cpu", threads=1, policy="error")(x)
    assert np.all(np.abs(outputs[language] - reference) <= 1e-5 * np.abs(reference).max(axis=0))


def test_bench_infer_times_the_table_backend_against_the_network(examples, tmp_path) -> None:
    """`surrogate bench infer --table-model`: the table file through the C example (the wrapper's compiled lookup)
    and the network through the same example, in one run, with table / network at every batch size."""
    from export.benchmarks.inference import run_benchmark
    from test_c_api import shared_table_model

    report = run_benchmark(run_dir=None, model=shared_onnx("softmax-mlp"), table=None, batches=[1, 64], threads=1,
                           min_time=0.01, c_bench=program(examples, "c"), scratch=tmp_path, echo=lambda line: None,
                           table_model=shared_table_model())
    rates = report.backend_rates()
    assert report.backends[0].startswith("table backend, C API compiled lookup")
    assert report.backends[1].startswith("ONNX Runtime C API")
    assert set(rates) == {1, 64} and all(r["table"] > 0 and r["network"] > 0 for r in rates.values())
    assert any("table / network" in line for line in report.lines())
    assert set(report.to_dict()["table_vs_network"]) == {"1", "64"}


def test_bench_infer_states_the_crossover_against_compiled_lookups_and_the_wrapper_against_raw(examples,
                                                                                                tmp_path) -> None:
    """`surrogate bench infer --grid-sizes`: bench_lookup (found beside --c-bench) times the network (wrapper and raw
    session), the 2-D table backend and a real 4-D presumed-PDF grid and its 5-D enlargement in one run; the report
    gives every table its crossover, its bytes over the ONNX file's, and the wrapper over the raw session."""
    from export.benchmarks.inference import run_benchmark
    from test_c_api import shared_presumed_pdf, shared_table_model

    model = shared_onnx("softmax-mlp")
    report = run_benchmark(run_dir=None, model=model, table=None, batches=[1, 4096], threads=1, min_time=0.01,
                           c_bench=program(examples, "c"), scratch=tmp_path, echo=lambda line: None,
                           table_model=shared_table_model(), grid_table=shared_presumed_pdf(),
                           grid_sizes=[(4, 0.0), (5, 1e7)])
    lookup = report.to_dict()["lookup"]
    assert set(lookup["cells_per_second"]) == {"wrapper", "raw", "table", "grid0", "grid1"}
    assert all(set(rates) == {"1", "4096"} and all(r["best"] >= r["median"] > 0 for r in rates.values())
               for rates in lookup["cells_per_second"].values())
    table, grid4, grid5 = lookup["crossover"]
    assert table["table"] == "2-D (Z, Lambda) table backend" and grid4["origin"].startswith("as built")
    assert grid4["table"] == "4-D presumed-PDF grid 21x6x21x4" and grid5["origin"].startswith("synthetic")
    assert 0.5e7 < grid5["table_bytes"] <= 1e7 + 1e5
    assert grid5["table_over_model"] == pytest.approx(grid5["table_bytes"] / model.stat().st_size)
    for entry in lookup["crossover"]:
        assert set(entry["network_over_table"]) == {"1", "4096"}
        assert entry["crossover_batch"] in (None, 1, 4096)
    assert lookup["size_crossover"]["table"] in (None, *(entry["table"] for entry in lookup["crossover"]))
    assert set(lookup["wrapper"]) >= {"over_raw_mean", "over_raw_median", "over_raw_best", "of_flop_limit_best",
                                      "raw_of_flop_limit_best"}
    profile = report.to_dict()["profile"]  # where a call's time goes, from ONNX Runtime's profiler
    assert profile["batch"] == 4096 and 0 < profile["linear_share"] < 1 and "Softmax" in profile["seconds_per_call"]
    assert any(line.startswith("crossover, 4-D presumed-PDF grid 21x6x21x4: ") for line in report.lines())


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_thread_count_out_of_range_is_one_line_from_every_language(examples, language, tmp_path) -> None:
    """1000000 threads made ONNX Runtime start them all (memory grew, the program never returned: the timeout fails
    this test): the wrapper refuses it at once, each binding passes its one line on (C++ with the status), nothing
    is written."""
    cpus = os.cpu_count() or 1
    cells = write_cells(tmp_path / "cells.csv", in_range_points(5))
    exe, model, out = program(examples, language), shared_onnx("softmax-mlp"), tmp_path / "out.csv"
    args = (["--input", cells, "--output", out, "--threads", 1000000] if language == "c"
            else [cells, out, "clip", 1000000])
    done = run_tool(exe, model, *args)
    errors = [line for line in done.stderr.splitlines() if line.startswith(f"example_{language}: error: ")]
    call = "surrogate_create" if language == "c" else "surrogate_open"
    assert done.returncode == 1 and errors == [
        f"example_{language}: error: {call}: n_threads = 1000000 is out of range; expected SURROGATE_THREADS_AUTO "
        f"(-1), 0 (ONNX Runtime's choice) or 1..{4 * cpus} (4 per CPU of this machine's {cpus})"
        + (" [bad argument]" if language == "cpp" else "")], done.stderr
    assert not out.exists()


FORTRAN_CREATE = """
program create_status
    use surrogate_ort
    implicit none
    type(surrogate_model) :: model
    character(len=:), allocatable :: errmsg
    character(len=4096) :: path
    integer :: status
    call get_command_argument(1, path)
    call model%create('/nonexistent/model.onnx', 1, SURROGATE_RANGE_CLIP, status, errmsg)
    print '(a, i0)', 'missing_status=', status
    call model%create(trim(path), 1000000, SURROGATE_RANGE_CLIP, status, errmsg)
    print '(a, i0)', 'threads_status=', status
    print '(2a)', 'threads_message=', errmsg
    call model%create(trim(path), 1, SURROGATE_RANGE_CLIP, status, errmsg)
    print '(a, i0)', 'ok_status=', status
    call model%destroy()
end program create_status
"""


def test_fortran_create_gives_the_status_of_its_failure(examples, tmp_path) -> None:
    """model%create said SURROGATE_ERR_ARGUMENT for every failure (a missing file too); it now opens through
    surrogate_open and gives the wrapper's status: SURROGATE_ERR_FILE for a missing file, SURROGATE_ERR_ARGUMENT
    with the one-line reason for a thread count out of range."""
    build = program(examples, "fortran").parent
    cache = (build / "CMakeCache.txt").read_text()
    compiler = re.search(r"^CMAKE_Fortran_COMPILER:\w+=(.+)$", cache, re.M).group(1)
    ort = Path(re.search(r"^ONNXRUNTIME_LIBRARY:FILEPATH=(.+)$", cache, re.M).group(1))
    (tmp_path / "create.f90").write_text(FORTRAN_CREATE)
    compiled = run_tool(compiler, "-J", tmp_path, C_DIR / "surrogate_ort.f90", tmp_path / "create.f90",
                        build / "libsurrogate_ort.a", ort, f"-Wl,-rpath,{ort.parent}", "-o", tmp_path / "create")
    assert compiled.returncode == 0, compiled.stderr
    done = run_tool(tmp_path / "create", shared_onnx("softmax-mlp"))
    assert done.returncode == 0, done.stderr
    result = dict(line.strip().split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert result["missing_status"] == "6" and result["threads_status"] == "1" and result["ok_status"] == "0"
    assert result["threads_message"].startswith("surrogate_open: n_threads = 1000000 is out of range; expected")
