"""``surrogate bench suite`` and ``surrogate bench render``: published numbers regenerated and rendered.

A suite (``benchmarks/suites/NAME.yaml``) declares one published table; ``suite`` runs it through the command
line and writes ``benchmarks/results/NAME.json`` (``NAME.quick.json`` for ``--quick``); ``render`` rewrites the
marked tables of the documentation's benchmarks page and of README.md from those files, or with ``--check``
says which ones differ.
"""

from __future__ import annotations

from pathlib import Path

import click

SUITES = Path("benchmarks/suites")
RESULTS = Path("benchmarks/results")
WORK = Path("benchmarks/work")
# Where the published tables are: every suite on the documentation's benchmarks page, a headline in the README.
DOCUMENTS = (Path("docs/benchmarks.md"), Path("README.md"))


@click.command("suite")
@click.argument("names", nargs=-1)
@click.option("--all", "run_all", is_flag=True, help="Every suite in --suites, in name order.")
@click.option("--quick", is_flag=True, help="The quick tier: smaller tables, budgets and seeds (what CI runs).")
@click.option("-o", "--output", "results_dir", default=str(RESULTS), show_default=True,
              type=click.Path(), help="Folder of the results files.")
@click.option("--suites", "suites_dir", default=str(SUITES), show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder of the suite files (NAME.yaml).")
@click.option("--work", "work_dir", default=str(WORK), show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for tables (reused across runs), run directories and logs.")
@click.option("--fresh", is_flag=True,
              help="Measure every seed again, even those an interrupted run of this commit already measured.")
@click.option("--overwrite", is_flag=True, help="Replace results files that already exist (refused otherwise).")
def suite(names: tuple[str, ...], run_all: bool, quick: bool, results_dir: str, suites_dir: Path,
          work_dir: Path, fresh: bool, overwrite: bool) -> None:
    """Run the benchmark suites NAMES (files in --suites) and write one results file each: per-seed values,
    median and range, wall times, commit, library versions and machine. Rerun after a kill, it reuses the seeds
    already measured at the same clean commit with the same commands."""
    from ...atomic import write_json
    from ...benchmarks.suite import load_suite, results_file, suite_names, suite_path
    from ...benchmarks.suite_runner import SuiteRunner
    from ...outputs import check_output_file, check_output_folder

    if run_all == bool(names):
        known = ", ".join(suite_names(suites_dir)) or "none"
        raise click.UsageError(f"give suite names or --all (suites in {suites_dir}: {known})")
    tier = "quick" if quick else "full"
    suites = [load_suite(suite_path(name, suites_dir), tier)
              for name in (suite_names(suites_dir) if run_all else names)]  # every file checked before any run
    folder = check_output_folder(results_dir, overwrite=None)  # every suite's results files, kept
    folder.mkdir(parents=True, exist_ok=True)
    for resolved in suites:  # every results file checked before any run
        check_output_file(results_file(folder, resolved.name, tier), inputs={"the suite file": resolved.source},
                          overwrite=overwrite)
    for resolved in suites:
        click.secho(f"suite {resolved.name} ({tier} tier): {len(resolved.runs)} runs x {len(resolved.seeds)} seeds",
                    bold=True)
        results = SuiteRunner(resolved, work_dir, Path.cwd(), click.echo, resume=not fresh).run()
        path = results_file(folder, resolved.name, tier)
        write_json(path, results)
        click.echo(f"wrote {path} ({results['wall_s']:.0f} s)")


def tables(names: list[str]) -> str:
    return f"{len(names)} table" + ("" if len(names) == 1 else "s")


@click.command("render")
@click.option("--document", "documents", multiple=True, default=DOCUMENTS, show_default=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Markdown file with <!-- results:NAME --> ... <!-- /results:NAME --> blocks (repeat for several).")
@click.option("--results", "results_dir", default=str(RESULTS), show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder of the results files.")
@click.option("--check", is_flag=True, help="Change nothing; exit 1 naming the blocks that differ from their files.")
def render(documents: tuple[Path, ...], results_dir: Path, check: bool) -> None:
    """Render every marked table of each --document (by default the documentation's benchmarks page and the
    README's headline) from its suite's results file, naming that file relative to the current folder (run it
    from the repository's root)."""
    from ...atomic import atomic_path
    from ...benchmarks.results_render import MARKER, render_document, stale_blocks
    from ...errors import UserError

    missing = [str(document) for document in documents if not document.is_file()]
    if missing:
        raise UserError(f"{', '.join(missing)}: no such file")
    stale_documents = []
    for document in documents:
        text = document.read_text()
        names = [match["name"] for match in MARKER.finditer(text)]
        if check:
            stale = stale_blocks(text, results_dir, Path.cwd())
            if stale:
                click.echo(f"{document}: out of date with {results_dir}: {', '.join(stale)} "
                           f"(run `surrogate bench render`)", err=True)
                stale_documents.append(document)
            else:
                click.echo(f"{document}: up to date with {results_dir} ({tables(names)})")
            continue
        rendered = render_document(text, results_dir, Path.cwd())
        if rendered != text:
            with atomic_path(document) as tmp:
                tmp.write_text(rendered)
        click.echo(f"{document}: rendered {tables(names)} ({', '.join(names) or 'none'})")
    if stale_documents:
        raise SystemExit(1)
