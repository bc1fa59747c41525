"""Assemble and run the planar H2/air jet flame in Code_Saturne with an exported surrogate.

Three steps, each one function:
- :func:`build_wrapper` builds the toolkit's C wrapper (``export/c``, CMake target ``surrogate_ort``) against the
  ONNX Runtime tree of ``export/c/fetch_onnxruntime.sh`` and returns the flags Code_Saturne compiles and links
  the case's user routines with;
- :func:`assemble_case` writes a Code_Saturne case folder: ``SRC/`` (the user routines in this package's
  ``SRC``), ``DATA/`` (``cs_user_scripts.py``, the model as ``model.onnx``, ``surrogate_flame.cfg`` with the
  :class:`FlameSettings`, ``surrogate_build.json`` with the mesh and the flags), ``MESH/jet.msh``;
- :func:`run_case` runs ``code_saturne run`` on one process and returns the result folder (``RESU/<id>``),
  which holds ``fields.csv`` (every cell's inputs and surrogate outputs at the last step) and ``timing.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from surrogate.atomic import atomic_path, write_json
from surrogate.errors import UserError

from .mesh import JetGeometry, write_mesh

HERE = Path(__file__).resolve().parent
C_DIR = HERE.parents[1] / "c"
CONFIG = "surrogate_flame.cfg"
BUILD = "surrogate_build.json"


@dataclass(frozen=True)
class FlameSettings:
    """The keys of ``surrogate_flame.cfg`` (read by SRC/surrogate_flame.c; units SI).

    Constant density is one-way coupling: the flow does not feel the flame, the surrogate gives T, Y_k and
    omega_C (the source of C). ``variable_density = 1`` feeds the surrogate's ideal-gas density back
    (under-relaxed by ``rho_relax``); a model with an output ``rho`` gives that density (the table's own definition).
    ``steady_tolerance`` > 0 stops the run once T changes by at most that many kelvin over ``steady_interval``
    steps (``n_steps`` is then the most it runs). ``average_steps`` > 0 runs all ``n_steps`` and writes the cell
    values averaged over the last ``average_steps`` steps to ``fields_mean.csv``, with the largest difference of
    T between the means of the window's two halves (``mean_T_drift`` in timing.json). The default inflow is over-ventilated: air 2 m/s over 22 mm
    against fuel 0.5 m/s over 2 mm carries 44 times the fuel's volume, 1.3 times the stoichiometric need at equal
    densities. Schmidt number 1: rho D of Z and C is ``mu0`` (Code_Saturne's default
    scalar diffusivity), chi = 2 (mu0 / rho) |grad Z|^2. ``mu0`` defaults to a kinematic viscosity of
    1e-4 m^2/s (air's diffusivities near 1000 K) at 300 K air's density ``rho0``.
    """

    n_steps: int = 300
    dt: float = 1e-4
    u_fuel: float = 0.5
    u_air: float = 2.0
    slot_half_width: float = 1e-3
    rho0: float = 1.18
    mu0: float = 1e-4 * 1.18
    pressure: float = 101325.0
    c_init: float = 0.8
    variable_density: int = 0
    rho_relax: float = 1.0
    n_threads: int = 1
    policy: str = "clip"
    steady_tolerance: float = 0.0
    steady_interval: int = 100
    average_steps: int = 0

    def text(self) -> str:
        return "".join(f"{f.name} = {getattr(self, f.name)}\n" for f in fields(self))


@dataclass(frozen=True)
class WrapperBuild:
    """How Code_Saturne compiles the user routines against the wrapper: include flags and link line."""

    cflags: str
    libs: str


def code_saturne() -> str | None:
    """The ``code_saturne`` command, or None when Code_Saturne is not installed."""
    return shutil.which("code_saturne")


def _run(command: list[str], what: str, timeout: float, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise UserError(f"{what} failed (exit {done.returncode}): {' '.join(command)}\n{tail}")
    return done.stdout


def build_wrapper(build_dir: Path, source_dir: Path = C_DIR) -> WrapperBuild:
    """Build the static C wrapper of SOURCE_DIR (export/c) in BUILD_DIR (reused when up to date) and return
    Code_Saturne's flags."""
    build_dir, source_dir = build_dir.resolve(), source_dir.resolve()
    fetch = _run(["bash", str(source_dir / "fetch_onnxruntime.sh")],
                 "preparing ONNX Runtime (export/c/fetch_onnxruntime.sh)", 600,
                 env={**os.environ, "PYTHON": os.environ.get("PYTHON", sys.executable)})
    root = Path(fetch.strip().splitlines()[-1])
    for tool in ("cmake", "cc"):
        if shutil.which(tool) is None:
            raise UserError(f"{tool} is not installed (apt-get install cmake build-essential)")
    _run(["cmake", "-S", str(source_dir), "-B", str(build_dir), f"-DONNXRUNTIME_ROOT={root}",
          "-DCMAKE_BUILD_TYPE=Release"], "configuring export/c", 300)
    _run(["cmake", "--build", str(build_dir), "--target", "surrogate_ort", "-j", str(os.cpu_count() or 1)],
         "building the C wrapper", 600)
    library = build_dir / "libsurrogate_ort.a"
    if not library.is_file():
        raise UserError(f"{library} was not built by the CMake target surrogate_ort")
    include = next((p for p in (root / "include", root / "include" / "onnxruntime")
                    if (p / "onnxruntime_c_api.h").is_file()), root / "include")
    lib_dir = root / "lib"
    return WrapperBuild(cflags=f"-I{source_dir} -I{include}",
                        libs=f"{library} -L{lib_dir} -lonnxruntime -Wl,-rpath,{lib_dir} -lm")


def assemble_case(case_dir: Path, model: Path, wrapper: WrapperBuild, settings: FlameSettings = FlameSettings(),
                  geometry: JetGeometry = JetGeometry()) -> Path:
    """Write the Code_Saturne case CASE_DIR for MODEL (replacing its SRC/, DATA/ and MESH/) and return it."""
    if not model.is_file():
        raise UserError(f"{model}: no such ONNX model")
    case_dir = case_dir.resolve()
    if abs(settings.slot_half_width - geometry.slot_half_width) > 1e-12:
        raise UserError(f"slot_half_width {settings.slot_half_width} of the settings differs from the mesh's "
                        f"{geometry.slot_half_width}")
    for part in ("SRC", "DATA", "MESH"):
        shutil.rmtree(case_dir / part, ignore_errors=True)
        (case_dir / part).mkdir(parents=True)
    (case_dir / "RESU").mkdir(exist_ok=True)
    for source in sorted(p for p in (HERE / "SRC").iterdir() if p.suffix in (".c", ".h", ".f90")):
        shutil.copy2(source, case_dir / "SRC" / source.name)
    shutil.copy2(HERE / "DATA" / "cs_user_scripts.py", case_dir / "DATA" / "cs_user_scripts.py")
    shutil.copy2(model, case_dir / "DATA" / "model.onnx")
    mesh = write_mesh(case_dir / "MESH" / "jet.msh", geometry)
    with atomic_path(case_dir / "DATA" / CONFIG) as tmp:
        Path(tmp).write_text(settings.text())
    write_json(case_dir / "DATA" / BUILD, {"mesh": str(mesh), **asdict(wrapper)})
    return case_dir


def run_case(case_dir: Path, run_id: str = "run", timeout: float = 1800) -> Path:
    """Run CASE_DIR with ``code_saturne run`` on one process and return RESU/RUN_ID (fields.csv, timing.json)."""
    command = code_saturne()
    if command is None:
        raise UserError("code_saturne is not installed (apt-get install --no-install-recommends code-saturne)")
    result = case_dir / "RESU" / run_id
    shutil.rmtree(result, ignore_errors=True)
    env = {**os.environ, "USER": os.environ.get("USER") or "surrogate", "OMPI_ALLOW_RUN_AS_ROOT": "1",
           "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([command, "run", "--case", str(case_dir), "--id", run_id, "-n", "1"],
                          capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode != 0 or not (result / "timing.json").is_file():
        logs = [result / name for name in ("compile.log", "run_solver.log", "error") if (result / name).is_file()]
        tail = "\n".join(line for log in logs for line in log.read_text(errors="replace").splitlines()[-12:])
        raise UserError(f"code_saturne run of {case_dir} failed (exit {done.returncode}); logs in {result}\n"
                        f"{tail or done.stdout[-2000:] + done.stderr[-2000:]}")
    return result


def read_timing(result: Path) -> dict:
    """timing.json of a finished run, with the inference share of the timed steps added."""
    timing = json.loads((result / "timing.json").read_text())
    steps = timing["step_seconds"]
    timing["run_share"] = timing["surrogate_run_seconds"] / steps if steps > 0 else None
    timing["update_share"] = timing["update_seconds"] / steps if steps > 0 else None
    return timing
