"""``surrogate sample``: draw outputs of a generative run (a CVAE decoder) for given conditions."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UserError
from ..ranges import COUNT, SEED
from .types import ranged
from .common import overwrite_option

SHOWN_ROWS = 5  # conditions summarized on the terminal
DRAWS_PER_CALL = 65536  # decoder evaluations per model call


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--momenta", "--conditions", "conditions", required=True, type=click.Path(dir_okay=False),
              help="Conditions, one row each (.h5, .npy or .csv; columns found by the run's condition names, "
                   "e.g. p_C_x ... p_S_z).")
@click.option("-n", "--samples", default=100, show_default=True, type=ranged(int, COUNT), help="Draws per condition.")
@click.option("-o", "--output", type=click.Path(),
              help="Write the draws: .npy (conditions, samples, outputs) or .csv (one line per draw).")
@click.option("--seed", default=0, show_default=True, type=ranged(int, SEED), help="Seed of the latent draws.")
@overwrite_option
def sample(run_dir: str, conditions: str, samples: int, output: str | None, seed: int, overwrite: bool) -> None:
    """Draw -n outputs per condition from the trained generative run RUN_DIR: every input tensor of the run's
    signature after the condition is a latent, drawn from its standard normal prior."""
    import numpy as np
    import torch

    from export.io import open_inputs

    from ..atomic import atomic_path
    from ..outputs import check_output_file
    from ..run import RunDirectory, load_run

    sources = {"the --conditions file": conditions, **RunDirectory(run_dir).inputs()}
    target = check_output_file(output, inputs=sources, overwrite=overwrite) if output is not None else None
    if target is not None and target.suffix not in (".npy", ".csv"):
        raise UserError(f"-o {output}: expected a .npy or .csv file")
    run = load_run(run_dir)
    tensors = run.signature["inputs"]
    if len(tensors) < 2:
        raise UserError(f"{run_dir}: task {run.task!r} has no latent input; sample draws from generative runs "
                        "(e.g. --task cvae with latent_dim > 0)")
    names = [component["name"] for component in tensors[0]["components"]]
    outputs = [component["name"] for component in run.signature["outputs"][0]["components"]]
    reader = open_inputs(Path(conditions), names)
    generator = torch.Generator().manual_seed(seed)
    parts = []
    for x in reader.chunks(max(1, DRAWS_PER_CALL // samples)):
        repeated = torch.as_tensor(np.repeat(x, samples, axis=0), dtype=torch.float32)
        latents = [torch.randn(len(repeated), int(t["shape"][-1]), generator=generator) for t in tensors[1:]]
        with torch.no_grad():
            parts.append(run.model(repeated, *latents).numpy().reshape(len(x), samples, len(outputs)))
    draws = np.concatenate(parts) if parts else np.empty((0, samples, len(outputs)), dtype=np.float32)
    n = len(draws)
    click.echo(f"{run_dir}: {samples} draws for each of {n} conditions from {conditions}")
    for row in range(min(n, SHOWN_ROWS)):
        mean, std = draws[row].mean(axis=0, dtype=np.float64), draws[row].std(axis=0, dtype=np.float64)
        click.echo(f"condition {row}: " + ", ".join(f"{name} {m:.4g} ± {s:.2g}" for name, m, s in
                                                   zip(outputs, mean, std)))
    if target is None:
        return
    with atomic_path(target) as tmp:
        if target.suffix == ".npy":
            with open(tmp, "wb") as handle:
                np.save(handle, draws.astype(np.float32))
        else:
            rows = np.column_stack([np.repeat(np.arange(n), samples), np.tile(np.arange(samples), n),
                                    draws.reshape(-1, len(outputs))])
            np.savetxt(tmp, rows, delimiter=",", header=",".join(["condition", "sample", *outputs]), comments="",
                       fmt=["%d", "%d", *["%.9g"] * len(outputs)])
    click.echo(f"wrote {target}: {n} x {samples} draws of {len(outputs)} outputs")
