"""The documentation site builds in strict mode, and the README stays a short front door whose links resolve.

The strict build (`mkdocs build --strict`, as `mkdocs.yml` configures it) turns every warning into an error:
a broken internal link or anchor, a page missing from the navigation, a docstring mkdocstrings cannot collect,
a snippet whose file is gone. It takes about 15 s (the CLI and API references import the command modules and
read the docstrings), so it is marked slow; the README checks are instant.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 250
LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
SNIPPET = re.compile(r'^--8<-- "(?P<path>[^"]+)"$', re.M)  # pymdownx.snippets, paths from the repository root


def slug(heading: str) -> str:
    """The anchor Python-Markdown's toc extension (and GitHub) gives a heading: lower case, punctuation dropped,
    spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading).strip().lower()
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", text))


def anchors(markdown: Path) -> set[str]:
    """The headings' anchors (with those of included snippets), and the objects that mkdocstrings documents
    (``::: module.Object``) by name."""
    text = SNIPPET.sub(lambda match: (ROOT / match["path"]).read_text(), markdown.read_text())
    text = FENCE.sub("", text)
    return ({slug(match[1]) for match in re.finditer(r"^#{1,6} (.+?)\s*$", text, re.M)}
            | {match[1] for match in re.finditer(r"^::: ([\w.]+)\s*$", text, re.M)})


def test_readme_is_a_short_front_door_that_opens_with_the_two_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_README_LINES
    first_block = FENCE.search(text)[0]
    assert text.index(first_block) < text.index("\n## ")  # before any section
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:-1]]
    assert commands == ["make demo", "make test"]


def test_the_two_readme_commands_mean_what_the_makefile_does():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: \$\(STAMP\)\n\t\$\(BIN\)/surrogate demo -o demo$", makefile, re.M)
    assert re.search(r"^test: \$\(STAMP\)\n\t\$\(BIN\)/python -m pytest -q$", makefile, re.M)


@pytest.mark.parametrize("document", [README, *sorted((ROOT / "docs").glob("*.md"))],
                         ids=lambda path: path.relative_to(ROOT).as_posix())
def test_relative_links_resolve_to_files_and_headings(document):
    text = FENCE.sub("", document.read_text())
    broken = []
    for match in LINK.finditer(text):
        target = match["target"]
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (document.parent / path).resolve() if path else document
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(target)
    assert broken == []


@pytest.mark.slow
def test_the_documentation_site_builds_in_strict_mode(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_click"):
        pytest.importorskip(module, reason="the docs extra is not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner about MkDocs 2, not a warning
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=environment)
    assert done.returncode == 0, done.stderr[-4000:]
    cli = (site / "cli" / "index.html").read_text()
    assert all(f'id="surrogate-{name}"' in cli for name in ("train", "export", "table-build-h2-flamelet",
                                                            "bench-cfd", "bench-render"))
    api = (site / "api" / "index.html").read_text()
    assert 'id="export.runtime.Surrogate"' in api and 'id="surrogate.contracts.Task"' in api
    assert ":class:" not in api  # Sphinx roles are shown as code, not verbatim
    c_api = (site / "c-api" / "index.html").read_text()
    assert "surrogate_run_fields" in c_api  # the header, included from export/c/surrogate_ort.h
    summary = json.loads((ROOT / "benchmarks" / "results" / "h2-default.json").read_text())["runs"][0]["summary"]
    assert f"{summary['Y_H2O2']['median']:.5f}" in (site / "benchmarks" / "index.html").read_text()
