"""Side-by-side training of several weighting strategies with the same seed, data split and budget."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from .atomic import atomic_path
from .baselines import warnings_of
from .errors import UserError
from .metrics import HIGHER_IS_BETTER, headline_metric
from .run import CONFIG, METRICS, read_config
from .config import TrainOptions
from .trainer import Trainer

LABELS = {"r2": "test R²", "rel_l2": "rel. L2"}


@dataclass
class Comparison:
    """{strategy: {output: value of `metric` on the test split}} with where the CSV and PNG were written, and the
    trivial baselines on the same split ({baseline: {output: value}}: every strategy's run has the same split, so
    the first run's) with a WARNING line per strategy and baseline it does not beat."""

    metric: str
    values: dict[str, dict[str, float]]
    csv_path: Path
    png_path: Path
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def render(self) -> str:
        outputs = list(next(iter(self.values.values())))
        lines = self.table(LABELS.get(self.metric, self.metric), self.values, outputs)
        if self.baselines:
            lines += ["trivial baselines:", *self.table("", self.baselines, outputs)]
        return "\n".join(lines + self.warnings)

    def table(self, title: str, columns: Mapping[str, Mapping[str, float]], outputs: Sequence[str]) -> list[str]:
        """One line per output and a last line with the worst value, one column per entry of `columns` ('-'
        where a column has no value for an output)."""
        width = max(12, *(len(s) + 2 for s in columns))
        number = "{:>%d.5f}" % width if self.metric in HIGHER_IS_BETTER else "{:>%d.3e}" % width
        worst, label = (min, "min") if self.metric in HIGHER_IS_BETTER else (max, "max")

        def cell(value: float | None) -> str:
            return f"{'-':>{width}}" if value is None else number.format(value)

        lines = [f"{title:<12}" + "".join(f"{s:>{width}}" for s in columns)]
        for output in outputs:
            lines.append(f"{output:<12}" + "".join(cell(columns[s].get(output)) for s in columns))
        lines.append(f"{label:<12}" + "".join(cell(worst(columns[s].values())) for s in columns))
        return lines


def compare_weightings(runs: Sequence[tuple[str, TrainOptions]], out_dir: Path, progress: bool = True) -> Comparison:
    """Train each (label, options) into out_dir/label (reusing finished runs) and tabulate the task's headline
    test metric (:func:`headline_metric`). Options the trainer refuses leave no out_dir behind: out_dir is made
    by the first run that starts (its run directory inside it)."""
    from . import plots

    values: dict[str, dict[str, float]] = {}
    baselines: dict[str, dict[str, float]] = {}
    warnings: list[str] = []
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
        values[label] = defined(metrics[split], metric)
        warnings += warnings_of(metrics, who=f"{label!r} is ")
        baselines = baselines or {name: defined(scores, metric)
                                  for name, scores in (metrics.get("baselines") or {}).get("scores", {}).items()}
    comparison = Comparison(metric, values, out_dir / "compare.csv", out_dir / "compare.png", baselines, warnings)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["output", *values])
    for output in next(iter(values.values())):
        writer.writerow([output, *(values[label][output] for label in values)])
    with atomic_path(comparison.csv_path) as tmp:
        tmp.write_text(buffer.getvalue())
    plots.metric_comparison(values, metric, comparison.png_path)
    return comparison


def defined(scores: Mapping[str, Mapping[str, float | None]], metric: str) -> dict[str, float]:
    """{output: value of `metric`}, NaN where metrics.json holds null (undefined: a constant output's R²)."""
    return {output: math.nan if entry[metric] is None else entry[metric] for output, entry in scores.items()}
