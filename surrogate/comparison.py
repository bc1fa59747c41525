"""Side-by-side training of several weighting strategies with the same seed, data split and budget."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from .atomic import atomic_path
from .errors import UserError
from .run import CONFIG, METRICS, read_config
from .config import TrainOptions
from .trainer import Trainer


@dataclass
class Comparison:
    """{strategy: {output: test R²}} with where the CSV and PNG were written."""

    r2: dict[str, dict[str, float]]
    csv_path: Path
    png_path: Path

    def render(self) -> str:
        strategies = list(self.r2)
        outputs = list(next(iter(self.r2.values())))
        width = max(12, *(len(s) + 2 for s in strategies))
        lines = [f"{'test R²':<12}" + "".join(f"{s:>{width}}" for s in strategies)]
        for output in outputs:
            lines.append(f"{output:<12}" + "".join(f"{self.r2[s][output]:>{width}.5f}" for s in strategies))
        lines.append(f"{'min':<12}" + "".join(f"{min(self.r2[s].values()):>{width}.5f}" for s in strategies))
        return "\n".join(lines)


def compare_weightings(runs: Sequence[tuple[str, TrainOptions]], out_dir: Path, progress: bool = True) -> Comparison:
    """Train each (label, options) into out_dir/label (reusing finished runs) and tabulate test R²."""
    from . import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    r2: dict[str, dict[str, float]] = {}
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
        r2[label] = {output: values["r2"] for output, values in metrics[split].items()}
    comparison = Comparison(r2, out_dir / "compare.csv", out_dir / "compare.png")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["output", *r2])
    for output in next(iter(r2.values())):
        writer.writerow([output, *(r2[label][output] for label in r2)])
    with atomic_path(comparison.csv_path) as tmp:
        tmp.write_text(buffer.getvalue())
    plots.r2_comparison(r2, comparison.png_path)
    return comparison
