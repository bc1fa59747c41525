"""The solver-grade C API of export/c/surrogate_ort, driven through export/c/tests/check_api.c: one handle shared
by OpenMP threads with clipping active gives the outputs of serial calls; float64, per-field, strided and
selected-output calls give the float32 call's numbers; a range policy per call, counters and manifold bounds
agree with the Python runtime; status codes, rank-aware threads and the global thread pool; the CUDA provider
(used where a GPU and onnxruntime-gpu exist, else refused with its status); and the install: a CMake package,
a pkg-config file and the ONNX Runtime library in the prefix, used by a solver-like program built against each.
The table backend: a small H2 flamelet table written as a table-backend file (export.table_model) is evaluated by
the wrapper's compiled lookup as the Python runtime evaluates its ONNX graph, gives the pure streams exactly, and
its linear manifold C_min(Z)..C_max(Z) counts and clips cells above C_max(Z) but never the streams.

Skipped, with the reason, where CMake, a C compiler or the ONNX Runtime headers are missing.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from test_export_runs import rewrite_metadata, shared_decoder, shared_onnx
from waits import HANG_S

C_DIR = Path(__file__).resolve().parents[1] / "export" / "c"


_TABLE_DIR = tempfile.TemporaryDirectory(prefix="table-backend-")


@functools.lru_cache(maxsize=None)
def shared_table_model() -> Path:
    """A small H2 flamelet table (SMALL_OPTIONS: a 41 x 21 (Z, Λ) grid, seconds to build) written as a
    table-backend ONNX file, once per test session (tests/test_solver_examples.py uses it too)."""
    from cantera_tables.flamelet_table import SMALL_OPTIONS
    from export.table_model import export_table
    from surrogate import registry

    root = Path(_TABLE_DIR.name)
    generator, options = registry.configure("tables", "h2-flamelet", dict(SMALL_OPTIONS))
    generator.build(root / "h2.h5", progress=False, **options)
    written = export_table(root / "h2.h5", root / "h2_table.onnx")
    return Path(getattr(written, "path", written))


def fpv_grid(model: Path) -> dict[str, np.ndarray]:
    """The metadata 'fpv_table' of a table-backend file decoded here (independently of export.table_model)."""
    import onnx

    entry = json.loads(next(p.value for p in onnx.load(str(model)).metadata_props if p.key == "fpv_table"))
    grid = {key: np.frombuffer(base64.b64decode(entry[key]), dtype="<f4")
            for key in ("Z", "Lambda", "C_min", "C_max", "values")}
    grid["values"] = grid["values"].reshape(entry["shape"])
    return grid


def linear_bounds(manifold: dict, column: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[lo, hi] of `column` at the float32 values `z` of the along column, by the linear form's rule (in double)."""
    nodes = np.asarray(manifold["edges"], dtype=np.float64)
    pairs = np.asarray(manifold["bounds"][column], dtype=np.float64)
    v = np.clip(np.asarray(z, dtype=np.float32).astype(np.float64), nodes[0], nodes[-1])
    k = np.clip(np.searchsorted(nodes, v, side="right") - 1, 0, len(nodes) - 2)
    t = (v - nodes[k]) / (nodes[k + 1] - nodes[k])
    return (pairs[k, 0] + t * (pairs[k + 1, 0] - pairs[k, 0]), pairs[k, 1] + t * (pairs[k + 1, 1] - pairs[k, 1]))


def run_tool(*args: object, env: dict[str, str | None] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess:
    """ARGS run with this environment and `env` on top (a None value removes that variable)."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=HANG_S,
                          env={key: value for key, value in merged.items() if value is not None}, cwd=cwd)


def fields(output: str) -> dict[str, str]:
    """The key=value lines check_api prints."""
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def ort_root() -> str:
    missing = [tool for tool in ("cmake", "cc") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install cmake build-essential)")
    fetch = run_tool("bash", C_DIR / "fetch_onnxruntime.sh", env={"PYTHON": sys.executable})
    if fetch.returncode != 0:
        pytest.skip(f"ONNX Runtime C headers could not be prepared: {fetch.stderr.strip().splitlines()[-1]}")
    return fetch.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def build(ort_root: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """export/c configured on its own (examples off) with check_api built."""
    build = tmp_path_factory.mktemp("c-api-build")
    configure = run_tool("cmake", "-S", C_DIR, "-B", build, f"-DONNXRUNTIME_ROOT={ort_root}",
                         "-DCMAKE_BUILD_TYPE=Release", "-DSURROGATE_BUILD_EXAMPLES=OFF")
    assert configure.returncode == 0, configure.stdout + configure.stderr
    compiled = run_tool("cmake", "--build", build, "--target", "check_api", "-j", os.cpu_count() or 1)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return build


def check_api(build: Path, *args: object, env: dict[str, str | None] | None = None) -> dict[str, str]:
    done = run_tool(build / "check_api", *args, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return {**fields(done.stdout), "stderr": done.stderr}


def test_one_handle_shared_by_openmp_threads_gives_the_serial_outputs(build) -> None:
    """64 slices of 200000 cells, a third of them clipped, run 3 times from 4 OpenMP threads on one handle: bitwise
    the serial slices' outputs (the wrapper before this test shared its clipping buffer between threads: 793 568
    of 2e7 values wrong in 20 such runs), each thread's message and count its own, the atomic counters exact."""
    result = check_api(build, "threads", shared_onnx("softmax-mlp"), 200000, 3, env={"OMP_NUM_THREADS": "4"})
    if result["threads"] == "1":
        pytest.skip("check_api was built without OpenMP")
    assert result["mismatched"] == "0" and result["max_error"] == "0" and result["failures"] == "0"
    assert result["cells"] == str(3 * 200000) and result["calls"] == str(3 * 64)
    assert int(result["out_of_range_cells"]) == int(result["clipped_seen"]) > 3 * 200000 // 3 - 10


def test_double_per_field_strided_and_selected_outputs_give_the_float_numbers(build) -> None:
    """40000 cells (more than two chunks of the column path) with clipping: every layout, the same float32 results."""
    result = check_api(build, "arrays", shared_onnx("softmax-mlp"), 40000)
    assert result["double_rows_differ"] == "0" and result["fields_differ"] == "0"
    assert result["strided_differ"] == "0" and result["skipped_output_touched"] == "0"
    assert int(result["out_of_range"]) > 13000  # every third cell pushed outside: clipped in every layout


def test_policy_per_call_counters_and_manifold_agree_with_python(build) -> None:
    """A cell inside the box but above C_max of its Z bin: refused under a per-call 'error', evaluated silently under
    'count', warned once (not per call) under 'warn', clipped under the handle's 'clip'; the counters add up, and the
    Python runtime flags the same cell with the same bound."""
    from export.runtime import OutOfRangeError, Surrogate

    model = shared_onnx("softmax-mlp")
    result = check_api(build, "policy", model)
    assert result["error_status"] == "3" and result["status_text"] == "input out of range"
    match = re.search(r"cell 1: input '(\w+)' = (\S+) is off the trained manifold: \[(\S+), (\S+)\] at Z = (\S+)",
                      result["error_message"])
    assert match, result["error_message"]
    assert result["count_status"] == result["clip_status"] == "0" and result["warn_status"] == "0,0"
    assert result["stderr"].count("surrogate: warning:") == 1
    assert (result["calls"], result["cells"], result["off_manifold_cells"], result["refused_calls"]) == ("5", "12", "5", "1")
    column, value, _, upper, z = match.groups()
    surrogate = Surrogate(model, provider="cpu", threads=1, policy="clip")
    lo, hi = surrogate.info.input_ranges["chi"]
    cell = np.array([[float(z), float(value), np.sqrt(max(lo, 1e-3) * hi)]], dtype=np.float32)
    assert column == "C"
    with pytest.raises(OutOfRangeError, match=rf"off the trained manifold: first cell 0: C = .* outside \[.*, "
                                              rf"{float(upper):.4g}\] at Z = "):
        surrogate(cell, policy="error")
    clipped = surrogate(cell)
    on_bound = cell.copy()
    on_bound[0, 1] = np.float32(float(upper))
    np.testing.assert_array_equal(clipped, surrogate(on_bound))
    assert surrogate.counters.off_manifold_cells == 2 and surrogate.counters.refused_calls == 1


def test_status_codes_rank_aware_threads_and_global_thread_pool(build) -> None:
    """Two MPI ranks on this node share its CPUs; handles on one global pool give the per-handle numbers; a global
    pool asked for after a per-handle one is a status, not a crash; a missing file and a decoder are told apart."""
    from export.runtime import available_cpus

    result = check_api(build, "open", shared_onnx("softmax-mlp"), shared_decoder(),
                       env={"OMPI_COMM_WORLD_LOCAL_SIZE": "2", "OMP_NUM_THREADS": None})
    assert result["missing_status"] == "6" and "No such file" in result["missing_message"]
    assert result["decoder_status"] == "7"
    assert result["auto_threads"] == result["default_threads"] == str(max(1, available_cpus() // 2))
    assert result["global_threads"] == "-1,-1" and result["pool_outputs_equal"] == "1"
    assert result["late_pool_status"] == "9" and "global_thread_pool = 1" in result["late_pool_message"]


def test_a_thread_keeps_its_last_message_and_count_on_every_handle_it_uses(build) -> None:
    """One thread runs 12 handles, each clipping its own number of cells, then 4 OpenMP threads run all 12 with
    numbers of their own: every thread reads back its own message and count on every handle (the wrapper kept 8
    handles per thread, undocumented: after the 9th, handle 0's message and count were gone)."""
    result = check_api(build, "handles", shared_onnx("softmax-mlp"), 12, env={"OMP_NUM_THREADS": "4"})
    assert result["first_count"] == "1" and result["first_message"].startswith("1 of 16 cells clipped; first: cell 0")
    assert result["handles"] == "12" and result["forgotten"] == "0"
    assert result["thread_forgotten"] == "0", f"over {result['threads']} OpenMP threads"


def test_thread_counts_and_policies_out_of_range_are_refused_with_one_line_naming_the_call(build) -> None:
    """n_threads = 1000000 had ONNX Runtime start a million threads (memory grew, surrogate_open never returned: the
    timeout fails this test): now SURROGATE_ERR_ARGUMENT at once, one line naming the call, n_threads and the range
    (4 per CPU); a policy out of range and a NULL path alike; the largest count opens. OMP_NUM_THREADS beyond the
    range lowers the default to the largest count (its first entry counts: a list per nesting level)."""
    cpus = os.cpu_count() or 1
    result = check_api(build, "limits", shared_onnx("softmax-mlp"), env={"OMP_NUM_THREADS": "100000,2"})
    expected = (f"n_threads = 1000000 is out of range; expected SURROGATE_THREADS_AUTO (-1), 0 (ONNX Runtime's "
                f"choice) or 1..{4 * cpus} (4 per CPU of this machine's {cpus})")
    assert result["huge_status"] == "1" and result["huge_message"] == f"surrogate_open: {expected}"
    assert result["create_refused"] == "1" and result["create_message"] == f"surrogate_create: {expected}"
    assert result["negative_status"] == "1"
    assert result["negative_message"].startswith("surrogate_open: n_threads = -5 is out of range; expected")
    assert result["policy_status"] == "1" and result["policy_message"] == (
        "surrogate_open: range policy 9 is unknown; expected 0 (clip), 1 (warn), 2 (error) or 3 (count)")
    assert result["null_path_status"] == "1" and result["null_path_message"] == "surrogate_open: model_path is NULL"
    assert result["max_threads"] == result["max_handle_threads"] == result["default_threads"] == str(4 * cpus)
    assert result["max_status"] == "0"


def test_default_threads_follow_omp_num_threads_and_are_one_inside_an_openmp_region(build) -> None:
    """SURROGATE_THREADS_AUTO in order: 1 inside an OpenMP parallel region (a pool per OpenMP thread oversubscribes
    the cores), else OMP_NUM_THREADS (the wrapper ignored it), else the node's CPUs shared between MPI ranks."""
    from export.runtime import LOCAL_RANKS_ENV, WORLD_RANKS_ENV, available_cpus

    model = shared_onnx("softmax-mlp")
    no_mpi: dict[str, str | None] = {name: None for name in (*LOCAL_RANKS_ENV, *WORLD_RANKS_ENV)}
    result = check_api(build, "defaults", model, env={**no_mpi, "OMP_NUM_THREADS": "3"})
    assert result["outside_default"] == result["outside_handle_threads"] == "3"
    if result["in_region"] != "1":
        pytest.skip("check_api was built without OpenMP")
    assert result["inside_default"] == result["inside_handle_threads"] == "1"
    unset = check_api(build, "defaults", model, env={**no_mpi, "OMP_NUM_THREADS": None})
    assert unset["outside_default"] == unset["outside_handle_threads"] == str(available_cpus())
    assert unset["inside_default"] == "1"


@pytest.fixture(scope="module")
def fast_math_build(ort_root: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """check_api built with -Ofast, as solvers often are (fast-math lets a compiler fold isnan() to 0)."""
    build = tmp_path_factory.mktemp("c-api-fast-math")
    configure = run_tool("cmake", "-S", C_DIR, "-B", build, f"-DONNXRUNTIME_ROOT={ort_root}",
                         "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_C_FLAGS=-Ofast", "-DSURROGATE_BUILD_EXAMPLES=OFF")
    assert configure.returncode == 0, configure.stdout + configure.stderr
    compiled = run_tool("cmake", "--build", build, "--target", "check_api", "-j", os.cpu_count() or 1)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    return build


def test_nan_is_refused_with_its_message_also_in_a_fast_math_build(fast_math_build) -> None:
    """A NaN Z asked of surrogate_manifold_range and a NaN input of a run are refused (SURROGATE_ERR_ARGUMENT,
    SURROGATE_ERR_NAN) with a message saying so, in a build with -Ofast too (NaN is found from its bits)."""
    result = check_api(fast_math_build, "manifold", shared_onnx("softmax-mlp"), 0.3, 0.1)
    assert result["nan_status"] == "1" and result["nan_untouched"] == "1"
    assert result["nan_message"] == "surrogate_manifold_range: along is NaN; expected a value of input 'Z'"
    assert result["nan_cell_status"] == "2" and result["nan_cell_message"] == "input 'C' of cell 0 is NaN"


def test_cuda_provider_is_used_or_refused_with_its_status(build) -> None:
    result = check_api(build, "cuda", shared_onnx("softmax-mlp"))
    if result["cuda_status"] == "0":  # a GPU build of ONNX Runtime on a GPU machine
        assert result["uses_cuda"] == "1" and float(result["cuda_vs_cpu_rel"]) < 1e-4
    else:
        assert result["cuda_status"] == "8" and "CUDA execution provider is not available" in result["cuda_message"]


SOLVER = r"""
#include <stdio.h>
#include "surrogate_ort.h"
int main(int argc, char **argv) {
    char error[512]; int status;
    surrogate_model *m = surrogate_open(argv[1], NULL, &status, error, sizeof error);
    if (!m) { fprintf(stderr, "%d %s\n", status, error); return 1; }
    double z[2] = {0.0, 1.0}, c[2] = {0.0, 0.0}, chi[2] = {0.0, 0.0}, t[2];
    const double *in[3] = {z, c, chi};
    double *out[5] = {NULL, NULL, NULL, NULL, t};
    status = surrogate_run_fields(m, 2, in, out);
    surrogate_counters k; surrogate_get_counters(m, &k);
    printf("status=%d T=%.9g,%.9g out_of_range=%lld runtime=%s\n", status, t[0], t[1], (long long)k.out_of_range_cells,
           surrogate_runtime_version());
    surrogate_destroy(m);
    return status;
}
"""


def test_install_gives_a_cmake_package_pkg_config_and_a_private_onnxruntime(build, tmp_path) -> None:
    """`cmake --install` writes the library, headers, find_package and pkg-config files and a copy of ONNX Runtime;
    a solver built either way links that copy, not the Python wheel's; pure streams (Z = 0 and 1, χ = 0) are inside."""
    from export.runtime import Surrogate

    prefix = tmp_path / "prefix"
    installed = run_tool("cmake", "--install", build, "--prefix", prefix)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    libs = prefix / "lib"
    assert (libs / "libsurrogate_ort.a").is_file() and (prefix / "include/thermo_surrogate/surrogate_ort.h").is_file()
    real = [p for p in libs.glob("libonnxruntime.so.*") if not p.is_symlink()]
    assert len(real) == 1 and (libs / "libonnxruntime.so").resolve() == real[0].resolve()
    (tmp_path / "solver.c").write_text(SOLVER)
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.18)\nproject(solver C)\nfind_package(thermo_surrogate REQUIRED)\n"
        "add_executable(solver solver.c)\ntarget_link_libraries(solver PRIVATE thermo_surrogate::surrogate_ort)\n")
    configure = run_tool("cmake", "-S", tmp_path, "-B", tmp_path / "b", f"-DCMAKE_PREFIX_PATH={prefix}")
    assert configure.returncode == 0, configure.stdout + configure.stderr
    compiled = run_tool("cmake", "--build", tmp_path / "b")
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    programs = [tmp_path / "b" / "solver"]
    if shutil.which("pkg-config"):
        flags = run_tool("pkg-config", "--cflags", "--libs", "thermo_surrogate",
                         env={"PKG_CONFIG_PATH": str(libs / "pkgconfig")})
        assert flags.returncode == 0, flags.stderr
        cc = run_tool("cc", tmp_path / "solver.c", "-o", tmp_path / "solver_pc", *flags.stdout.split())
        assert cc.returncode == 0, cc.stderr
        programs.append(tmp_path / "solver_pc")
    model = shared_onnx("softmax-mlp")
    t_python = Surrogate(model, provider="cpu", threads=1, policy="error")(
        np.array([[0, 0, 0], [1, 0, 0]], dtype=np.float32))[:, 4]
    for program in programs:
        done = run_tool(program, model)
        assert done.returncode == 0, done.stderr
        assert f"T={t_python[0]:.9g},{t_python[1]:.9g} out_of_range=0" in done.stdout
        if shutil.which("ldd"):
            linked = run_tool("ldd", program).stdout
            assert f"{libs}/libonnxruntime.so" in linked, linked


def test_add_subdirectory_builds_only_the_library(ort_root, tmp_path) -> None:
    """A solver's CMake project that adds export/c gets the library (and the alias thermo_surrogate::surrogate_ort)
    without examples, checks or Fortran unless it asks for them."""
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.18)\nproject(solver C)\n"
        f"add_subdirectory({C_DIR} surrogate)\n"
        "add_library(solver_lib STATIC solver.c)\n"
        "target_link_libraries(solver_lib PRIVATE thermo_surrogate::surrogate_ort)\n")
    (tmp_path / "solver.c").write_text('#include "surrogate_ort.h"\nint f(void) { return surrogate_n_inputs(0); }\n')
    configure = run_tool("cmake", "-S", tmp_path, "-B", tmp_path / "b", f"-DONNXRUNTIME_ROOT={ort_root}")
    assert configure.returncode == 0, configure.stdout + configure.stderr
    targets = run_tool("cmake", "--build", tmp_path / "b", "--target", "help").stdout
    assert "surrogate_ort" in targets and "solver_lib" in targets
    assert not any(name in targets for name in ("example_c", "example_fortran", "check_api"))
    cache = (tmp_path / "b" / "CMakeCache.txt").read_text()
    assert "CMAKE_Fortran_COMPILER:" not in cache


# --- the table backend and the linear manifold ------------------------------------------------------------------


def table_cells(model: Path, n: int = 1000, seed: int = 4) -> np.ndarray:
    """The pure streams (Z = 0 and 1, C = 0), then `n` cells: Z uniform in [0, 0.2] (the flame) for half of them and
    in [0, 1] for the rest, C uniform in [C_min(Z), C_max(Z)] of the file's linear manifold; columns (Z, C)."""
    from export.metadata import read_model_file

    info = read_model_file(model)[1]
    assert info.input_names == ["Z", "C"]
    rng = np.random.default_rng(seed)
    z = np.concatenate([[0.0, 1.0], rng.uniform(0, 0.2, n // 2), rng.uniform(0, 1, n - n // 2)]).astype(np.float32)
    lo, hi = linear_bounds(json.loads(info.raw["manifold"]), "C", z)
    c = lo + rng.random(len(z)) * (hi - lo)
    c[:2] = 0.0
    return np.stack([z, c], axis=1).astype(np.float32)


def test_table_backend_compiled_lookup_equals_the_python_runtime_and_gives_the_exact_streams(build, tmp_path) -> None:
    """1002 cells inside the bounds: the wrapper's compiled lookup, and the file's ONNX graph through the wrapper
    (table_graph = 1), equal the Python runtime (which runs the graph) to 1e-5 of each output's scale; double
    outputs round to the float ones; Z = 0 and Z = 1 (C = 0) give the table's stream rows exactly: ΣY = 1, T = 300 K."""
    from export.runtime import Surrogate

    model = shared_table_model()
    x = table_cells(model)
    x.tofile(tmp_path / "cells.f32")
    result = check_api(build, "table", model, tmp_path / "cells.f32", tmp_path / "out")
    assert result["backend"] == result["graph_backend"] == "table"
    assert result["status"] == result["graph_status"] == result["double_status"] == "0", result["message"]
    assert result["out_of_range_cells"] == result["off_manifold_cells"] == "0"
    assert result["double_rounded_differ"] == "0"
    surrogate = Surrogate(model, provider="cpu", threads=1, policy="error")
    names = surrogate.info.output_names
    compiled, graph = (np.fromfile(tmp_path / f"out.{kind}.f32", dtype=np.float32).reshape(-1, len(names))
                       for kind in ("compiled", "graph"))
    reference = surrogate(x)
    scale = np.abs(reference).max(axis=0)
    for y in (compiled, graph):
        assert np.all(np.abs(y - reference) <= 1e-5 * scale), np.abs(y - reference).max(axis=0) / scale
    grid = fpv_grid(model)
    np.testing.assert_array_equal(compiled[0], grid["values"][0, 0])    # oxidiser: Z = 0
    np.testing.assert_array_equal(compiled[1], grid["values"][-1, 0])   # fuel: Z = 1
    species = [j for j, name in enumerate(names) if name.startswith("Y_")]
    assert species and "T" in names
    for row in compiled[:2]:
        assert abs(row[species].astype(np.float64).sum() - 1.0) <= 1e-6
        assert abs(float(row[names.index("T")]) - 300.0) <= 1e-3


def nodewise_lambda_lookup(grid: dict[str, np.ndarray], z: np.ndarray, c: np.ndarray, column: int) -> np.ndarray:
    """The other FPV scheme, for contrast: Λ formed at each of the two neighbouring Z nodes with that node's own
    C_min, C_max, interpolated in Λ there, then linearly in Z."""
    Z, Lambda, values = grid["Z"], grid["Lambda"], grid["values"][..., column]
    i = np.clip(np.searchsorted(Z, z, side="right") - 1, 0, len(Z) - 2)
    t = (z - Z[i]) / (Z[i + 1] - Z[i])

    def at_node(k: np.ndarray) -> np.ndarray:
        span = grid["C_max"][k] - grid["C_min"][k]
        lam = np.clip(np.divide(c - grid["C_min"][k], span, out=np.zeros_like(span), where=span > 1e-12), 0, 1)
        return np.array([np.interp(l, Lambda, values[n]) for l, n in zip(lam, k)])

    return (1 - t) * at_node(i) + t * at_node(i + 1)


def test_python_and_compiled_lookups_follow_the_one_fpv_scheme(build, tmp_path) -> None:
    """Λ formed at the cell's Z from C_min, C_max interpolated there, then bilinear in (Z, Λ): the compiled lookup
    in double equals the Python lookup of the table build (cantera_tables.structured.lookup) on the file's float32
    grid to 1e-10 of each output's scale, and the baseline lookup (surrogate.lookup.StructuredLookup) equals it on
    the source table; forming Λ at each neighbouring Z node instead moves T by kelvins."""
    import h5py

    from cantera_tables import structured
    from cantera_tables.checks import read_structured
    from surrogate.lookup import StructuredLookup

    model = shared_table_model()
    x = table_cells(model)
    x.tofile(tmp_path / "cells.f32")
    result = check_api(build, "table", model, tmp_path / "cells.f32", tmp_path / "out")
    assert result["double_status"] == "0" and result["off_manifold_cells"] == "0", result["message"]
    grid = {key: value.astype(np.float64) for key, value in fpv_grid(model).items()}
    grid["outputs"] = grid.pop("values")
    n_out = grid["outputs"].shape[2]
    compiled = np.fromfile(tmp_path / "out.double.f64", dtype=np.float64).reshape(-1, n_out)
    z, c = x[:, 0].astype(np.float64), x[:, 1].astype(np.float64)
    python = structured.lookup(grid, z, c, range(n_out))
    scale = np.abs(python).max(axis=0)
    assert np.all(np.abs(compiled - python) <= 1e-10 * scale), (np.abs(compiled - python).max(axis=0) / scale)
    with h5py.File(model.with_name("h2.h5"), "r") as h5:
        table = read_structured(h5["structured"])
        source = StructuredLookup(model.with_name("h2.h5"), json.loads(h5["structured/outputs"].attrs["order"]))
    np.testing.assert_allclose(source(z, c), structured.lookup(table, z, c, range(n_out)), rtol=0,
                               atol=1e-12 * float(np.abs(table["outputs"]).max()))
    T = source.output_names.index("T")
    other = nodewise_lambda_lookup({**grid, "values": grid["outputs"]}, z, c, T)
    assert np.abs(other - python[:, T]).max() > 1.0


def test_linear_manifold_counts_a_cell_above_c_max_and_clips_it_onto_c_max_but_never_the_streams(build) -> None:
    """At Z = 0.5 a cell with C inside the box but above C_max(Z) (interpolated between the table's Z nodes) is
    counted off the manifold and clipped onto C_max(Z) exactly (a cell given on the bound: the same outputs, not
    flagged); Z = 0 and Z = 1 with C = 0 are not flagged under the error policy; a NaN Z is refused by
    surrogate_manifold_range. The Python runtime counts the same cell and none of the streams."""
    from export.metadata import read_model_file
    from export.runtime import Surrogate

    model = shared_table_model()
    info = read_model_file(model)[1]
    manifold = json.loads(info.raw["manifold"])
    assert manifold["interpolation"] == "linear" and manifold["along"] == "Z"
    z = np.float32(0.5)
    lo, hi = (float(b[0]) for b in linear_bounds(manifold, "C", [z]))
    box_hi = info.input_ranges["C"][1]
    assert hi < 0.9 * box_hi
    c = np.float32(hi + 0.5 * (box_hi - hi))
    result = check_api(build, "manifold", model, f"{z:.9g}", f"{c:.9g}")
    c_lo, c_hi = map(float, result["C_range"].split(","))
    assert abs(c_lo - lo) <= 1e-12 * box_hi and abs(c_hi - hi) <= 1e-12 * box_hi
    assert result["count_status"] == result["clip_status"] == result["bound_status"] == "0"
    assert result["counted_cells"] == "1" and "is off the trained manifold" in result["clip_message"]
    assert result["bound_C"] == f"{np.float32(hi):.9g}" and result["bound_cells"] == "0"
    assert result["clipped_equals_bound"] == "1"
    assert result["streams_status"] == "0" and result["streams_flagged"] == "0", result["streams_message"]
    assert result["nan_status"] == "1" and result["nan_untouched"] == "1"
    assert result["nan_message"] == "surrogate_manifold_range: along is NaN; expected a value of input 'Z'"
    assert result["nan_cell_status"] == "2" and result["nan_cell_message"] == "input 'C' of cell 0 is NaN"
    surrogate = Surrogate(model, provider="cpu", threads=1, policy="count")
    surrogate(np.array([[z, c], [0, 0], [1, 0]], dtype=np.float32))
    assert surrogate.counters.off_manifold_cells == 1 and surrogate.counters.out_of_range_cells == 0


def test_linear_manifold_on_a_network_file_is_read_alike_by_c_and_python(build, tmp_path) -> None:
    """The network fixture's bins rewritten as a linear form (a node per edge): C's interpolated bounds are the
    rule's; a cell above C_max(Z) is counted and clipped onto it; the Python runtime agrees on the count."""
    from export.runtime import Surrogate

    def to_linear(metadata: dict[str, str]) -> None:
        bins = json.loads(metadata["manifold"])
        bounds = {name: pairs + pairs[-1:] for name, pairs in bins["bounds"].items()}  # K bins -> K + 1 nodes
        metadata["manifold"] = json.dumps({"along": bins["along"], "interpolation": "linear", "edges": bins["edges"],
                                           "bounds": bounds})

    model = rewrite_metadata(shared_onnx("softmax-mlp"), tmp_path / "linear.onnx", to_linear)
    manifold = json.loads(Surrogate(model, provider="cpu").info.raw["manifold"])
    z = np.float32(0.31)
    lo, hi = (float(b[0]) for b in linear_bounds(manifold, "C", [z]))
    c = np.float32(hi + 0.01)
    result = check_api(build, "manifold", model, f"{z:.9g}", f"{c:.9g}")
    c_lo, c_hi = map(float, result["C_range"].split(","))
    assert (c_lo, c_hi) == pytest.approx((lo, hi), rel=1e-12, abs=1e-15)
    assert result["backend"] == "network" and result["counted_cells"] == "1"
    assert result["clipped_equals_bound"] == "1" and result["bound_cells"] == "0"
    surrogate = Surrogate(model, provider="cpu", threads=1, policy="count")
    chi_lo, chi_hi = linear_bounds(manifold, "chi", [z])
    surrogate(np.array([[z, c, np.sqrt(max(chi_lo[0], 1e-3) * chi_hi[0])]], dtype=np.float32))
    assert surrogate.counters.off_manifold_cells == 1


def test_table_backend_shared_by_openmp_threads_gives_the_serial_outputs(build) -> None:
    result = check_api(build, "threads", shared_table_model(), 200000, 2, env={"OMP_NUM_THREADS": "4"})
    if result["threads"] == "1":
        pytest.skip("check_api was built without OpenMP")
    assert result["mismatched"] == "0" and result["failures"] == "0" and result["cells"] == str(2 * 200000)


def _forge_table(key: str, change: Callable[[dict], None]) -> Callable[[dict[str, str]], None]:
    """An edit of rewrite_metadata: the JSON entry `key` through `change`."""
    def forge(metadata: dict[str, str]) -> None:
        entry = json.loads(metadata[key])
        change(entry)
        metadata[key] = json.dumps(entry)
    return forge


def _truncate_values(entry: dict) -> None:
    entry["values"] = base64.b64encode(base64.b64decode(entry["values"])[:-8]).decode()


def _shift_z(entry: dict) -> None:
    z = np.frombuffer(base64.b64decode(entry["Z"]), dtype="<f4").copy()
    z[0] = 0.001
    entry["Z"] = base64.b64encode(z.tobytes()).decode()


def _add_chi(signature: dict) -> None:
    components = signature["inputs"][0]["components"]
    components.append({"name": "chi", "units": "1/s", "range": [0.0, 100.0]})
    signature["inputs"][0]["shape"][-1] = len(components)


@pytest.mark.parametrize("key, change, message", [
    ("fpv_table", lambda e: e["shape"].__setitem__(2, e["shape"][2] + 1), r"'shape' has \d+ outputs, the model \d+"),
    ("fpv_table", _truncate_values, r"'values' holds \d+ float32 values, the shape asks for \d+"),
    ("fpv_table", _shift_z, "'Z' must increase strictly from 0 to 1"),
    ("fpv_table", lambda e: e.update(dtype="<f8"), "'dtype' is '<f8', expected \"<f4\""),
    ("signature", _add_chi, "the model's inputs must be exactly the columns Z and C, not 3 columns"),
], ids=["outputs", "truncated", "z-axis", "dtype", "three-inputs"])
def test_a_flawed_table_file_is_a_model_error_with_one_line(build, key, change, message, tmp_path) -> None:
    forged = rewrite_metadata(shared_table_model(), tmp_path / "forged.onnx", _forge_table(key, change))
    result = check_api(build, "status", forged)
    assert result["open_status"] == "7" and result["backend"] == "network"
    assert re.fullmatch(re.escape(f"{forged}: metadata 'fpv_table' is not valid: ") + message,
                        result["open_message"]), result["open_message"]


def test_table_backend_and_linear_manifold_leak_nothing_under_valgrind(build, tmp_path) -> None:
    """The table, manifold and handles modes under valgrind: no invalid access, no uninitialised value and nothing
    lost in the wrapper (the per-thread records of the handles are freed with them; ONNX Runtime's own overlapping
    self-copies of a few bytes at start-up are its own, not counted)."""
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed (apt-get install valgrind)")
    model = shared_table_model()
    table_cells(model, n=200).tofile(tmp_path / "cells.f32")
    for args in (("table", model, tmp_path / "cells.f32", tmp_path / "out"), ("manifold", model, 0.5, 0.3),
                 ("handles", model, 3)):
        done = run_tool("valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect", build / "check_api",
                        *args, env={"OMP_NUM_THREADS": "1"})
        assert done.returncode == 0, done.stderr[-3000:]
        for problem in ("Invalid read", "Invalid write", "uninitialised", "Invalid free", "Mismatched free"):
            assert problem not in done.stderr, done.stderr[-3000:]
        lost = re.findall(r"(definitely|indirectly) lost: ([\d,]+) bytes", done.stderr)
        assert all(count == "0" for _, count in lost), done.stderr[-3000:]


@functools.lru_cache(maxsize=None)
def shared_presumed_pdf() -> Path:
    """A small real 4-D presumed-PDF table (β PDFs of Z and Λ, 21 x 6 x 21 x 4 nodes, under a second to integrate)
    from the flamelet table of shared_table_model()."""
    from surrogate import registry

    shared_table_model()
    root = Path(_TABLE_DIR.name)
    generator, options = registry.configure("tables", "presumed-pdf", {
        "source": str(root / "h2.h5"), "n_Z_mean": 21, "n_S": 6, "lambda_pdf": "beta", "n_S_Lambda": 4,
        "mc_check": 0})
    generator.build(root / "pdf.h5", progress=False, **options)
    return root / "pdf.h5"


def grid_lookup(build: Path, grid_file: Path, x: np.ndarray, out: Path) -> tuple[dict[str, str], np.ndarray]:
    """check_api's N-D lookup of `grid_file` at the float64 points `x`: its fields and outputs [n][n_outputs]."""
    x.astype(np.float64).tofile(out.with_suffix(".points"))
    result = check_api(build, "grid", grid_file, out.with_suffix(".points"), out)
    return result, np.fromfile(out.with_suffix(".f64"), dtype=np.float64).reshape(len(x), -1)


def test_compiled_nd_lookup_equals_scipy_on_real_and_enlarged_presumed_pdf_grids(build, tmp_path) -> None:
    """The C multilinear lookup (surrogate_grid.c) of a real 4-D presumed-PDF table, and of that table enlarged to
    5-D (segments split, a fifth axis repeating it), equals SciPy's RegularGridInterpolator on the same grid to
    1e-12 of each output's scale, at 3000 points drawn 10 % beyond the box on every side (clamped onto it); the
    enlarged grid returns the small table's interpolant (to float32 rounding of the stored values), whatever the
    fifth input."""
    from scipy.interpolate import RegularGridInterpolator

    from export.benchmarks.grid_file import enlarge, read_grid, write_grid

    base = read_grid(shared_presumed_pdf())
    assert base.names == ["Z_mean", "Z_var_norm", "Lambda_mean", "Lambda_var_norm"] and "T" in base.outputs
    rng = np.random.default_rng(3)
    for dims, target in ((4, 0.0), (5, 2.5e7)):
        grid = enlarge(base, dims, target)
        assert len(grid.axes) == dims and (target == 0 or 0.5 * target < grid.values.nbytes <= target)
        path = write_grid(grid, tmp_path / f"grid{dims}.bin")
        lo, hi = np.array([a[0] for a in grid.axes]), np.array([a[-1] for a in grid.axes])
        x = rng.uniform(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo), (3000, dims))
        result, y = grid_lookup(build, path, x, tmp_path / f"out{dims}")
        assert (result["dims"], result["outputs"], result["bytes"]) == (str(dims), str(len(base.outputs)),
                                                                       str(grid.nbytes))
        inside = np.clip(x, lo, hi)
        reference = RegularGridInterpolator(tuple(grid.axes), grid.values.astype(np.float64))(inside)
        scale = np.abs(reference).max(axis=0)
        assert np.all(np.abs(y - reference) <= 1e-12 * scale), (np.abs(y - reference) / scale).max()
        small = RegularGridInterpolator(tuple(base.axes), base.values.astype(np.float64))(inside[:, :4])
        assert np.all(np.abs(y - small) <= 2e-6 * scale), (np.abs(y - small) / scale).max()


def test_a_truncated_or_foreign_grid_file_is_refused_with_one_line(build, tmp_path) -> None:
    from export.benchmarks.grid_file import read_grid, write_grid

    path = write_grid(read_grid(shared_presumed_pdf()), tmp_path / "grid.bin")
    data = path.read_bytes()
    (tmp_path / "short.bin").write_bytes(data[:-4])
    (tmp_path / "foreign.bin").write_bytes(b"PK\x03\x04" + data)
    points = tmp_path / "p.points"
    np.zeros((1, 4)).tofile(points)
    expected = {"short.bin": "the file ends inside the values (truncated?)",
                "foreign.bin": "not a grid file (the header does not start with 'thermo-surrogate-grid 1 D')"}
    for name, message in expected.items():
        result = check_api(build, "grid", tmp_path / name, points, tmp_path / "out")
        assert result["problem"] == f"{tmp_path / name}: {message}"
