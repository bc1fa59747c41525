"""``surrogate bench train``: the trainer's samples/s against a plain DataLoader loop, in memory or streamed,
one job alone or several at once, with each job's threads and peak memory."""

from __future__ import annotations

import click

from ...config import COMPILE_MODES, FIELD_RANGES, PRECISIONS
from ...ranges import COUNT
from ..types import ranged
from ..common import check_json_file, emit_json, json_file_option, overwrite_option, report_echo
from ...threads import CHOSEN_THREADS, thread_option


def int_list(text: str, flag: str) -> list[int]:
    from ...errors import UserError

    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"{flag} {text!r}: expected comma-separated integers") from None
    if not values or min(values) < 1:
        raise UserError(f"{flag} {text!r}: expected positive integers")
    return values


@click.command("train")
@click.argument("table", type=click.Path(dir_okay=False))
@click.option("--batch-sizes", default="256,1024,4096", show_default=True, help="Comma-separated batch sizes.")
@click.option("--steps", default=2000, show_default=True, type=ranged(int, COUNT),
              help="Timed optimizer steps per job (after a warm-up).")
@click.option("--stream-memory", "stream_memory", default=0.0, show_default=True, metavar="MB",
              type=ranged(float, FIELD_RANGES["stream_memory"]),
              help="Also measure training streamed through a buffer of MB megabytes (0: in memory only).")
@click.option("--jobs", default="1", show_default=True,
              help="Comma-separated numbers of jobs started at once, e.g. 1,2: one alone, then two together.")
@click.option("--threads", default=0, show_default=True, callback=thread_option(CHOSEN_THREADS),
              help="Intra-op threads per job (0: the trainer's choice).")
@click.option("--weighting", default="uniform", show_default=True, help="Strategy the toolkit trainer uses.")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when present), cpu, cuda, cuda:N.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True,
              help="Mixed precision of the toolkit loop (torch.autocast).")
@click.option("--compile", "compile", type=click.Choice(COMPILE_MODES), default="none",
              show_default=True, help="torch.compile the model in the toolkit loop (reduce-overhead: CUDA graphs).")
@click.option("--seed", default=0, show_default=True, type=ranged(int, FIELD_RANGES["seed"]),
              help="Seed of the network's initial weights and of the shuffling, the same for every loop.")
@json_file_option("the measurements, keyed MODE/BATCH/JOBS (e.g. in-memory/256/1),")
@overwrite_option
def bench_train(table: str, batch_sizes: str, steps: int, stream_memory: float, jobs: str, threads: int,
                weighting: str, device: str, precision: str, compile: str, seed: int, json_path: str | None,
                overwrite: bool) -> None:
    """Samples/s of the toolkit trainer on TABLE (in memory, and streamed with --stream-memory) vs
    DataLoader(TensorDataset, shuffle=True), for each batch size and number of concurrent jobs; every job
    runs in a fresh process, so its peak memory is its own."""
    from ...threads import quiet_openmp

    quiet_openmp()  # inherited by the spawned jobs before they load torch
    from ...benchmarks.training import render, run_training_benchmark
    from ...table import Table

    check_json_file(json_path, {"the table": table}, overwrite)
    Table(table)  # a one-line error for a missing or foreign file, before any job starts
    modes = [0.0, stream_memory] if stream_memory else [0.0]
    results = [run_training_benchmark(table, batch_size=size, steps=steps, weighting=weighting, device=device,
                                      stream_memory=mode, threads=threads, jobs=count, precision=precision,
                                      compile=compile, seed=seed)
               for size in int_list(batch_sizes, "--batch-sizes") for count in int_list(jobs, "--jobs")
               for mode in modes]
    report_echo(json_path)(render(table, results))
    if json_path is not None:
        emit_json(json_path, {"table": table, "measurements": {result.key: result.to_dict() for result in results}})
