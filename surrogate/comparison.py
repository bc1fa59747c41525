"""Side-by-side training of several weighting strategies with the same seed, data split and budget."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

from .atomic import atomic_path
from .errors import UserError
from .run import CONFIG, METRICS, read_config
from .config import TrainOptions
from .trainer import Trainer

HIGHER_IS_BETTER = ("r2",)
LABELS = {"r2": "test R²", "rel_l2": "rel. L2"}


def headline_metric(metrics: Mapping[str, Mapping[str, float]]) -> str:
    """The metric a comparison tabulates: R² when the task reports it (rows), else the first metric the task
    reports per output (a PINN's relative L2 error)."""
    first = next(iter(metrics.values()))
    return "r2" if "r2" in first else next(iter(first))


@dataclass
class Comparison:
    """{strategy: {output: value of `metric` on the test split}} with where the CSV and PNG were written."""

    metric: str
    values: dict[str, dict[str, float]]
    csv_path: Path
    png_path: Path

    def render(self) -> str:
        strategies = list(self.values)
        outputs = list(next(iter(self.values.values())))
        width = max(12, *(len(s) + 2 for s in strategies))
        number = "{:>%d.5f}" % width if self.metric in HIGHER_IS_BETTER else "{:>%d.3e}" % width
        worst, label = (min, "min") if self.metric in HIGHER_IS_BETTER else (max, "max")
        lines = [f"{LABELS.get(self.metric, self.metric):<12}" + "".join(f"{s:>{width}}" for s in strategies)]
        for output in outputs:
            lines.append(f"{output:<12}" + "".join(number.format(self.values[s][output]) for s in strategies))
        lines.append(f"{label:<12}" + "".join(number.format(worst(self.values[s].values())) for s in strategies))
        return "\n".join(lines)


def compare_weightings(runs: Sequence[tuple[str, TrainOptions]], out_dir: Path, progress: bool = True) -> Comparison:
    """Train each (label, options) into out_dir/label (reusing finished runs) and tabulate the task's headline
    test metric (:func:`headline_metric`)."""
    from . import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    values: dict[str, dict[str, float]] = {}
    metric = ""
    for label, options in runs:
        run_dir = out_dir / label
        trainer = Trainer(options, run_dir, progress=progress)
        if (run_dir / CONFIG).is_file() and read_config(run_dir)["trainer"] != asdict(trainer.options):
            raise UserError(f"{run_dir}: holds a run with other options; choose another -o or remove it")
        if (run_dir / METRICS).is_file():
            metrics = json.loads((run_dir / METRICS).read_text())
        else:
            metrics = trainer.fit(resume=True).metrics
        split = "test" if "test" in metrics else "train"
        metric = metric or headline_metric(metrics[split])
        values[label] = {output: math.nan if entry[metric] is None else entry[metric]  # null: undefined
                         for output, entry in metrics[split].items()}
    comparison = Comparison(metric, values, out_dir / "compare.csv", out_dir / "compare.png")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["output", *values])
    for output in next(iter(values.values())):
        writer.writerow([output, *(values[label][output] for label in values)])
    with atomic_path(comparison.csv_path) as tmp:
        tmp.write_text(buffer.getvalue())
    plots.metric_comparison(values, metric, comparison.png_path)
    return comparison
