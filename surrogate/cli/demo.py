"""``surrogate demo``: the main job end to end on local defaults, reusing whatever is already built.

H2/air flamelet table (Cantera) -> softmax MLP with the recommended weighting -> per-species metrics
-> ONNX export with parity check -> ONNX Runtime inference on held-out cells.
"""

from __future__ import annotations

import click

from ..config import FIELD_RANGES
from .types import ranged

QUICK_LOOK = ("the full training (about 50,000 optimizer steps) is the demo's slow step on a CPU; for a quick look "
              "on a slow machine: surrogate demo --epochs 5 -o demo-quick")


def step(number: int, text: str) -> None:
    click.secho(f"\n[{number}/5] {text}", bold=True)


@click.command()
@click.option("-o", "--output", "out_dir", default="demo", show_default=True, type=click.Path(),
              help="Directory for every artefact of the demo.")
@click.option("--epochs", type=ranged(int, FIELD_RANGES["epochs"]),
              help="Training epochs. [default: the trainer's, about 50,000 optimizer steps, the slow step on a CPU; "
                   "--epochs 5 gives a quick look on a slow machine]")
@click.option("--table-option", "table_options", multiple=True, metavar="KEY=VALUE",
              help="Option of the h2-flamelet generator (see `surrogate table build h2-flamelet --help`).")
def demo(out_dir: str, epochs: int | None, table_options: tuple[str, ...]) -> None:
    """Build a small H2 flamelet table, train, evaluate, export to ONNX and run it (re-runs reuse results)."""
    import json

    import numpy as np

    from .. import registry
    from ..options import parse_key_values
    from ..provenance import build_configured
    from ..outputs import check_output_folder
    from ..run import METRICS, load_run
    from ..table import Table
    from ..config import TrainOptions
    from ..trainer import train
    from .train import print_metrics

    # the table options are checked before anything is written
    generator, options = registry.configure("tables", "h2-flamelet", parse_key_values(table_options, "--table-option"))
    root = check_output_folder(out_dir, overwrite=None)  # reused: a rerun continues from what is there
    root.mkdir(parents=True, exist_ok=True)
    table_path, run_dir, model_path = root / "h2_flamelets.h5", root / "run", root / "h2_surrogate.onnx"

    step(1, f"H2/air counterflow flamelet table -> {table_path}")
    if table_path.is_file():
        click.echo("  reusing the existing table")
    else:
        build_configured("h2-flamelet", generator, table_path, options)
    table = Table(table_path)
    click.echo(f"  {table.n_rows} points, inputs {', '.join(table.input_names)}; "
               f"{len(table.defaults.softmax_outputs or ())} species")

    step(2, f"train the softmax MLP with the recommended weighting -> {run_dir}")
    if (run_dir / METRICS).is_file():
        click.echo("  reusing the finished run")
    else:
        if epochs is None:
            click.echo(f"  {QUICK_LOOK}")
        result = train(TrainOptions(table=str(table_path), epochs=epochs), run_dir, resume=True)
        click.echo(f"  best epoch {result.best_epoch} of {len(result.history)}")

    step(3, "evaluate on the held-out test split")
    run = load_run(run_dir)
    metrics = json.loads((run_dir / METRICS).read_text())
    print_metrics(metrics, "test")
    defined = [(name, m["r2"]) for name, m in metrics["test"].items() if m["r2"] is not None]  # null: constant
    if defined:
        name, r2 = min(defined, key=lambda item: item[1])
        click.echo(f"  lowest test R²: {name} {r2:.5f}")

    step(4, f"export to ONNX with parity check -> {model_path}")
    from export.onnx_export import export_run

    if model_path.is_file() and model_path.stat().st_mtime >= (run_dir / "model.pt").stat().st_mtime:
        click.echo("  reusing the exported model")
    else:
        exported = export_run(run, model_path, echo=lambda line: click.echo("  " + line))
        click.echo(f"  wrote {exported.path} ({exported.n_bytes / 1024:.1f} KiB)")

    step(5, "ONNX Runtime inference on held-out cells")
    from export.runtime import Surrogate

    surrogate = Surrogate(model_path, policy="clip")
    table = run.table()
    rows = run.split_rows("test", table)
    x = table.read_matrix(run.input_names)[rows].astype(np.float32)
    y = table.read_matrix(run.output_names)[rows]
    outside = surrogate.count_out_of_range(x)
    predicted = surrogate(x)
    click.echo(f"  provider {surrogate.provider}; {len(x)} cells ({outside} outside the trained ranges, clipped); "
               "largest |ONNX - table| per species:")
    for j, name in enumerate(run.output_names):
        click.echo(f"    {name:<8} {np.max(np.abs(predicted[:, j] - y[:, j])):.3e}   (range {np.ptp(y[:, j]):.3e})")
    click.echo(f"  sum of predicted mass fractions: {predicted.sum(axis=1).min():.6f} .. {predicted.sum(axis=1).max():.6f}")

    click.secho("\nArtefacts", bold=True)
    click.echo(f"  table       {table_path}   (plots: surrogate table plot {table_path} -o {root / 'table_plots'})")
    click.echo(f"  run         {run_dir}   (metrics.json, history.csv, plots/)")
    click.echo(f"  ONNX model  {model_path}")
    click.secho("Next (with the environment active, e.g. `. .venv/bin/activate`)", bold=True)
    click.echo(f"  surrogate table info {table_path}")
    click.echo(f"  surrogate compare {table_path} --weighting uniform --weighting inverse-variance --weighting schedule")
    click.echo(f"  surrogate info {model_path}")
    click.echo(f"  surrogate infer {model_path} {table_path} -o {root / 'predictions.h5'}")
    click.echo(f"  surrogate bench infer --run {run_dir}")
