"""Run a benchmark suite through the command line, as a user would, and collect its results file.

Every table build, training and ``surrogate bench`` command runs as ``python -m surrogate.cli.main ...`` in a
fresh process (its own thread choice, its own peak memory, no state carried from one run to the next); its
output goes to a ``log.txt`` beside the run. Tables are built once per kind and options and reused by later
suites and reruns (generators are deterministic). Each finished seed leaves a ``seed.json`` record; a rerun
after a kill reuses a record only when it was measured at the same clean commit with the same commands, so a
resumed suite gives the results file a clean run would, and anything else is trained afresh. The results file holds, per
run and seed, every metric and the wall time, their median and range over the seeds, and the provenance
(commit, versions, machine), and is written atomically.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..atomic import write_json
from ..errors import UserError
from .provenance import git_commit, machine, versions
from .suite import RunSpec, Suite, TableSpec

SURROGATE = (sys.executable, "-m", "surrogate.cli.main")
# Written by the suites and the renderer, or documentation only: not the measured code.
NOT_CODE = ("README.md", "docs", "mkdocs.yml", "benchmarks/results")


def cli_options(options: dict[str, Any]) -> list[str]:
    """``{split-by: group, physics: [a, b], quiet: true}`` -> ``--split-by group --physics a --physics b --quiet``."""
    args: list[str] = []
    for key, value in options.items():
        flag = f"--{key}"
        if value is True:
            args.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, list):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


def slug(label: str) -> str:
    """A folder name for a run label."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "-", label).strip("-")[:80] or "run"


def summarize(values: list[float | None]) -> dict[str, Any]:
    """Median and range of the defined values over the seeds (None where no seed gave one)."""
    defined = [value for value in values if value is not None]
    if not defined:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(defined), "min": min(defined), "max": max(defined), "n": len(defined)}


class SuiteRunner:
    """Runs one resolved suite and returns its results as a dict. Under `work`: ``tables/`` (shared by every
    suite, so equal tables are built once) and ``NAME/TIER/RUN/seed-N/`` (run directory, bench report, log)."""

    def __init__(self, suite: Suite, work: Path, repo: Path, echo: Callable[[str], None], resume: bool = True):
        self.suite, self.work, self.repo, self.echo, self.resume = suite, work, repo, echo, resume
        self.code = git_commit(repo, exclude=NOT_CODE)

    def command(self, args: list[str], log: Path) -> None:
        """Run ``surrogate ARGS``, appending its output to `log`; a failure is one line naming the log."""
        shown = "surrogate " + " ".join(args)
        with log.open("a") as handle:
            handle.write(f"$ {shown}\n")
            handle.flush()
            done = subprocess.run([*SURROGATE, *args], stdout=handle, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, cwd=self.repo)
        if done.returncode != 0:
            lines = [line for line in log.read_text().splitlines() if line.strip()]
            raise UserError(f"`{shown}` failed with exit code {done.returncode} ({lines[-1] if lines else 'no output'}"
                            f"); full output in {log}")

    def table(self, spec: TableSpec) -> tuple[Path, dict[str, Any]]:
        """Build the table of `spec` unless an identical build exists; its path and a record for the results."""
        path = self.work / "tables" / f"{spec.kind}-{spec.key()}.h5"
        record: dict[str, Any] = {"kind": spec.kind, "options": spec.options, "reused": path.is_file()}
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            self.echo(f"building table {spec.name}: {spec.kind} -> {path}")
            start = time.perf_counter()
            self.command(["table", "build", spec.kind, "-o", str(path), *cli_options(spec.options)],
                         path.with_suffix(".log"))
            record["wall_s"] = round(time.perf_counter() - start, 2)
        return path, record

    def seed(self, run: RunSpec, table: Path, seed: int,
             reference: Path | None = None) -> tuple[dict[str, float | None], float, bool]:
        """One run at one seed (`reference`: the built table of the run's reference): its metric values, wall time
        (training and bench commands, not the tables) and whether they were reused from an earlier, identical
        measurement."""
        directory = self.work / self.suite.name / self.suite.tier / slug(run.label) / f"seed-{seed}"
        record_path = directory / "seed.json"
        log, run_dir, report = directory / "log.txt", directory / "run", directory / "bench.json"
        commands = self.commands(run, table, seed, directory, reference)
        identity = {"commit": self.code["commit"], "commands": commands}
        reusable = self.resume and self.code["commit"] is not None and not self.code["dirty"]
        if reusable and record_path.is_file():
            try:
                record = json.loads(record_path.read_text())
            except (OSError, ValueError):
                record = {}
            if record.get("identity") == identity:
                return record["values"], record["wall_s"], True
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        start = time.perf_counter()
        for args in commands:
            self.command(args, log)
        wall = time.perf_counter() - start
        source = report if run.bench else run_dir / "metrics.json"
        data = json.loads(source.read_text())
        values = {metric.label: metric.value(data, str(source)) for metric in self.suite.metrics}
        write_json(record_path, {"identity": identity, "values": values, "wall_s": wall})
        return values, wall, False

    def commands(self, run: RunSpec, table: Path, seed: int, directory: Path,
                 reference: Path | None = None) -> list[list[str]]:
        """The ``surrogate`` commands that measure `run` at `seed` in `directory` (`reference`: the built table of
        the run's reference, for a bench that takes one)."""
        run_dir, report = directory / "run", directory / "bench.json"
        commands = []
        if run.train is not None:
            commands.append(["train", str(table), "-o", str(run_dir), "--seed", str(seed), "--quiet",
                             *cli_options(run.train)])
        if run.bench in ("train", "pinn"):
            commands.append(["bench", run.bench, str(table), "--seed", str(seed), "--json", str(report),
                             *cli_options(run.bench_options)])
        elif run.bench == "infer":
            commands.append(["bench", "infer", "--run", str(run_dir), "--json", str(report),
                             *cli_options(run.bench_options)])
        elif run.bench == "table-error":  # deterministic: no seed
            commands.append(["bench", "table-error", str(table), "--reference", str(reference), "--json", str(report),
                             *cli_options(run.bench_options)])
        elif run.bench == "cfd":
            commands.append(["bench", "cfd", "--flamelets", str(table), "-o", str(directory / "cfd"), "--seed",
                             str(seed), "--json", str(report), *cli_options(run.bench_options)])
        return commands

    def run(self) -> dict[str, Any]:
        """Every run at every seed; the results file's content."""
        suite = self.suite
        started = datetime.now(timezone.utc)
        code = self.code
        if code["dirty"]:
            self.echo("warning: the working tree has uncommitted changes; the results name the commit they are on")
        tables: dict[str, dict[str, Any]] = {}
        paths: dict[str, Path] = {}
        for spec in (spec for run in suite.runs for spec in (run.table, run.reference) if spec is not None):
            if spec.name not in paths:
                paths[spec.name], tables[spec.name] = self.table(spec)
        total, done = len(suite.runs) * len(suite.seeds), 0
        rows = []
        for run in suite.runs:
            per_seed = {}
            for seed in suite.seeds:
                done += 1
                self.echo(f"[{done}/{total}] {run.label}, seed {seed}")
                reference = paths[run.reference.name] if run.reference is not None else None
                values, wall, reused = self.seed(run, paths[run.table.name], seed, reference)
                per_seed[str(seed)] = {"values": values, "wall_s": round(wall, 2)}
                shown = ", ".join(f"{k} {v:.4g}" for k, v in list(values.items())[:4] if v is not None)
                self.echo(f"    {wall:.1f} s{' (measured earlier at this commit)' if reused else ''}: {shown}")
            rows.append({
                "label": run.label, "table": run.table.name,
                **({"reference": run.reference.name} if run.reference is not None else {}),
                "train": run.train, "bench": run.bench,
                "bench_options": run.bench_options, "seeds": per_seed,
                "summary": {m.label: summarize([s["values"][m.label] for s in per_seed.values()])
                            for m in suite.metrics},
                "wall_s": summarize([s["wall_s"] for s in per_seed.values()]),
            })
        return {
            "suite": suite.name, "tier": suite.tier, "title": suite.title, "description": suite.description,
            "suite_file": str(suite.source.resolve().relative_to(self.repo.resolve()))
            if suite.source.resolve().is_relative_to(self.repo.resolve()) else str(suite.source),
            "suite_sha256": suite.source_sha256, "commit": code["commit"], "dirty": code["dirty"],
            "started": started.isoformat(timespec="seconds"),
            "wall_s": round((datetime.now(timezone.utc) - started).total_seconds(), 1),
            "versions": versions(), "machine": machine(), "seeds": list(suite.seeds),
            "format": suite.format, "transpose": suite.transpose,
            "metrics": [{"label": m.label, "path": m.describe(), "format": m.format} for m in suite.metrics],
            "tables": tables, "runs": rows,
        }
