"""Plugins discoverable without installing the toolkit: a ``.dist-info`` folder written from pyproject.toml.

The toolkit finds its plugins (and a third party's) through entry points, which live in an installed
distribution's metadata. A GPU machine that cannot reach a package index, or whose Python should stay as it is,
gets the same discovery from ``python -m surrogate.benchmarks.gpu_metadata DIR`` (run with the repository on
PYTHONPATH) and ``PYTHONPATH=REPO:DIR``: DIR then holds ``thermo_surrogate-VERSION.dist-info`` with the project's
METADATA and entry_points.txt, which importlib.metadata reads like an installed one. Needs Python 3.11+ (tomllib).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def write_metadata(pyproject: Path, target: Path) -> Path:
    """The dist-info folder for the project of `pyproject` under `target` (its entry points and version)."""
    import tomllib

    from surrogate import __version__  # the version is dynamic in pyproject.toml: surrogate.__version__ is its home

    project = tomllib.loads(pyproject.read_text())["project"]
    info = target / f"{project['name'].replace('-', '_')}-{__version__}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {__version__}\n")
    groups = {"console_scripts": project.get("scripts", {}), **project.get("entry-points", {})}
    lines = []
    for group, entries in groups.items():
        lines += [f"[{group}]", *(f"{name} = {value}" for name, value in entries.items()), ""]
    (info / "entry_points.txt").write_text("\n".join(lines))
    return info


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m surrogate.benchmarks.gpu_metadata DIR")
    print(write_metadata(REPO / "pyproject.toml", Path(sys.argv[1])))
