"""``surrogate bench pinn``: physics-informed training against DeepXDE on the same problem, network, optimizer
and points, for the same number of steps."""

from __future__ import annotations

import click

from ...ranges import COUNT
from ..common import overwrite_option
from ..types import ranged


@click.command("pinn")
@click.argument("table", type=click.Path(dir_okay=False))
@click.option("--steps", default=1000, show_default=True, type=ranged(int, COUNT),
              help="Full-batch Adam steps of each side.")
@click.option("--passes", default=100, show_default=True, type=ranged(int, COUNT),
              help="Toolkit steps per epoch (the pinn task's passes): it validates once per epoch.")
@click.option("--lr", default=1e-3, show_default=True, type=float, help="Adam learning rate of both sides.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the points and of both networks.")
@click.option("--json", "json_path", type=click.Path(), default=None, help="Also write the comparison as JSON.")
@overwrite_option
def bench_pinn(table: str, steps: int, passes: int, lr: float, seed: int, json_path: str | None,
               overwrite: bool) -> None:
    """Time per step and error after equal steps of the toolkit and DeepXDE (if installed: pip install
    'thermo-surrogate[bench]') on TABLE, a Poisson collocation dataset (`surrogate table build poisson-multiscale`
    or `poisson-2d`), each in its own fresh process with one thread, taking turns."""
    from ...threads import quiet_openmp

    quiet_openmp()  # inherited by the spawned runs before they load torch
    from ...benchmarks.pinn import deepxde_available, run_pinn_benchmark
    from ...outputs import check_output_file

    if json_path is not None:
        check_output_file(json_path, inputs={"the table": table}, overwrite=overwrite, flag="--json")
    if not deepxde_available():
        click.echo("DeepXDE is not installed (pip install 'thermo-surrogate[bench]'): timing the toolkit alone")
    result = run_pinn_benchmark(table, steps=steps, passes=passes, lr=lr, seed=seed)
    click.echo(result.render())
    if json_path is not None:
        from ...atomic import write_json

        write_json(json_path, result.to_dict())
        click.echo(f"wrote {json_path}")
