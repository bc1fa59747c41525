"""Markdown tables rendered from benchmark results files, between markers in a document.

A document (docs/benchmarks.md, README.md) holds ``<!-- results:NAME -->`` ... ``<!-- /results:NAME -->``;
everything between is the rendering of ``benchmarks/results/NAME.json`` (the full tier), or of
``NAME.quick.json`` when no full tier was run, labelled as such. Rendering is a pure function of the results
file, so a test can check that every published table equals its stored results.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..errors import UserError
from .suite import results_file

MARKER = re.compile(r"<!-- results:(?P<name>[A-Za-z0-9_.-]+) -->\n(?P<body>.*?)<!-- /results:(?P=name) -->", re.S)
DASH = "–"


def load_results(results_dir: Path, name: str) -> tuple[dict[str, Any], Path]:
    """The results of suite `name`: the full tier's file when there is one, else the quick tier's."""
    for tier in ("full", "quick"):
        path = results_file(results_dir, name, tier)
        if path.is_file():
            try:
                return json.loads(path.read_text()), path
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    raise UserError(f"no results file for suite {name!r} in {results_dir} (run `surrogate bench suite {name}`)")


def number(value: float | None, spec: str) -> str:
    return DASH if value is None else format(value, spec)


def cell(summary: dict[str, Any], spec: str) -> str:
    """``median (min–max)`` over the seeds, or the one value."""
    text = number(summary["median"], spec)
    low, high = number(summary["min"], spec), number(summary["max"], spec)
    return text if summary["n"] < 2 or low == high else f"{text} ({low}{DASH}{high})"


def escape(text: str) -> str:
    return text.replace("|", "\\|")


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    """Header and rows: one row per run, one column per metric and the wall time (transposed on request)."""
    spec = results.get("format") or ".4g"
    metrics = results["metrics"]
    header = ["run", *(m["label"] for m in metrics), "s per run"]
    rows = [[run["label"], *(cell(run["summary"][m["label"]], m.get("format") or spec) for m in metrics),
             cell(run["wall_s"], ".0f")] for run in results["runs"]]
    if results.get("transpose"):
        return [list(column) for column in zip(["metric", *header[1:]], *rows)]
    return [header, *rows]


def provenance(results: dict[str, Any], path: str) -> str:
    """One line: tier, seeds, commit, machine, library versions and the results file."""
    seeds = results["seeds"]
    tier = ("full tier" if results["tier"] == "full"
            else "**quick tier** (CI-sized tables and budgets, not the full benchmark)")
    over = f"median (range) over {len(seeds)} seeds" if len(seeds) > 1 else "one seed"
    versions = results.get("versions", {})
    libraries = ", ".join(f"{name} {versions[name]}" for name in ("thermo-surrogate", "torch", "cantera",
                                                                 "onnxruntime") if versions.get(name))
    host = results.get("machine", {})
    commit = (results.get("commit") or "unknown")[:10] + (" with uncommitted changes" if results.get("dirty") else "")
    return (f"*{tier}; {over}; commit `{commit}`, {results['started'][:10]}; {host.get('cpu', '?')}, "
            f"{host.get('cores', '?')} cores; {libraries}; `{path}`.*")


def render(results: dict[str, Any], path: str) -> str:
    """The Markdown block of one results file (`path` as the document should name it)."""
    rows = table_rows(results)
    lines = [f"**{escape(results['title'])}**", ""]
    if results.get("description"):
        lines += [results["description"], ""]
    lines += ["| " + " | ".join(map(escape, rows[0])) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(map(escape, row)) + " |" for row in rows[1:]]
    lines += ["", provenance(results, path), ""]
    return "\n".join(lines)


def rendered_blocks(text: str, results_dir: Path, root: Path) -> dict[str, tuple[str, str]]:
    """{suite name: (block in `text`, block rendered from its results file)} for every marker in `text`;
    file names are shown relative to `root` (the repository's root) when they lie inside it."""
    blocks = {}
    for match in MARKER.finditer(text):
        name = match["name"]
        results, path = load_results(results_dir, name)
        shown = path.resolve().relative_to(root.resolve()) if path.resolve().is_relative_to(root.resolve()) else path
        blocks[name] = (match["body"], render(results, shown.as_posix()))
    return blocks


def render_document(text: str, results_dir: Path, root: Path) -> str:
    """`text` with every marked block replaced by the rendering of its results file."""
    blocks = rendered_blocks(text, results_dir, root)
    return MARKER.sub(lambda m: f"<!-- results:{m['name']} -->\n{blocks[m['name']][1]}<!-- /results:{m['name']} -->",
                      text)


def stale_blocks(text: str, results_dir: Path, root: Path) -> list[str]:
    """Names of the marked blocks in `text` that differ from the rendering of their results file."""
    return [name for name, (body, rendered) in rendered_blocks(text, results_dir, root).items() if body != rendered]
