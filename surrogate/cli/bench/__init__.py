"""``surrogate bench``: each benchmark measures the toolkit against a baseline in the same run."""

from __future__ import annotations

import click

from ..lazy import LazyGroup

BENCHMARKS = {
    "table": ("surrogate.cli.bench.table:bench_table", "S-curve continuation vs solving each strain from scratch."),
    "table-error": ("surrogate.cli.bench.table_error:bench_table_error",
                    "A flamelet table's error between its flamelets, against a finer reference table."),
    "train": ("surrogate.cli.bench.train:bench_train", "Trainer throughput vs a bare loop and a DataLoader loop."),
    "pinn": ("surrogate.cli.bench.pinn:bench_pinn", "Physics-informed training vs DeepXDE: time per step, error."),
    "infer": ("surrogate.cli.bench.infer:bench_infer", "ONNX Runtime, C, PyTorch and table lookup throughput."),
    "resample": ("surrogate.cli.bench.resample:bench_resample",
                 "A table of any size for scale tests, interpolated within the groups of another."),
    "cfd": ("export.cfd.code_saturne.compare:main",
            "The H2 jet flame in Code_Saturne: the surrogate against the table it replaces."),
    "gpu": ("surrogate.cli.bench.gpu:bench_gpu", "The GPU check: training, precision, kinds, inference, GPU tests."),
    "suite": ("surrogate.cli.bench.suite:suite", "Run declared benchmark suites into results files."),
    "render": ("surrogate.cli.bench.suite:render", "Render the published tables (docs, README) from results files."),
}


@click.group(cls=LazyGroup, lazy_commands=BENCHMARKS)
def bench() -> None:
    """Benchmarks, each reporting ratios against a baseline measured in the same run; the declared suites
    behind every published number, and the tables rendered from their results."""
