"""The GPU check (`surrogate bench gpu`, `make gpu-check`): its runner records failures, timeouts and skips
without stopping; the toolkit's plugins are found without installing it; and the quick mode runs every step
end to end on this CPU, without Cantera, with real numbers in results.json."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from surrogate.benchmarks.gpu_check import Runner, Step, write_results
from surrogate.benchmarks.gpu_metadata import write_metadata
from waits import HANG_S

REPO = Path(__file__).resolve().parents[1]


def python_step(name: str, code: str, cap_s: float = 30, keep_s: float = 0, needs: tuple[str, ...] = ()) -> Step:
    """A step running `code` with the JSON path as sys.argv[1]."""
    return Step(name, name, lambda path: [sys.executable, "-c", code, str(path)], cap_s, keep_s, needs)


WRITE = "import json, sys; json.dump({'value': 42, 'summary': ['forty-two']}, open(sys.argv[1], 'w'))"


def test_a_failed_or_hung_step_is_recorded_and_the_others_still_run(tmp_path):
    runner = Runner(tmp_path, tmp_path / "log.txt", budget_s=60)
    # the hung step starts a child that would outlive it: the whole process group must go at the cap. Both sleep
    # for as long as the tests allow anything to take and name this test process, so that `pgrep` below finds
    # them and no sleeper of another test run on the same machine.
    marker = f"hung step of test process {os.getpid()}:"
    sleeper = f"import time; time.sleep({HANG_S})  # {marker}"
    hang = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {sleeper!r}]); exec({sleeper!r})"
    runner.run_stage([python_step("good", WRITE), python_step("crash", "raise SystemExit(3)"),
                      python_step("hang", hang, cap_s=5)], available=60)
    runner.run_stage([python_step("after", WRITE, needs=("good",)), python_step("orphan", WRITE, needs=("crash",))],
                     available=60)
    outcomes = runner.outcomes
    assert outcomes["good"].status == "ok" and outcomes["good"].numbers["value"] == 42
    assert outcomes["crash"].status == "failed (exit 3)" and outcomes["crash"].exit_code == 3
    assert outcomes["hang"].status == "timeout after 5 s" and outcomes["hang"].wall_s >= 5  # ended by the runner
    assert outcomes["after"].status == "ok"
    assert outcomes["orphan"].status == "skipped: needs crash"
    assert outcomes["good"].wall_s < outcomes["hang"].wall_s  # each step's own wall time, not the stage's
    leftover = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    for pid in leftover:  # a failing runner's sleepers go with the test, not 30 minutes later
        os.kill(int(pid), signal.SIGKILL)
    assert leftover == []


def test_steps_that_the_budget_cannot_hold_are_skipped_and_say_so(tmp_path):
    runner = Runner(tmp_path, tmp_path / "log.txt", budget_s=60)
    runner.run_stage([python_step("late", WRITE, keep_s=40)], available=3)
    assert runner.outcomes["late"].status == "skipped: out of time (3 s left)"


def test_results_json_and_summary_name_every_step(tmp_path):
    runner = Runner(tmp_path, tmp_path / "log.txt", budget_s=60)
    runner.run_stage([python_step("good", WRITE), python_step("silent", "pass")], available=60)
    header = {"device": "cpu", "quick": True, "budget_s": 60, "wall_s": 1.0, "finished": "now"}
    write_results(tmp_path, runner.outcomes, header)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["steps"]["good"]["numbers"]["value"] == 42
    assert results["steps"]["silent"]["status"] == "failed (wrote no silent.json)"
    summary = (tmp_path / "summary.txt").read_text()
    assert "[ok] good: good" in summary and "    forty-two" in summary
    assert "[failed (wrote no silent.json)] silent" in summary


def test_generated_metadata_exposes_the_same_entry_points_as_the_installed_project(tmp_path):
    info = write_metadata(REPO / "pyproject.toml", tmp_path)
    generated = next(iter(importlib.metadata.distributions(path=[str(tmp_path)])))
    assert generated.metadata["Name"] == "thermo-surrogate" and info.name.endswith(".dist-info")
    for group in ("surrogate.tasks", "surrogate.tables", "surrogate.models", "console_scripts"):
        mine = {(e.name, e.value) for e in generated.entry_points.select(group=group)}
        installed = {(e.name, e.value) for e in importlib.metadata.entry_points(group=group)
                     if e.dist is not None and e.dist.metadata["Name"] == "thermo-surrogate"}
        assert mine and mine == installed, group


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """The tables `make gpu-check-prepare` puts in .gpu-carry/tables (built here with Cantera when absent)."""
    folder = REPO / ".gpu-carry" / "tables"
    if (folder / "h2.h5").is_file() and (folder / "pdf.h5").is_file():
        return folder
    folder = tmp_path_factory.mktemp("prepared")
    surrogate = [sys.executable, "-m", "surrogate.cli.main", "table", "build"]
    subprocess.run([*surrogate, "h2-flamelet", "-o", "h2.h5", "--workers", "1"], cwd=folder, check=True)
    subprocess.run([*surrogate, "presumed-pdf", "-o", "pdf.h5", "--source", "h2.h5", "--n-Z-mean", "31", "--n-S",
                    "11", "--mc-check", "0", "--workers", "1"], cwd=folder, check=True)
    return folder


@pytest.mark.slow
def test_quick_mode_runs_every_step_on_this_cpu_without_cantera(prepared, tmp_path):
    """`scripts/gpu_check.sh OUT --device cpu --quick` with Cantera hidden, as on the GPU machine."""
    hidden = tmp_path / "hide" / "cantera"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('cantera hidden by the test')\n")
    env = {**os.environ, "PYTHONPATH": str(hidden.parent), "OMP_NUM_THREADS": "1", "PYTHON": sys.executable}
    out = tmp_path / "out"
    began = time.perf_counter()
    completed = subprocess.run([str(REPO / "scripts" / "gpu_check.sh"), str(out), "--device", "cpu", "--quick",
                                "--prepared", str(prepared), "--work", str(tmp_path / "work")],
                               env=env, capture_output=True, text=True, timeout=HANG_S)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    steps = results["steps"]
    assert list(steps) == ["env", "tables", "tests", "kind-h2", "kind-pinn", "kind-rollout", "kind-cvae", "kind-pdf",
                           "bench-train", "train-modes", "precision", "inference"]
    assert {name: step["status"] for name, step in steps.items()} == {name: "ok" for name in steps}
    assert 0 < results["check"]["wall_s"] <= time.perf_counter() - began
    assert steps["env"]["numbers"]["cantera"] is None and steps["env"]["numbers"]["cuda_available"] is False
    for batch in steps["bench-train"]["numbers"]["batches"].values():
        assert batch["toolkit_samples_per_s"] > 0 and batch["dataloader_samples_per_s"] > 0
    assert all(mode["samples_per_s"] > 0 for mode in steps["train-modes"]["numbers"]["modes"].values())
    phases = steps["precision"]["numbers"]["phases"]
    assert list(phases) == ["short"] and phases["short"]["epochs"] == 2  # --epochs 2 in quick mode
    runs = phases["short"]["runs"]
    assert set(runs) == {"fp32", "bf16", "fp16"} and runs["fp32"]["max_abs_r2_difference"] == 0
    assert all(-10 < r2 <= 1 for run in runs.values() for r2 in run["r2"].values())
    for kind in ("h2", "pinn", "rollout", "cvae", "pdf"):
        numbers = steps[f"kind-{kind}"]["numbers"]
        assert numbers["train_s"] > 0 and numbers["trained_on"] == "cpu" and numbers["test"]["worst"], kind
    inference = steps["inference"]["numbers"]
    cpu_rates = next(v for k, v in inference["engines"].items() if k.startswith("ONNX Runtime CPU"))
    assert all(rate["mean"] > 0 for rate in cpu_rates["cells_per_second"].values())
    assert "ONNX Runtime CUDA, IO binding (torch)" in results["not_measured"]
    assert inference["one_call"]["torch_including_transfers_s"] > 0
    assert "[ok] inference: batch sweep" in (out / "summary.txt").read_text()
