"""Where a number was measured: the git commit of the code, the library versions and the machine.

A results file carries these so that a reader can tell which code produced a published number and on what
hardware; the commit is read from git, and a working tree with uncommitted changes to tracked files is flagged.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("torch", "cantera", "onnxruntime", "onnxruntime-gpu", "numpy", "onnx")


def git_commit(repo: Path, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """``{"commit": SHA, "dirty": bool}`` of the git checkout at `repo`; commit None outside a checkout. Dirty:
    tracked files changed since the commit, other than the paths in `exclude` (files the benchmarks write)."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                 *(f":(exclude){path}" for path in exclude)) if commit else None
    return {"commit": commit, "dirty": bool(status)}


def versions() -> dict[str, str | None]:
    """The toolkit's version and those of the libraries that shape its numbers (None: not installed)."""
    from .. import __version__

    found: dict[str, str | None] = {"thermo-surrogate": __version__}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name != "onnxruntime-gpu":
                found[name] = None
    found["python"] = platform.python_version()
    return found


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what the platform module says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """CPU model, the cores this process may use, the OS, and the thread setting the runs inherited."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_model(), "cores": cores, "system": f"{platform.system()} {platform.release()}",
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}
