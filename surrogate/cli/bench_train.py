"""``surrogate bench train``: the trainer's samples/s against a plain DataLoader loop, same model and batch."""

from __future__ import annotations

import click


@click.command("train")
@click.argument("table", type=click.Path(dir_okay=False))
@click.option("--batch-sizes", default="256,1024,4096", show_default=True, help="Comma-separated batch sizes.")
@click.option("--epochs", default=2, show_default=True, help="Timed epochs for each loop (after one warm-up).")
@click.option("--weighting", default="uniform", show_default=True, help="Strategy the toolkit trainer uses.")
@click.option("--device", default="auto", show_default=True)
def bench_train(table: str, batch_sizes: str, epochs: int, weighting: str, device: str) -> None:
    """Samples/s of the toolkit trainer vs DataLoader(TensorDataset, shuffle=True) on TABLE, in one run."""
    from ..benchmarks.training import run_training_benchmark
    from ..errors import UserError

    try:
        sizes = [int(part) for part in batch_sizes.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--batch-sizes {batch_sizes!r}: expected comma-separated integers") from None
    for size in sizes:
        click.echo(run_training_benchmark(table, batch_size=size, epochs=epochs, weighting=weighting,
                                          device=device).render() + "\n")
