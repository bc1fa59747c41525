"""Every number the documentation publishes comes from a results file written by a declared benchmark suite.

Every suite is published on the benchmarks page of the documentation (docs/benchmarks.md); the README shows a
headline rendered the same way. The fast checks read those documents, the suite files and the results files;
one slow check runs a tiny suite through the CLI end to end.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from surrogate.benchmarks.results_render import MARKER, render_document, stale_blocks
from surrogate.benchmarks.suite import load_suite, suite_names
from surrogate.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BENCHMARKS_PAGE = ROOT / "docs" / "benchmarks.md"
DOCUMENTS = (BENCHMARKS_PAGE, README)
SUITES = ROOT / "benchmarks" / "suites"
RESULTS = ROOT / "benchmarks" / "results"


def marked_names(document: Path = BENCHMARKS_PAGE) -> list[str]:
    return [match["name"] for match in MARKER.finditer(document.read_text())]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_marked_table_equals_the_rendering_of_its_results_file(document):
    assert marked_names(document), f"{document.name} has no rendered results tables"
    assert stale_blocks(document.read_text(), RESULTS, ROOT) == []


def test_every_declared_suite_is_published_on_the_benchmarks_page_once():
    names = marked_names()
    assert sorted(names) == sorted(set(names)) and set(names) == set(suite_names(SUITES))


def test_the_readme_headline_is_a_published_suite():
    assert set(marked_names(README)) <= set(suite_names(SUITES))


def test_render_rewrites_the_benchmarks_page_and_the_readme_by_default(tmp_path, monkeypatch):
    for document in DOCUMENTS:
        target = tmp_path / document.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(MARKER.sub(lambda m: f"<!-- results:{m['name']} -->\n<!-- /results:{m['name']} -->",
                                     document.read_text()))
    shutil.copytree(RESULTS, tmp_path / "benchmarks" / "results")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["bench", "render"])
    assert result.exit_code == 0, result.output
    for document in DOCUMENTS:
        assert (tmp_path / document.relative_to(ROOT)).read_text() == document.read_text()


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*.json")), ids=lambda path: path.name)
def test_results_files_name_the_clean_commit_and_the_suite_that_wrote_them(path):
    results = json.loads(path.read_text())
    assert re.fullmatch(r"[0-9a-f]{40}", results["commit"] or "")
    assert results["dirty"] is False
    assert results["tier"] in ("full", "quick")
    assert path.name == (f"{results['suite']}.json" if results["tier"] == "full" else f"{results['suite']}.quick.json")
    assert (ROOT / results["suite_file"]).is_file()
    assert results["versions"]["torch"] and results["machine"]["cpu"]
    for run in results["runs"]:
        assert sorted(run["seeds"], key=int) == [str(seed) for seed in results["seeds"]]
        assert all(seed["wall_s"] > 0 for seed in run["seeds"].values())


@pytest.mark.parametrize("name", suite_names(SUITES))
def test_every_suite_file_resolves_in_both_tiers_and_its_quick_tier_is_smaller(name):
    full, quick = (load_suite(SUITES / f"{name}.yaml", tier) for tier in ("full", "quick"))
    assert quick.metrics == full.metrics
    smaller_sizes = quick.runs != full.runs  # a single run at one seed shrinks its tables and options instead
    assert len(quick.seeds) * len(quick.runs) < len(full.seeds) * len(full.runs) or smaller_sizes


def test_an_unknown_suite_is_a_one_line_error_naming_the_known_ones():
    result = CliRunner().invoke(cli, ["bench", "suite", "no-such-suite", "--suites", str(SUITES)])
    assert result.exit_code == 2
    assert "unknown suite 'no-such-suite'" in result.output and "h2-default" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("text, message", [
    ("title: [unclosed\n", "not valid YAML (line 2"),
    ("title: t\ntables: {}\nruns: []\nmetrics: {a: b}\nseeds: [0]\n", "'tables' must map"),
    ("title: t\ntables: {a: {kind: kdv}}\nruns: [{label: r, table: b}]\nmetrics: {m: x}\nseeds: [0]\n",
     "'table' must be one of a"),
    ("title: t\ntables: {a: {kind: kdv}}\nruns: [{label: r, table: a}]\nmetrics: {m: x}\nseeds: [0]\nspeed: 1\n",
     "unknown key 'speed'"),
])
def test_a_broken_suite_file_is_a_one_line_error(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    result = CliRunner().invoke(cli, ["bench", "suite", "bad", "--suites", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_render_check_names_a_table_edited_by_hand_and_render_restores_it(tmp_path):
    name = marked_names()[0]
    block = next(m for m in MARKER.finditer(BENCHMARKS_PAGE.read_text()) if m["name"] == name)
    document = tmp_path / "doc.md"
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    original = f"# Doc\n\n{block.group(0)}\n"
    document.write_text(original.replace("|", "| 9.99999 |", 1) if "|" in original else original + "x")
    runner = CliRunner()
    check = runner.invoke(cli, ["bench", "render", "--document", str(document), "--results", str(results), "--check"])
    assert check.exit_code == 1 and name in check.output
    assert runner.invoke(cli, ["bench", "render", "--document", str(document), "--results", str(results)]).exit_code == 0
    assert stale_blocks(document.read_text(), results, Path.cwd()) == []


def test_a_marker_without_results_file_is_a_one_line_error(tmp_path):
    document = tmp_path / "doc.md"
    document.write_text("<!-- results:missing -->\n<!-- /results:missing -->\n")
    result = CliRunner().invoke(cli, ["bench", "render", "--document", str(document), "--results", str(tmp_path)])
    assert result.exit_code == 2 and "no results file for suite 'missing'" in result.output


TINY_SUITE = """\
title: tiny PINN
tables:
  k2: {kind: poisson-multiscale, options: {k: 2, points: 64}}
runs:
  - {label: uniform, table: k2, train: {model: mlp, epochs: 3, batch-size: 64, weighting: uniform}}
metrics:
  error %: {path: test.u.rel_l2, scale: 100}
  error over itself: {ratio: [test.u.rel_l2, test.u.rel_l2]}
seeds: [0, 1]
quick: {seeds: [0]}
"""


@pytest.mark.slow
def test_a_suite_runs_through_the_cli_into_a_results_file_with_median_and_range(tmp_path):
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "tiny.yaml").write_text(TINY_SUITE)
    result = CliRunner().invoke(cli, ["bench", "suite", "tiny", "--suites", str(tmp_path / "suites"),
                                      "-o", str(tmp_path / "results"), "--work", str(tmp_path / "work")])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "results" / "tiny.json").read_text())
    run = results["runs"][0]
    errors = [run["seeds"][seed]["values"]["error %"] for seed in ("0", "1")]
    summary = run["summary"]["error %"]
    assert summary["min"] == min(errors) and summary["max"] == max(errors) and summary["n"] == 2
    assert run["summary"]["error over itself"]["median"] == 1.0
    assert results["tier"] == "full" and results["versions"]["torch"]
    document = tmp_path / "doc.md"
    document.write_text("<!-- results:tiny -->\n<!-- /results:tiny -->\n")
    rendered = render_document(document.read_text(), tmp_path / "results", tmp_path)
    assert f"{summary['median']:.4g} ({summary['min']:.4g}–{summary['max']:.4g})" in rendered


@pytest.mark.slow
def test_a_rerun_reuses_only_the_seeds_measured_at_the_same_clean_commit(tmp_path):
    import subprocess

    from surrogate.benchmarks.suite_runner import SuiteRunner

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "code.txt").write_text("v1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], check=True)
    (tmp_path / "tiny.yaml").write_text(TINY_SUITE)
    suite = load_suite(tmp_path / "tiny.yaml", "quick")

    def measure(**options) -> tuple[dict, list[str]]:
        said: list[str] = []
        results = SuiteRunner(suite, tmp_path / "work", repo, said.append, **options).run()
        return results["runs"][0]["seeds"]["0"], said

    first, said = measure()
    assert not any("measured earlier" in line for line in said)
    again, said = measure()
    assert again == first and any("measured earlier" in line for line in said)
    _, said = measure(resume=False)
    assert not any("measured earlier" in line for line in said)
    (repo / "code.txt").write_text("v2\n")  # uncommitted change: the code measured is not the commit's
    _, said = measure()
    assert not any("measured earlier" in line for line in said)
    subprocess.run([*git, "commit", "-qam", "v2"], check=True)
    _, said = measure()  # a new commit: the earlier record names the old one
    assert not any("measured earlier" in line for line in said)
