"""``surrogate export``, ``surrogate infer`` and ``surrogate info``: ONNX files for solvers, and batch use.

Heavy modules (torch, onnx, onnxruntime, the ``export`` package) are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..ranges import POSITIVE
from ..threads import thread_option
from .types import LazyChoice, ranged
from .common import accept_table_change_option, overwrite_option


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(),
              help="ONNX file to write (e.g. model.onnx).")
@click.option("--opset", type=int, default=None,
              help="ONNX opset. [default: the lowest the exporter supports; `surrogate info` shows a file's]")
@click.option("--fp16", is_flag=True, help="Network in float16; inputs, outputs and scaling stay float32.")
@click.option("--tolerance", type=ranged(float, POSITIVE), default=None,
              help="Largest parity error allowed, relative to each output's scale. [default: the exporter's for "
                   "the precision, printed with the result]")
@accept_table_change_option
@overwrite_option
def export(run_dir: Path, output: str, opset: int | None, fp16: bool, tolerance: float | None,
           accept_table_change: bool, overwrite: bool) -> None:
    """Export the trained run RUN_DIR to ONNX (physical inputs -> physical outputs) and check parity.

    RUN_DIR may also be a table file with a structured (Z, Lambda) group (an fpv or flamelet table): the table
    itself is exported as a table-backend model with the same inputs (Z, C), bounds and calls as a surrogate of it.
    """
    from export.metadata import DEFAULT_OPSET
    from surrogate.locks import exclusive
    from surrogate.outputs import check_output_file
    from surrogate.table import verify_checksums

    opset = DEFAULT_OPSET if opset is None else opset

    if run_dir.is_file():
        from export.table_model import export_table

        target = check_output_file(output, inputs={"the table": run_dir}, overwrite=overwrite)
        verify_checksums(run_dir)
        with exclusive(target, "an export to this file"):
            result = export_table(run_dir, target, echo=click.echo)
    else:
        from export.onnx_export import export_run
        from surrogate.run import RunDirectory, load_run

        target = check_output_file(output, inputs=RunDirectory(run_dir).inputs(), overwrite=overwrite)
        run = load_run(run_dir, accept_table_change=accept_table_change)
        if run.table_path.is_file():  # its test rows check parity; without the file, drawn points do
            verify_checksums(run.table_file())
        with exclusive(target, "an export to this file"):
            result = export_run(run, target, opset=opset, fp16=fp16, tolerance=tolerance, echo=click.echo)
    name, worst = result.parity.worst()
    click.echo(f"wrote {result.path} ({result.n_bytes / 1024:.1f} KiB, {result.precision}); parity passed: "
               f"worst {name} {worst:.2e} <= tolerance {result.tolerance:g}")
    if not run_dir.is_file():
        from surrogate.tracking import log_to_run

        logged = log_to_run(run.path, run.config, [result.path])  # the ONNX file joins the run's MLflow/TensorBoard
        if logged:
            click.echo(f"logged {result.path.name} to the run's {', '.join(logged)} logs")


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("inputs", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(),
              help="File to write, its format from its suffix: .h5/.hdf5 (a table of kind 'inference' with the "
                   "inputs and predictions), .npy or .csv (the predictions alone).")
@click.option("--chunk-rows", default=1 << 18, show_default=True, type=click.IntRange(min=1),
              help="Cells read, evaluated and written at a time.")
@click.option("--provider", type=LazyChoice("export.metadata:PROVIDERS"), default="auto", show_default=True)
@click.option("--threads", type=int, default=None, callback=thread_option(),
              help="ONNX Runtime intra-op threads, 1 to 4 per CPU [default: OMP_NUM_THREADS, else the available "
                   "CPUs shared between MPI ranks].")
@click.option("--out-of-range", "policy", type=LazyChoice("export.metadata:POLICIES"), default="warn",
              show_default=True,
              help="Cells outside the trained input ranges or manifold: clamp them, warn, stop, or count "
                   "(clamp them silently).")
@overwrite_option
def infer(model: Path, inputs: Path, output: str, chunk_rows: int, provider: str, threads: int | None,
          policy: str, overwrite: bool) -> None:
    """Run the ONNX surrogate MODEL on the cells in INPUTS (.h5, .npy or .csv), writing OUTPUT (.h5, .npy, .csv).

    MODEL has one input and one output tensor (a row model); columns are found by the input names. OUTPUT is
    written to a temporary file and renamed when complete; it may not be INPUTS or MODEL, nor an existing file
    unless --overwrite is given."""
    from export.io import check_output
    from export.runtime import Surrogate
    from surrogate.locks import exclusive

    target = check_output(output, {"the input file": inputs, "the model": model}, overwrite)
    with exclusive(target, "an inference into this file"):
        _infer(model, inputs, target, chunk_rows, Surrogate(model, provider=provider, threads=threads, policy=policy))


def _infer(model: Path, inputs: Path, output: Path, chunk_rows: int, surrogate: Any) -> None:
    """Evaluate `surrogate` on the cells of `inputs` chunk by chunk into `output` (the caller holds its lock)."""
    import warnings

    from tqdm import tqdm

    from export.io import open_inputs, prediction_file
    from export.runtime import InputError, OutOfRangeWarning

    policy = surrogate.policy
    info = surrogate.info
    reader = open_inputs(inputs, surrogate.input_names)
    click.echo(f"{model}: {len(surrogate.input_names)} inputs -> {len(surrogate.output_names)} outputs on "
               f"{surrogate.provider} ({surrogate.threads} threads); {reader.n_rows} cells from {inputs}")
    n_outside = start = 0
    attrs = {"model": str(model), "model_table_sha256": info.raw["table_sha256"], "source": str(inputs),
             "out_of_range_policy": policy}
    # the bar first: a kill that lands inside tqdm's constructor makes tqdm print a traceback as it is collected
    with tqdm(total=reader.n_rows, unit="cell", unit_scale=True, desc="infer") as progress:
        with prediction_file(output, reader.n_rows, info.input_units, info.output_units, attrs) as writer:
            for x in reader.chunks(chunk_rows):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", OutOfRangeWarning)  # counted below, reported once
                        y = surrogate(x)
                except InputError as exc:
                    raise InputError(f"{inputs}: rows {start}-{start + len(x) - 1}: {exc}") from None
                n_outside += surrogate.last_out_of_range  # counted by the call above (warn policy)
                writer.write(x, y)
                start += len(x)
                progress.update(len(x))
    if n_outside:
        treated = "evaluated as given" if policy == "warn" else "clipped onto them"
        click.echo(f"warning: {n_outside} of {reader.n_rows} cells lie outside the trained input ranges (or off "
                   f"the trained manifold) and were {treated}", err=True)
    click.echo(f"wrote {output}: {reader.n_rows} cells, outputs {', '.join(surrogate.output_names)}")


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as one JSON object.")
def info(model: Path, as_json: bool) -> None:
    """Print the metadata of the ONNX surrogate MODEL: its tensors (shapes, components with units and valid
    ranges), provenance and parity."""
    import json

    from export.metadata import MANIFOLD_KEY, PLUGINS_KEY, TABLE_KEY, V1_KEYS, WEIGHTS_KEY, read_model_file

    from ..provenance import described

    data, model_info = read_model_file(model)
    decoded = model_info.decoded()
    if as_json:
        click.echo(json.dumps(decoded, indent=2))
        return
    click.echo(f"{model}  ({len(data) / 1024:.1f} KiB, {decoded['precision']}, opset {decoded['opset']}, "
               f"format version {model_info.version})")
    for tensor in model_info.signature.inputs:
        click.echo(f"input {tensor.name} {tensor.dims()} {tensor.dtype}"
                   + (", valid range from training:" if tensor.ranged else ", no range (not checked):"))
        for c in tensor.components:
            shown = f"[{c.range[0]:.6g}, {c.range[1]:.6g}]" if c.range else "-"
            click.echo(f"  {c.name:<10} {shown:<26} {c.units}")
    parity = model_info.parity
    for tensor in model_info.signature.outputs:
        click.echo(f"output {tensor.name} {tensor.dims()} {tensor.dtype}, largest |ONNX - PyTorch| at export:")
        for c in tensor.components:
            error = parity.get(tensor.name, {}).get(c.name, float("nan"))
            click.echo(f"  {c.name:<10} {c.units:<6} {error:.3e}")
    shown_keys = {"signature", "parity_max_abs_error", WEIGHTS_KEY, TABLE_KEY, PLUGINS_KEY, MANIFOLD_KEY, *V1_KEYS}
    for record in decoded.get(PLUGINS_KEY, ()):
        click.echo(f"made with {described(record)}")
    if TABLE_KEY in decoded:  # the grid itself is hundreds of kilobytes of base64: its shape says what it is
        n_z, n_lambda, n_outputs = decoded[TABLE_KEY]["shape"]
        click.echo(f"{TABLE_KEY}: (Z, Lambda) grid {n_z} x {n_lambda}, {n_outputs} outputs (the C wrapper looks "
                   "it up compiled)")
    if model_info.manifold is not None:
        for line in manifold_lines(model_info.manifold):
            click.echo(line)
    for key, value in decoded.items():
        if key not in shown_keys:
            click.echo(f"{key}: {json.dumps(value) if not isinstance(value, str) else value}")
    recorded = decoded.get(WEIGHTS_KEY)
    click.echo(f"{WEIGHTS_KEY}: {recorded} (verified)" if recorded else
               f"{WEIGHTS_KEY}: none recorded (exported before weight checksums existed), not verified")


def manifold_lines(manifold: Any) -> list[str]:
    """The manifold bounds in a few lines: along which input, how many bins or nodes over what span, and for each
    bounded input the span of its lower and of its upper bound (every node: ``surrogate info --json``)."""
    import numpy as np

    along = manifold.names[manifold.along]
    form = (f"linear between {len(manifold.edges)} nodes" if manifold.linear
            else f"in {len(manifold.edges) - 1} bins")
    lines = [f"manifold: trained range of the other inputs as a function of {along}, {form} over "
             f"{manifold.edges[0]:.6g} .. {manifold.edges[-1]:.6g} (cells off it count as out of range; every node: "
             "--json)"]
    for i, name in enumerate(manifold.names):
        lower, upper = manifold.lower[:, i], manifold.upper[:, i]
        if i != manifold.along and np.isfinite(lower).all():
            lines.append(f"  {name:<10} lower bound {lower.min():.6g} .. {lower.max():.6g}, upper bound "
                         f"{upper.min():.6g} .. {upper.max():.6g}")
    return lines
