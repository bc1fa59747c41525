"""The solver-grade C API of export/c/surrogate_ort, driven through export/c/tests/check_api.c: one handle shared
by OpenMP threads with clipping active gives the outputs of serial calls; float64, per-field, strided and
selected-output calls give the float32 call's numbers; a range policy per call, counters and manifold bounds
agree with the Python runtime; status codes, rank-aware threads and the global thread pool; the CUDA provider
(used where a GPU and onnxruntime-gpu exist, else refused with its status); and the install: a CMake package,
a pkg-config file and the ONNX Runtime library in the prefix, used by a solver-like program built against each.

Skipped, with the reason, where CMake, a C compiler or the ONNX Runtime headers are missing.
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

from test_export_runs import shared_decoder, shared_onnx

C_DIR = Path(__file__).resolve().parents[1] / "export" / "c"


def run_tool(*args: object, env: dict[str, str] | None = None, timeout: float = 300,
             cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd)


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


def check_api(build: Path, *args: object, env: dict[str, str] | None = None) -> dict[str, str]:
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
                       env={"OMPI_COMM_WORLD_LOCAL_SIZE": "2"})
    assert result["missing_status"] == "6" and "No such file" in result["missing_message"]
    assert result["decoder_status"] == "7"
    assert result["auto_threads"] == result["default_threads"] == str(max(1, available_cpus() // 2))
    assert result["global_threads"] == "-1,-1" and result["pool_outputs_equal"] == "1"
    assert result["late_pool_status"] == "9" and "global_thread_pool = 1" in result["late_pool_message"]


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
