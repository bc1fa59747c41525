"""Top-level ``surrogate`` command: wires the command groups together, imports nothing heavy."""

from __future__ import annotations

import click

from .. import __version__
from .lazy import LazyGroup

COMMANDS = {
    "plugins": ("surrogate.cli.plugins:plugins", "List installed plugins with their descriptions and options."),
    "table": ("surrogate.cli.table:table", "Build, inspect and plot thermochemical tables."),
    "train": ("surrogate.cli.train:train", "Train a surrogate on a table into a run directory."),
    "evaluate": ("surrogate.cli.train:evaluate", "Per-output metrics of a trained run, optionally on another table."),
    "compare": ("surrogate.cli.train:compare", "Train several weighting strategies alike and compare R²."),
    "export": ("surrogate.cli.export:export", "Export a trained run to ONNX and check parity."),
    "infer": ("surrogate.cli.export:infer", "Run an ONNX surrogate on a file of inputs."),
    "info": ("surrogate.cli.export:info", "Print the metadata of an ONNX surrogate."),
    "report": ("surrogate.cli.report:report", "Write a self-contained HTML report of a trained run."),
    "sample": ("surrogate.cli.sample:sample", "Draw outputs of a generative (CVAE) run for given conditions."),
    "bench": ("surrogate.cli.bench:bench", "Benchmarks: table generation, training, inference."),
    "demo": ("surrogate.cli.demo:demo", "The main job end to end: table, training, ONNX, inference."),
}


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="surrogate")
def cli() -> None:
    """thermo-surrogate: Cantera tables -> neural surrogates -> ONNX inference in CFD solvers."""


if __name__ == "__main__":
    cli()
