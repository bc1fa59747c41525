"""``surrogate bench gpu``: one command that measures every GPU path of the toolkit and writes what it found.

The plan is a list of stages; a stage is one step or several started together (steps that measure accuracy or
success, not speed, share the machine). Every step runs as its own subprocess (a CUDA fault or a hang ends that
step, not the check) under a time cap, writes its numbers to a JSON file, and its status (``ok``, ``failed``,
``timeout``, ``skipped``), wall time, exit code, numbers and the tail of its output go into ``results.json``;
``summary.txt`` is the short human version and ``log.txt`` the full output. A total budget bounds the whole
check: each step's cap is cut to what is left after the minimum the later stages keep, and a step with too
little left is skipped and says so. ``--quick`` shrinks every size so the same steps run on a CPU in a minute
or two (the test suite runs it there).

The stages, in order (see :mod:`surrogate.benchmarks.gpu_steps`, :mod:`surrogate.benchmarks.gpu_training` and
:mod:`export.benchmarks.gpu_inference`): ``env`` (versions, the device, the execution providers); ``tables`` (the prepared H2
and presumed-PDF tables, a resampled large table); ``tests`` (the ``gpu``-marked tests) together with ``kind-*``
(a short training of each surrogate kind: none of them is a timing); then, each alone, ``bench-train`` (trainer
vs DataLoader), ``train-modes`` (mixed precision and CUDA-graph throughput), ``precision`` (test R² of
fp32/bf16/fp16 trainings, given what time is left) and ``inference`` (batch sweep of the engines at hand, one
1e6-cell call with and without host transfers).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

TAIL_LINES = 15
POLL_S = 0.2


@dataclass
class Step:
    """One subprocess: `command(json_path)` gives its argv; `cap_s` its time cap; `keep_s` the time the plan
    keeps for it while earlier steps run (0: it may be skipped when time is short)."""

    name: str
    what: str
    command: Callable[[Path], list[str]]
    cap_s: float
    keep_s: float = 0.0
    needs: tuple[str, ...] = ()


@dataclass
class Outcome:
    status: str
    wall_s: float
    cap_s: float
    exit_code: int | None = None
    numbers: dict[str, Any] = field(default_factory=dict)
    log_tail: list[str] = field(default_factory=list)
    what: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "status": self.status, "wall_s": round(self.wall_s, 2),
                "cap_s": round(self.cap_s, 1),
                "exit_code": self.exit_code, "numbers": self.numbers, "log_tail": self.log_tail}


class Runner:
    """Runs the stages of a plan within a total budget, recording every step's outcome."""

    def __init__(self, work: Path, log_path: Path, budget_s: float, env: dict[str, str] | None = None):
        self.work, self.log_path, self.budget_s = work, log_path, budget_s
        self.env = env if env is not None else dict(os.environ)
        self.started = time.perf_counter()
        self.outcomes: dict[str, Outcome] = {}

    def remaining(self) -> float:
        return self.budget_s - (time.perf_counter() - self.started)

    def run_stage(self, stage: list[Step], available: float) -> None:
        running = []
        for step in stage:
            missing = [name for name in step.needs if self.outcomes.get(name, Outcome("", 0, 0)).status != "ok"]
            cap = min(step.cap_s, available)
            if missing:
                self.outcomes[step.name] = Outcome(f"skipped: needs {', '.join(missing)}", 0.0, cap)
            elif cap < max(5.0, 0.25 * step.keep_s):
                self.outcomes[step.name] = Outcome(f"skipped: out of time ({cap:.0f} s left)", 0.0, max(cap, 0))
            else:
                running.append(self.start(step, cap))
        while running:  # each step's wall time ends when it does, not when the stage does
            time.sleep(POLL_S)
            for entry in list(running):
                step, process, json_path, log_file, began, cap = entry
                overdue = time.perf_counter() - began > cap
                if process.poll() is not None or overdue:
                    self.outcomes[step.name] = self.finish(step, process, json_path, log_file, began, cap)
                    running.remove(entry)
        for step in stage:  # in the plan's order, whatever order they ended in
            self.outcomes[step.name] = self.outcomes.pop(step.name)
            self.outcomes[step.name].what = step.what

    def start(self, step: Step, cap: float) -> tuple:
        json_path = self.work / f"{step.name}.json"
        json_path.unlink(missing_ok=True)
        log_file = open(self.work / f"{step.name}.log", "w")
        command = step.command(json_path)
        log_file.write(f"$ {' '.join(command)}\n")
        log_file.flush()
        env = {**self.env, "PYTHONUNBUFFERED": "1", "GPU_CHECK_CAP_S": f"{cap:.0f}"}
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=self.work, env=env,
                                   start_new_session=True)  # its own process group: a timeout ends its children
        return step, process, json_path, log_file, time.perf_counter(), cap

    def finish(self, step: Step, process: subprocess.Popen, json_path: Path, log_file: Any, began: float,
               cap: float) -> Outcome:
        code = process.poll()
        wall = time.perf_counter() - began
        if code is None:
            kill_group(process)
            status = f"timeout after {cap:.0f} s"
        else:
            status = "ok" if code == 0 else f"failed (exit {code})"
        log_file.close()
        text = (self.work / f"{step.name}.log").read_text(errors="replace")
        with open(self.log_path, "a") as log:
            log.write(f"\n===== {step.name}: {status} in {wall:.1f} s =====\n{text}")
        numbers: dict[str, Any] = {}
        if json_path.is_file():
            try:
                numbers = json.loads(json_path.read_text())
            except json.JSONDecodeError as exc:
                status = f"failed (unreadable {json_path.name}: {exc})"
        elif status == "ok":
            status = f"failed (wrote no {json_path.name})"
        if status == "ok" and numbers.get("failed"):  # a step that ran to the end but found a failure
            status = f"failed ({numbers['failed']})"
        return Outcome(status, wall, cap, code, numbers, text.splitlines()[-TAIL_LINES:])


def kill_group(process: subprocess.Popen) -> None:
    """End a timed-out step and every process it started (its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def module(name: str, *args: str) -> Callable[[Path], list[str]]:
    """argv of ``python -m name *args --json PATH`` with this interpreter."""
    return lambda json_path: [sys.executable, "-m", name, *args, "--json", str(json_path)]


STEPS = "surrogate.benchmarks.gpu_steps"
TRAINING = "surrogate.benchmarks.gpu_training"
KIND_NAMES = ("h2", "pinn", "rollout", "cvae", "pdf")
OWN_TABLES = ("h2", "pdf")  # kinds that train on a table of the tables step


def plan(device: str, quick: bool, prepared: Path) -> list[list[Step]]:
    """The stages of the check; `quick` shrinks every size (a CPU smoke run of the same steps)."""
    full = not quick

    def pick(full_value: str, quick_value: str) -> str:
        return full_value if full else quick_value

    tables = ("tables",)
    small = [] if full else ["--quick"]
    kinds = [Step(f"kind-{name}", f"a short training of the {name} kind on {device}",
                  module(STEPS, "kind", name, "--device", device, "--epochs", pick("3", "1"), *small),
                  cap_s=150, keep_s=0, needs=tables if name in OWN_TABLES else ())
             for name in KIND_NAMES]
    return [
        [Step("env", "versions, the device, ONNX Runtime providers", module(STEPS, "env", "--device", device),
              cap_s=60, keep_s=10)],
        [Step("tables", "prepared H2 and presumed-PDF tables, a resampled large table",
              module(STEPS, "tables", "--prepared", str(prepared), "--big-rows", pick("1M", "20k")),
              cap_s=90, keep_s=20)],
        [Step("tests", "the gpu-marked tests", module(STEPS, "tests"), cap_s=150, keep_s=20), *kinds],
        [Step("bench-train", "toolkit trainer vs DataLoader samples/s",
              module(TRAINING, "bench-train", "--table", "big.h5", "--device", device,
                     "--batch-sizes", pick("256,1024,4096,65536", "256,1024"),
                     "--steps", pick("1000,500,200,20", "20,10")),
              cap_s=150, keep_s=60, needs=tables)],
        [Step("train-modes", "mixed precision and CUDA graphs (torch.compile reduce-overhead) samples/s",
              module(TRAINING, "train-modes", "--table", "h2.h5", "--device", device, "--steps", pick("500", "20"),
                     "--modes", pick("fp32:none,bf16:none,fp32:reduce-overhead", "fp32:none,bf16:none,fp32:default")),
              cap_s=150, keep_s=60, needs=tables)],
        [Step("precision", "test R² of fp32, bf16 and fp16 trainings",
              module(TRAINING, "precision", "--table", "h2.h5", "--device", device, "--epochs", pick("0", "2")),
              cap_s=420, keep_s=60, needs=tables)],
        [Step("inference", "batch sweep of the inference engines, one call with and without transfers",
              module("export.benchmarks.gpu_inference", "--run", "runs/h2", "--device", device,
                     "--batch-sizes", pick("1e3,1e4,1e5,1e6,1e7", "1e3,1e4,1e5"),
                     "--transfer-cells", pick("1000000", "100000"), "--min-time", pick("0.3", "0.05"),
                     *([] if full else ["--threads", "1"])),
              cap_s=150, keep_s=60, needs=("kind-h2",))],
    ]


def write_results(out: Path, outcomes: dict[str, Outcome], header: dict[str, Any]) -> None:
    """results.json (every step: status, wall time, numbers) and summary.txt, atomically."""
    from ..atomic import atomic_path, write_json

    steps = {name: outcome.to_dict() for name, outcome in outcomes.items()}
    not_measured = {name: note for outcome in outcomes.values()
                    for name, note in outcome.numbers.get("not_measured", {}).items()}
    write_json(out / "results.json", {"check": header, "steps": steps, "not_measured": not_measured})
    lines = [f"GPU check: device {header['device']}{' (quick)' if header['quick'] else ''}, "
             f"{header['wall_s']:.0f} s of a {header['budget_s']:.0f} s budget, {header['finished'] or 'unfinished'}"]
    for name, outcome in outcomes.items():
        lines.append(f"[{outcome.status}] {name}: {outcome.what} ({outcome.wall_s:.1f} s)")
        lines += [f"    {line}" for line in outcome.numbers.get("summary", [])]
        if not outcome.status.startswith(("ok", "skipped")):
            lines += [f"    | {line}" for line in outcome.log_tail[-5:]]
    lines += [f"not measured: {name}: {note}" for name, note in not_measured.items()]
    with atomic_path(out / "summary.txt") as temporary:
        temporary.write_text("\n".join(lines) + "\n")


def run_check(out: Path, device: str, quick: bool, budget_s: float, prepared: Path, work: Path) -> dict[str, Outcome]:
    """Run the plan in `work`, rewriting `out`'s results after every stage (a killed check keeps its results)."""
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    log_path = out / "log.txt"
    log_path.write_text("")
    runner = Runner(work, log_path, budget_s)
    header: dict[str, Any] = {"device": device, "quick": quick, "budget_s": budget_s, "work": str(work),
                              "python": sys.executable, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                              "finished": None, "wall_s": 0.0}
    stages = plan(device, quick, prepared)
    for index, stage in enumerate(stages):
        later = sum(max(step.keep_s for step in s) for s in stages[index + 1:])
        runner.run_stage(stage, runner.remaining() - later)
        header["wall_s"] = time.perf_counter() - runner.started
        if index == len(stages) - 1:
            header["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        write_results(out, runner.outcomes, header)
    return runner.outcomes
