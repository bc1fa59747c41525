"""The dependency arrows DESIGN.md forbids, read from every module's imports (by ``ast``, nothing is imported):

- the core (``surrogate/``) imports nothing of ``plugins``, ``export`` or ``cantera_tables``, except inside the
  functions of its CLI modules (``surrogate/cli/``), whose commands import what they run when they run;
- ``export`` imports nothing of ``cantera_tables``, not even inside a function;
- generic tasks and physics losses (``plugins/tasks``, ``plugins/physics``) import no dataset's package
  (``plugins.pde``, ``plugins.coulomb``): what a dataset is about comes from the ``surrogate.problems`` registry.

The checker is also run on a planted tree, so a rule that stopped seeing violations would fail too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("surrogate", "plugins", "export", "cantera_tables")
DATASET_PACKAGES = ("plugins.pde", "plugins.coulomb")


@dataclass(frozen=True)
class Import:
    module: str  # absolute dotted name (relative imports resolved)
    line: int
    in_function: bool


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path) -> list[Import]:
    """Every import of the module at `path`, with relative ones made absolute and whether it sits in a function."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(Import(alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[:len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{alias.name}" for alias in child.names] if not child.module else [base]
                found.extend(Import(target, child.lineno, in_function) for target in targets)
            visit(child, inside)

    visit(ast.parse(path.read_text(), filename=str(path)), False)
    return found


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def violations(root: Path) -> list[str]:
    """'path:line: module -> imported (rule)' for every forbidden arrow in the tree at `root`."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            where = module_name(path, root)
            cli = within(where, ("surrogate.cli",))
            for item in imports(path, root):
                rule = None
                if within(where, ("surrogate",)) and within(item.module, ("plugins", "export", "cantera_tables")) \
                        and not (cli and item.in_function):
                    rule = "the core imports plugins/export/cantera_tables only inside CLI command functions"
                elif within(where, ("export",)) and within(item.module, ("cantera_tables",)):
                    rule = "export imports nothing of cantera_tables"
                elif within(where, ("plugins.tasks", "plugins.physics")) and within(item.module, DATASET_PACKAGES):
                    rule = "tasks and physics losses import no dataset's package (ask the problems registry)"
                if rule:
                    found.append(f"{path.relative_to(root)}:{item.line}: {where} -> {item.module} ({rule})")
    return found


def test_the_tree_keeps_the_forbidden_arrows_out():
    assert violations(ROOT) == []


def plant(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checker_finds_each_planted_violation_and_only_those(tmp_path):
    lazy = "def command():\n    from plugins.tasks import pinn\n"
    plant(tmp_path, {
        "surrogate/__init__.py": "",
        "surrogate/core.py": "import numpy\nfrom . import table\n\n\ndef later():\n    import export.runtime\n",
        "surrogate/eager.py": "from plugins.models import MLP\n",
        "surrogate/cli/__init__.py": "",
        "surrogate/cli/lazy.py": lazy,  # allowed: a CLI command imports what it runs
        "surrogate/cli/eager.py": "import cantera_tables.build\n",
        "export/__init__.py": "",
        "export/demo.py": "def build():\n    from cantera_tables import flamelet_table\n",
        "cantera_tables/__init__.py": "",
        "plugins/__init__.py": "",
        "plugins/tasks/__init__.py": "",
        "plugins/tasks/fine.py": "from plugins.time_schemes import SCHEMES\nfrom .collocation import box\n",
        "plugins/tasks/relative.py": "from ..coulomb import frame\n",
        "plugins/physics/__init__.py": "",
        "plugins/physics/absolute.py": "import plugins.pde.kdv as kdv\n",
        "plugins/pde/__init__.py": "from ..tasks import collocation\n",  # datasets may use task helpers
    })
    found = violations(tmp_path)
    assert [line.split(":")[0] for line in found] == [
        "surrogate/cli/eager.py", "surrogate/core.py", "surrogate/eager.py", "plugins/physics/absolute.py",
        "plugins/tasks/relative.py", "export/demo.py"]
    assert "surrogate.core -> export.runtime" in found[1]
    assert "plugins.tasks.relative -> plugins.coulomb (" in found[4]
