"""``surrogate report``: a finished run as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import click

from .common import overwrite_option


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(), help="HTML file to write.")
@click.option("--onnx", "onnx_file", type=click.Path(dir_okay=False, path_type=Path),
              help="ONNX file exported from the run, whose parity the report shows [default: the one *.onnx in "
                   "RUN_DIR, if there is exactly one].")
@overwrite_option
def report(run_dir: Path, output: str, onnx_file: Path | None, overwrite: bool) -> None:
    """Write an HTML report of the trained run RUN_DIR: options, table provenance, metrics beside the trivial
    baselines, loss/weight/parity/task plots, export parity and versions. Figures are inlined; the page needs no
    network."""
    from surrogate.atomic import atomic_path
    from surrogate.errors import UserError
    from surrogate.outputs import check_output_file
    from surrogate.report import ExportedModel, render
    from surrogate.run import RunDirectory, load_run

    inputs = {**RunDirectory(run_dir).inputs(), "the ONNX file": onnx_file}
    target = check_output_file(output, inputs=inputs, overwrite=overwrite)
    load_run(run_dir)  # a finished, undamaged run (hashes checked), or a one-line error
    if onnx_file is None:
        found = sorted(run_dir.glob("*.onnx"))
        onnx_file = found[0] if len(found) == 1 else None
    exported = None
    if onnx_file is not None:
        from export.metadata import read_model_file

        if not onnx_file.is_file():
            raise UserError(f"--onnx {onnx_file}: no such file")
        _, info = read_model_file(onnx_file)
        exported = ExportedModel(onnx_file, info.parity, dict(info.raw))
    page = render(run_dir, exported)
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    click.echo(f"wrote {target} ({len(page.encode()) / 1024:.0f} KiB)")
