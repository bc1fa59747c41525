"""Steps of ``surrogate bench gpu`` that set up and check: ``env``, ``tests``, ``tables`` and ``kind NAME``.

Each is ``python -m surrogate.benchmarks.gpu_steps STEP ... --json PATH``, run in the check's work folder; it
writes its numbers (and ``summary``, a few lines for summary.txt) to PATH. Tables and trainings go through the
``surrogate`` CLI in subprocesses, as a user would run them, so no step needs Cantera unless a table must be
built that was not prepared (``make gpu-check-prepare`` builds the H2 and presumed-PDF tables where Cantera is).
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from ..atomic import write_json

CLI = [sys.executable, "-m", "surrogate.cli.main"]
REPO = Path(__file__).resolve().parents[2]
PREPARED = REPO / ".gpu-carry" / "tables"


def cli(*args: str, log: bool = True) -> float:
    """Run ``surrogate ARGS`` (output to this step's log); seconds taken; a failure raises with its exit code."""
    began = time.perf_counter()
    print("$ surrogate " + " ".join(args), flush=True)
    completed = subprocess.run([*CLI, *args], stdout=None if log else subprocess.DEVNULL, stderr=subprocess.STDOUT)
    if completed.returncode != 0:
        raise click.ClickException(f"`surrogate {' '.join(args[:3])} ...` failed with exit code {completed.returncode}")
    return time.perf_counter() - began


def version(name: str) -> str | None:
    """The module's __version__, or None when it does not import (missing, or hidden)."""
    try:
        return str(getattr(importlib.import_module(name), "__version__", "?"))
    except Exception:  # ImportError, or a broken install raising anything on import
        return None


@click.group()
def main() -> None:
    """Set-up and check steps of the GPU check."""


@main.command()
@click.option("--device", default="cuda")
@click.option("--json", "json_path", required=True, type=click.Path(path_type=Path))
def env(device: str, json_path: Path) -> None:
    """Python, torch, CUDA device, ONNX Runtime providers, CuPy and Cantera as this machine has them."""
    import torch

    numbers: dict[str, Any] = {
        "python": sys.version.split()[0], "executable": sys.executable, "platform": platform.platform(),
        "cpus": os.cpu_count(), "torch": torch.__version__, "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(), "numpy": version("numpy"), "cupy": version("cupy"),
        "cantera": version("cantera"), "onnx": version("onnx"), "onnxruntime": version("onnxruntime"),
    }
    if numbers["onnxruntime"]:
        import onnxruntime as ort

        numbers["onnxruntime_providers"] = ort.get_available_providers()
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        numbers.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                       compute_capability=f"{props.major}.{props.minor}", multiprocessors=props.multi_processor_count,
                       cudnn=torch.backends.cudnn.version())
    elif device.startswith("cuda"):
        numbers["failed"] = "torch sees no CUDA device"
    providers = ", ".join(numbers.get("onnxruntime_providers", [])) or "none"
    numbers["summary"] = [f"{numbers.get('gpu', 'no GPU')}; torch {numbers['torch']} (CUDA {numbers['torch_cuda']}); "
                          f"onnxruntime {numbers['onnxruntime']} ({providers}); cupy {numbers['cupy']}; "
                          f"cantera {numbers['cantera'] or 'absent'}; python {numbers['python']}, "
                          f"{numbers['cpus']} CPUs"]
    write_json(json_path, numbers)


PYTEST_COUNTS = re.compile(r"(\d+) (passed|failed|skipped|deselected|errors?|xfailed|xpassed)")


@main.command()
@click.option("--json", "json_path", required=True, type=click.Path(path_type=Path))
def tests(json_path: Path) -> None:
    """The test files that hold ``gpu``-marked tests, run with ``-m gpu`` (skipped where there is no GPU)."""
    files = sorted(str(p) for p in (REPO / "tests").glob("test_*.py") if "mark.gpu" in p.read_text())
    command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "-rs", *files]
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    print(completed.stdout[-20000:], completed.stderr[-5000:], flush=True)
    last = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else ""
    counts = {word.rstrip("s") if word.startswith("error") else word: int(n)
              for n, word in PYTEST_COUNTS.findall(last)}
    numbers: dict[str, Any] = {"files": [Path(f).name for f in files], "exit_code": completed.returncode,
                               "counts": counts, "summary": [f"{', '.join(Path(f).name for f in files)}: {last}"]}
    if completed.returncode not in (0, 5):  # 5: nothing collected
        numbers["failed"] = f"pytest exit {completed.returncode}: {last}"
    write_json(json_path, numbers)


def table_rows(path: Path) -> int:
    from ..table import Table

    return Table(path).n_rows


@main.command()
@click.option("--prepared", type=click.Path(path_type=Path), default=PREPARED, show_default=True)
@click.option("--big-rows", default="1M", show_default=True, help="Rows of the resampled table for bench-train.")
@click.option("--json", "json_path", required=True, type=click.Path(path_type=Path))
def tables(prepared: Path, big_rows: str, json_path: Path) -> None:
    """h2.h5 and pdf.h5 from the prepared folder (built with Cantera if it is missing and Cantera is here), and
    big.h5: h2.h5 resampled to --big-rows rows (no Cantera needed)."""
    numbers: dict[str, Any] = {"summary": []}
    # the work folder is this check's own (a --work given again holds the last check's files): rebuilt in place
    builds = {"h2.h5": ["table", "build", "h2-flamelet", "-o", "h2.h5", "--overwrite"],
              "pdf.h5": ["table", "build", "presumed-pdf", "-o", "pdf.h5", "--source", "h2.h5", "--n-Z-mean", "31",
                         "--n-S", "11", "--mc-check", "0", "--overwrite"]}
    for name, build in builds.items():
        began = time.perf_counter()
        if (prepared / name).is_file():
            shutil.copyfile(prepared / name, name)
            source = f"prepared ({prepared / name})"
        elif version("cantera"):
            cli(*build)
            source = "built here with Cantera"
        else:
            raise click.ClickException(f"{prepared / name} is missing and Cantera is not installed: run "
                                       "`make gpu-check-prepare` where Cantera is and carry .gpu-carry")
        numbers[name] = {"source": source, "rows": table_rows(Path(name)), "seconds": time.perf_counter() - began}
    numbers["big.h5"] = {"source": "surrogate bench resample h2.h5",
                         "seconds": cli("bench", "resample", "h2.h5", "-o", "big.h5", "--rows", big_rows, "--quiet",
                                        "--overwrite"),
                         "rows": table_rows(Path("big.h5"))}
    numbers["summary"] = [f"{name}: {entry['rows']} rows, {entry['source']}, {entry['seconds']:.1f} s"
                          for name, entry in numbers.items() if name.endswith(".h5")]
    write_json(json_path, numbers)


# the short training of each surrogate kind: (table build args or None for a table of the tables step, table,
# train args); --quick shrinks the builds through QUICK_BUILD
KINDS: dict[str, tuple[list[str] | None, str, list[str]]] = {
    "h2": (None, "h2.h5", []),
    "pinn": (["poisson-multiscale", "-o", "poisson.h5"], "poisson.h5", ["--batch-size", "1000"]),
    "rollout": (["kdv", "-o", "kdv.h5"], "kdv.h5",
                ["--model", "node", "--weighting", "uniform", "--val-fraction", "0", "--test-fraction", "0.3334"]),
    "cvae": (["coulomb-explosion", "-o", "coulomb.h5", "--rows", "20000"], "coulomb.h5",
             ["--model", "cvae", "--model-option", "latent_dim=4", "--physics", "energy", "--physics", "mre",
              "--batch-size", "512"]),
    "pdf": (None, "pdf.h5", []),
}
QUICK_BUILD = {"kdv": ["--trajectories", "6", "--steps", "50"], "coulomb-explosion": ["--rows", "2000"]}


def summarize_metrics(metrics: dict[str, dict[str, dict[str, float]]]) -> dict[str, Any]:
    """Per metric, the worst value over the outputs of the test split (train when there is none)."""
    split = "test" if "test" in metrics else next(iter(metrics))
    worst: dict[str, float] = {}
    for values in metrics[split].values():
        for key, value in values.items():
            if value is None or value != value:
                continue
            worst[key] = min(worst.get(key, value), value) if key == "r2" else max(worst.get(key, value), value)
    return {"split": split, "outputs": len(metrics[split]), "worst": worst}


@main.command()
@click.argument("name", type=click.Choice(sorted(KINDS)))
@click.option("--device", default="cuda")
@click.option("--epochs", default=3, show_default=True)
@click.option("--quick", is_flag=True)
@click.option("--json", "json_path", required=True, type=click.Path(path_type=Path))
def kind(name: str, device: str, epochs: int, quick: bool, json_path: Path) -> None:
    """Build the kind's table (when it has its own) and train it for --epochs on --device."""
    build, table, train_args = KINDS[name]
    numbers: dict[str, Any] = {"kind": name, "device": device, "epochs": epochs, "build_s": 0.0}
    if build is not None:
        args = [*build, *QUICK_BUILD.get(build[0], [])] if quick else build
        numbers["build_s"] = cli("table", "build", *args, "--overwrite")  # the work folder is this check's own
    run = Path("runs") / name
    shutil.rmtree(run, ignore_errors=True)
    numbers["train_s"] = cli("train", table, "-o", str(run), "--device", device, "--epochs", str(epochs), "--quiet",
                             *train_args)
    config = json.loads((run / "config.json").read_text())
    numbers.update(task=config["task"]["name"], model=config["model"]["name"], trained_on=config["trainer"]["device"],
                   test=summarize_metrics(json.loads((run / "metrics.json").read_text())))
    with open(run / "history.csv", newline="") as history:
        epoch_times = [float(row["time_s"]) for row in csv.DictReader(history)]
    numbers["epoch_s_median"] = sorted(epoch_times)[len(epoch_times) // 2]
    worst = ", ".join(f"{k} {v:.4g}" for k, v in numbers["test"]["worst"].items())
    numbers["summary"] = [f"{name}: task {numbers['task']}, model {numbers['model']}, {epochs} epochs on {device}: "
                          f"build {numbers['build_s']:.1f} s, train {numbers['train_s']:.1f} s (median epoch "
                          f"{numbers['epoch_s_median']:.3f} s); worst {numbers['test']['split']} {worst}"]
    write_json(json_path, numbers)


if __name__ == "__main__":
    main()
