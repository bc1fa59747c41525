"""Training steps of ``surrogate bench gpu``: ``bench-train``, ``train-modes`` and ``precision``.

- ``bench-train``: :func:`surrogate.benchmarks.training.run_training_benchmark` (the toolkit trainer against
  ``DataLoader(TensorDataset)``) at each batch size, steps per size given, each in a fresh process.
- ``train-modes``: the toolkit loop alone in each (precision, compile) mode at one batch size: mixed precision
  and torch.compile (``reduce-overhead``: CUDA graphs) against fp32 eager in the same run.
- ``precision``: trainings of one table in fp32, bf16 and fp16, started together (they measure accuracy, not
  speed), and the test R² of each output against fp32's: the default budget, or under the step's time cap
  (``GPU_CHECK_CAP_S``) a short run first whose epoch times say how much of the default budget fits; the numbers
  say which.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from ..atomic import write_json
from .training import render, run_training_benchmark

CLI = [sys.executable, "-m", "surrogate.cli.main"]
CALIBRATION_EPOCHS = 20  # the short precision run that measures epoch times under the real concurrency


def int_list(text: str) -> list[int]:
    return [int(float(part)) for part in text.split(",") if part.strip()]


@click.group()
def main() -> None:
    """Training measurements of the GPU check."""


@main.command("bench-train")
@click.option("--table", default="big.h5", show_default=True)
@click.option("--device", default="cuda")
@click.option("--batch-sizes", default="256,1024,4096,65536", show_default=True)
@click.option("--steps", default="1000,500,200,20", show_default=True, help="Timed steps per batch size.")
@click.option("--json", "json_path", required=True, type=click.Path(path_type=Path))
def bench_train(table: str, device: str, batch_sizes: str, steps: str, json_path: Path) -> None:
    """Toolkit trainer vs DataLoader samples/s at each batch size."""
    sizes, counts = int_list(batch_sizes), int_list(steps)
    if len(sizes) != len(counts):
        raise click.BadParameter("give one --steps value per batch size")
    results, rows = [], {}
    for size, count in zip(sizes, counts):  # the JSON is rewritten after each size: a timeout keeps the others
        results.append(run_training_benchmark(table, batch_size=size, steps=count, device=device))
        job = results[-1].jobs[0]
        print(results[-1].row(), flush=True)
        rows[str(size)] = {"steps": count, "toolkit_samples_per_s": job.samples_per_s,
                           "dataloader_samples_per_s": job.dataloader_samples_per_s,
                           "ratio": job.samples_per_s / job.dataloader_samples_per_s, "threads": job.threads,
                           "setup_s": job.setup_s, "peak_rss_mb": job.peak_rss_mb}
        lines = render(table, results).splitlines()
        lines.append(f"toolkit / DataLoader at batch {size}: {rows[str(size)]['ratio']:.1f}x")
        write_json(json_path, {"table": table, "device": job.device, "train_rows": job.train_rows, "batches": rows,
                               "summary": lines})


@main.command("train-modes")
@click.option("--table", default="h2.h5", show_default=True)
@click.option("--device", default="cuda")
@click.option("--batch-size", default=256, show_default=True)
@click.option("--steps", default=500, show_default=True)
@click.option("--modes", default="fp32:none,bf16:none,fp32:reduce-overhead,fp32:default,fp16:none", show_default=True,
              help="PRECISION:COMPILE pairs; the first is the reference.")
@click.option("--json", "json_path", required=True, type=click.Path(path_type=Path))
def train_modes(table: str, device: str, batch_size: int, steps: int, modes: str, json_path: Path) -> None:
    """Samples/s of the toolkit loop in each mode, and its speed-up over the first mode."""
    rates: dict[str, Any] = {}
    for mode in modes.split(","):  # the JSON is rewritten after each mode: a timeout keeps the others
        precision, compile = mode.split(":")
        began = time.perf_counter()
        try:
            result = run_training_benchmark(table, batch_size=batch_size, steps=steps, device=device,
                                            baseline=False, precision=precision, compile=compile)
        except Exception as exc:  # a mode that fails (e.g. compile without a compiler) is recorded, others go on
            rates[mode] = {"error": f"{exc.__class__.__name__}: {exc}"[:500]}
        else:
            rates[mode] = {"samples_per_s": result.jobs[0].samples_per_s,
                           "setup_and_warmup_s": time.perf_counter() - began}
        print(f"{mode}: {rates[mode]}", flush=True)
        write_json(json_path, modes_numbers(table, device, batch_size, steps, rates))


def modes_numbers(table: str, device: str, batch_size: int, steps: int, rates: dict[str, Any]) -> dict[str, Any]:
    """The train-modes JSON: each mode's rate and speed-up over the first mode, and summary lines."""
    reference = next(iter(rates.values())).get("samples_per_s")
    lines = [f"{table}, batch {batch_size}, {steps} timed steps, device {device} (toolkit loop, no DataLoader):"]
    for mode, entry in rates.items():
        if "samples_per_s" in entry and reference:
            entry["speedup"] = entry["samples_per_s"] / reference
            lines.append(f"  {mode:<22} {entry['samples_per_s']:>12.0f} samples/s  x{entry['speedup']:.2f}  "
                         f"(set-up, compile and warm-up {entry['setup_and_warmup_s']:.0f} s)")
        else:
            lines.append(f"  {mode:<22} failed: {entry.get('error', 'no reference rate')}")
    numbers: dict[str, Any] = {"table": table, "device": device, "batch_size": batch_size, "steps": steps,
                               "modes": rates, "summary": lines}
    failures = [mode for mode, entry in rates.items() if "error" in entry]
    if failures:
        numbers["failed"] = f"modes {', '.join(failures)}"
    return numbers


def default_epochs(table: str, batch_size: int = 256) -> int:
    """The epochs of the default training budget on `table` (its training split: 80 % of the rows)."""
    from ..config import TrainOptions
    from ..table import Table

    n_train = math.ceil(0.8 * Table(table).n_rows)
    return TrainOptions(table=table, batch_size=batch_size).resolved(n_train).epochs or 1


def train_together(table: str, device: str, names: list[str], epochs: int, tag: str) -> dict[str, Any]:
    """One training per precision, all started at once; per precision its test R² per output (or its error), its
    summed epoch times, and the wall time of them all."""
    processes = {}
    began = time.perf_counter()
    for name in names:
        run = f"runs/precision-{tag}-{name}"
        shutil.rmtree(run, ignore_errors=True)  # a rerun in the same work folder starts over
        command = [*CLI, "train", table, "-o", run, "--device", device, "--precision", name, "--epochs", str(epochs),
                   "--seed", "0", "--quiet"]
        print("$ " + " ".join(command), flush=True)
        processes[name] = subprocess.Popen(command)
    codes = {name: process.wait() for name, process in processes.items()}
    results: dict[str, Any] = {"epochs": epochs, "wall_s": time.perf_counter() - began, "runs": {}}
    for name in names:
        run = Path(f"runs/precision-{tag}-{name}")
        if codes[name] != 0 or not (run / "metrics.json").is_file():
            results["runs"][name] = {"error": f"exit {codes[name]}"}
            continue
        with open(run / "history.csv", newline="") as history:
            epoch_s = sum(float(row["time_s"]) for row in csv.DictReader(history))
        test = json.loads((run / "metrics.json").read_text())["test"]
        results["runs"][name] = {"r2": {output: values["r2"] for output, values in test.items()}, "epochs_s": epoch_s}
    compare_to_reference(results["runs"], names[0])
    return results


def compare_to_reference(runs: dict[str, Any], reference_name: str) -> None:
    """Each run's min R², largest |R² - reference R²| over the outputs and whether all agree to 4 decimals."""
    reference = runs[reference_name].get("r2")
    for run in runs.values():
        if "r2" not in run or reference is None:
            continue
        diff = {k: abs(run["r2"][k] - reference[k]) for k in reference}
        run.update(min_r2=min(run["r2"].values()), max_abs_r2_difference=max(diff.values()),
                   worst_output=max(diff, key=diff.get),
                   same_to_4_decimals=all(round(run["r2"][k], 4) == round(reference[k], 4) for k in reference))


def precision_lines(label: str, table: str, device: str, phase: dict[str, Any], reference: str) -> list[str]:
    lines = [f"{label}: {table}, {phase['epochs']} epochs each, {len(phase['runs'])} trainings at once on {device}, "
             f"{phase['wall_s']:.0f} s"]
    for name, run in phase["runs"].items():
        if "min_r2" not in run:
            lines.append(f"  {name}: failed ({run.get('error', 'no reference')})")
            continue
        lines.append(f"  {name}: min test R2 {run['min_r2']:.5f}; largest |R2 - {reference} R2| "
                     f"{run['max_abs_r2_difference']:.2e} ({run['worst_output']}); every output equal to 4 "
                     f"decimals: {'yes' if run['same_to_4_decimals'] else 'NO'}")
    return lines


@main.command()
@click.option("--table", default="h2.h5", show_default=True)
@click.option("--device", default="cuda")
@click.option("--precisions", default="fp32,bf16,fp16", show_default=True, help="The first is the reference.")
@click.option("--epochs", default=0, show_default=True,
              help="0: the default budget, or as much of it as the step's time cap holds (measured by a short run).")
@click.option("--json", "json_path", required=True, type=click.Path(path_type=Path))
def precision(table: str, device: str, precisions: str, epochs: int, json_path: Path) -> None:
    """Train TABLE in each precision (same seed, same epochs), all at once; test R² of each against the first.

    Under a time cap (GPU_CHECK_CAP_S, set by the check) with --epochs 0: a short run of CALIBRATION_EPOCHS
    first, whose per-epoch times (under the same concurrency) say how many epochs of the default budget the rest
    of the cap holds; then that run. The numbers keep both, and say whether the default budget was reached.
    """
    names = precisions.split(",")
    cap = float(os.environ.get("GPU_CHECK_CAP_S", "0"))
    deadline = time.perf_counter() + cap
    default = default_epochs(table)
    numbers: dict[str, Any] = {"table": table, "device": device, "default_epochs": default, "phases": {}}
    first = epochs or (min(default, CALIBRATION_EPOCHS) if cap else default)
    short = first < default
    phase = train_together(table, device, names, first, "a")
    numbers["phases"]["short" if short else "main"] = phase
    numbers["summary"] = precision_lines("short run" if short else "default budget", table, device, phase, names[0])
    write_json(json_path, numbers)  # kept if the longer run below does not finish in time
    timed = [run["epochs_s"] for run in phase["runs"].values() if "epochs_s" in run]
    if not epochs and short and len(timed) == len(names):
        per_epoch = 1.25 * max(timed) / first  # + checkpoints and the slowest of the concurrent runs
        startup = phase["wall_s"] - min(timed)
        more = max(0, min(default, int(0.85 * (deadline - time.perf_counter() - 10 - startup) / per_epoch)))
        numbers["planned"] = {"seconds_per_epoch": per_epoch, "startup_s": startup, "epochs": more}
        if more > first:
            phase = numbers["phases"]["main"] = train_together(table, device, names, more, "b")
            label = "default budget" if more == default else f"{more} of the default {default} epochs (time cap)"
            numbers["summary"] += precision_lines(label, table, device, phase, names[0])
    failed = [name for name, run in phase["runs"].items() if "error" in run]
    if failed:
        numbers["failed"] = f"trainings {', '.join(failed)}"
    write_json(json_path, numbers)


if __name__ == "__main__":
    main()
