"""``surrogate bench infer``: cells/s of ONNX Runtime (Python, C, CUDA), PyTorch eager and the table lookup.

Heavy modules are imported inside the command.
"""

from __future__ import annotations

from pathlib import Path

import click

from ...ranges import at_least
from ..types import ranged
from ..common import check_json_file, emit_json, json_file_option, overwrite_option, report_echo
from ...threads import thread_option


def _batches(text: str) -> list[int]:
    try:
        values = sorted({int(float(part)) for part in text.split(",") if part.strip()})
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from None
    if not values or values[0] < 1:
        raise click.BadParameter("batch sizes must be positive")
    return values


@click.command("infer")
@click.option("--run", "run_dir", type=click.Path(path_type=Path), default=None,
              help="Trained run: gives PyTorch eager, and the ONNX model when --model is not given.")
@click.option("--model", type=click.Path(path_type=Path), default=None, help="Exported ONNX model.")
@click.option("--table", type=click.Path(path_type=Path), default=None,
              help="Table with a /structured group (the (Z, Lambda) flamelet grid or a regular grid of the model inputs) [default: the run's training table].")
@click.option("--batch-sizes", default="1,10,100,1000,4096,10000,100000,1000000", show_default=True,
              help="Comma-separated batch sizes (cells per call).")
@click.option("--threads", type=int, default=1, show_default=True, callback=thread_option(),
              help="Threads for ONNX Runtime, PyTorch and the C example (1: the single-thread comparison).")
@click.option("--min-time", type=ranged(float, at_least(0.01)), default=0.3, show_default=True,
              help="Seconds of timed calls per engine and batch size.")
@click.option("--c-bench", type=click.Path(path_type=Path), default=None,
              help="Built C example (export/c) [default: found under export/c/build].")
@click.option("--table-model", type=click.Path(path_type=Path), default=None,
              help="Table-backend ONNX file (export.table_model) measured in the same run against the network: "
                   "cells/s of both and table / network at every batch size.")
@click.option("--grid-sizes", default=None,
              help="Network against compiled N-D table lookups: comma-separated grids DIMSd[:BYTES], e.g. "
                   "'4d,4d:1e8,5d:1e9' (the presumed-PDF table as built; refined to about 1e8 bytes; with a 5th axis, "
                   "about 1e9 bytes; larger grids are synthetic: values interpolated from the table). Needs "
                   "export/c built (bench_lookup).")
@click.option("--grid-table", type=click.Path(path_type=Path), default=None,
              help="Presumed-PDF table the --grid-sizes grids are made from [default: one built from the flamelet "
                   "table (4-D, beta PDFs of Z and Lambda)].")
@json_file_option("the results")
@overwrite_option
def bench_infer(run_dir: Path | None, model: Path | None, table: Path | None, batch_sizes: str, threads: int,
                min_time: float, c_bench: Path | None, table_model: Path | None, grid_sizes: str | None,
                grid_table: Path | None, json_path: str | None, overwrite: bool) -> None:
    """Inference throughput at batch sizes 1 .. 10^6 and model vs table memory, in one run (with --table-model,
    the table backend against the network too; with --grid-sizes, the network against compiled table lookups up
    to GB tables, and the C wrapper against a raw ONNX Runtime session)."""
    import tempfile

    from export.benchmarks.inference import run_benchmark
    from export.benchmarks.grid_file import parse_sizes
    from surrogate.errors import UserError
    from surrogate.run import RunDirectory

    if run_dir is None and model is None:
        raise UserError("give --run RUN_DIR, --model MODEL.onnx, or both")
    echo = report_echo(json_path)
    if json_path is not None:
        inputs = {**(RunDirectory(run_dir).inputs() if run_dir is not None else {}), "the --model file": model,
                  "the --table file": table, "the --table-model file": table_model, "the --c-bench program": c_bench,
                  "the --grid-table file": grid_table}
        check_json_file(json_path, inputs, overwrite)
    if table_model is not None and not table_model.is_file():
        raise UserError(f"--table-model {table_model}: no such file")
    if c_bench is not None and not c_bench.is_file():
        raise UserError(f"--c-bench {c_bench}: no such file (build the C example in export/c first)")
    if grid_table is not None and not grid_table.is_file():
        raise UserError(f"--grid-table {grid_table}: no such file")
    sizes = parse_sizes(grid_sizes) if grid_sizes else []
    batches = _batches(batch_sizes)
    with tempfile.TemporaryDirectory(prefix="bench-infer-") as scratch:
        report = run_benchmark(run_dir=run_dir, model=model, table=table, batches=batches, threads=threads,
                               min_time=min_time, c_bench=c_bench, scratch=Path(scratch), echo=echo,
                               table_model=table_model, grid_table=grid_table, grid_sizes=sizes)
    for line in report.lines():
        echo(line)
    if json_path is not None:
        emit_json(json_path, report.to_dict())
