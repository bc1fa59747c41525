"""``surrogate bench gpu``: every GPU measurement of the toolkit in one command (see
:mod:`surrogate.benchmarks.gpu_check`); ``make gpu-check`` runs it on a fresh GPU machine."""

from __future__ import annotations

from pathlib import Path

import click

from ...ranges import at_least
from ..types import ranged
from ..common import overwrite_option

PREPARED = Path(".gpu-carry") / "tables"


@click.command("gpu")
@click.option("-o", "--output", "out", default="gpu-check", show_default=True, type=click.Path(),
              help="Folder for results.json, summary.txt and log.txt (new or empty, or any with --overwrite).")
@click.option("--device", default="cuda", show_default=True, help="cuda, cuda:N, or cpu (a CPU run of the steps).")
@click.option("--quick", is_flag=True, help="Every size shrunk: a smoke run of the same steps (minutes on a CPU).")
@click.option("--budget", type=ranged(float, at_least(30)), default=None,
              help="Seconds for the whole check; each step's cap is cut to fit. [default: 450, quick 900]")
@click.option("--prepared", type=click.Path(path_type=Path), default=PREPARED, show_default=True,
              help="Folder with h2.h5 and pdf.h5 from `make gpu-check-prepare` (needed where Cantera is not).")
@click.option("--work", type=click.Path(path_type=Path), default=None,
              help="Folder for tables and runs. [default: a temporary folder, removed at the end]")
@overwrite_option
def bench_gpu(out: str, device: str, quick: bool, budget: float | None, prepared: Path, work: Path | None,
              overwrite: bool) -> None:
    """Run the GPU check: env, gpu-marked tests, trainer vs DataLoader, mixed precision and torch.compile,
    precision accuracy, a short training of every surrogate kind, inference engines; each step under a time cap,
    a failed step recorded without stopping the others."""
    import shutil
    import tempfile

    from ...benchmarks.gpu_check import run_check
    from ...outputs import check_output_folder

    folder = check_output_folder(out, inputs={"the --prepared folder": prepared, "the --work folder": work},
                                 overwrite=overwrite)
    scratch = Path(tempfile.mkdtemp(prefix="gpu-check-")) if work is None else work
    try:
        outcomes = run_check(folder, device, quick, budget or (900.0 if quick else 450.0), prepared.resolve(),
                             scratch.resolve())
    finally:
        if work is None:
            shutil.rmtree(scratch, ignore_errors=True)
    click.echo((folder / "summary.txt").read_text(), nl=False)
    failed = [name for name, outcome in outcomes.items() if not outcome.status.startswith(("ok", "skipped"))]
    verdict = f"steps not ok: {', '.join(failed)}" if failed else "every step ok"
    click.echo(f"results in {folder}/results.json; {verdict}")
