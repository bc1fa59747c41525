"""``surrogate bench train``: the trainer's samples/s against a plain DataLoader loop, same model and batch."""

from __future__ import annotations

import click


@click.command("train")
@click.argument("table", type=click.Path(dir_okay=False))
@click.option("--batch-size", default=1024, show_default=True)
@click.option("--epochs", default=3, show_default=True, help="Timed epochs for each loop (after one warm-up).")
@click.option("--weighting", default="uniform", show_default=True, help="Strategy the toolkit trainer uses.")
@click.option("--device", default="auto", show_default=True)
def bench_train(table: str, batch_size: int, epochs: int, weighting: str, device: str) -> None:
    """Samples/s of the toolkit trainer vs DataLoader(TensorDataset, shuffle=True) on TABLE, in one run."""
    from ..benchmarks.training import run_training_benchmark

    result = run_training_benchmark(table, batch_size=batch_size, epochs=epochs, weighting=weighting, device=device)
    click.echo(result.render())
