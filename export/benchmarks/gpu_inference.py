"""Inference on a GPU, the ``inference`` step of ``surrogate bench gpu``: cells/s of every engine at hand over a
batch sweep (1e3 to 1e7 cells), against ONNX Runtime on the CPU in the same run, and the time of one large call
with and without the host transfers.

Engines (each skipped with its reason where it cannot run):

- ``ONNX Runtime CPU``: the checked runtime (:class:`export.runtime.Surrogate`, batches run in cache-sized
  chunks) on NumPy arrays, all CPUs: the baseline;
- ``ONNX Runtime CUDA, IO binding (torch)`` and ``(CuPy)``: the exported model on the CUDA execution provider,
  inputs and outputs bound on the device (:class:`export.runtime.Surrogate`), and ``fp16 model`` (exported with
  ``fp16=True``); they need onnxruntime-gpu;
- ``torch eager fp32`` / ``torch eager fp16 autocast``: the trained model on device-resident tensors;
- ``torch CUDA graph fp32``: the same, captured once per batch size and replayed (launch overhead removed).

Every call on the GPU is followed by a synchronization inside the timed region. "Including transfers" starts
from a NumPy array in host memory and ends with the outputs back in one; "excluding" keeps both on the device.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import click

from surrogate.threads import thread_option

from .inference import Rate, bench_cells, time_calls
from ..runtime import CUDA_PROVIDER, Surrogate


def synced(call: Callable[[Any], Any], device: Any) -> Callable[[Any], Any]:
    """`call` followed by a device synchronization (on CUDA), so a timer sees the finished work."""
    import torch

    if device.type != "cuda":
        return call

    def run(x: Any) -> Any:
        y = call(x)
        torch.cuda.synchronize(device)
        return y

    return run


def cuda_graph(network: Any, x: Any) -> Callable[[Any], Any]:
    """`network` on inputs shaped like `x`, captured as a CUDA graph: a call copies its input into the captured
    buffer and replays the graph (the output buffer is reused by the next call)."""
    import torch

    static_x = x.clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream), torch.no_grad():
        for _ in range(2):
            network(static_x)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.no_grad():
        static_y = network(static_x)

    def replay(inputs: Any) -> Any:
        static_x.copy_(inputs)
        graph.replay()
        return static_y

    return replay


def median_seconds(call: Callable[[], Any], repeat: int) -> float:
    call()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


class Sweep:
    """Rates of named engines over batch sizes; an engine that raises is recorded with its error, not fatal."""

    def __init__(self, batches: list[int], min_time: float):
        self.batches, self.min_time = batches, min_time
        self.rates: dict[str, dict[int, Rate]] = {}
        self.notes: dict[str, str] = {}
        self.not_measured: dict[str, str] = {}

    def skip(self, name: str, reason: str) -> None:
        """An engine that cannot run here, and why."""
        self.not_measured[name] = self.notes[name] = reason
        print(f"{name}: not measured: {reason}", flush=True)

    def attempt(self, name: str, setup: Callable[[], Callable[[int], Callable[[], Any]]]) -> None:
        """Measure the engine `setup()` returns (see :meth:`measure`), or record why it could not be set up."""
        try:
            make = setup()
        except Exception as exc:  # e.g. CuPy missing, a CUDA library that does not load, an fp16 export refused
            self.skip(name, f"could not be set up: {exc.__class__.__name__}: {str(exc)[:300]}")
            return
        self.measure(name, make)

    def measure(self, name: str, make: Callable[[int], Callable[[], Any]]) -> None:
        """`make(batch)` returns a call evaluating `batch` cells; timed at every batch size."""
        self.rates[name] = {}
        for batch in self.batches:
            try:
                self.rates[name][batch] = time_calls(make(batch), batch, self.min_time, max_calls=1000)
            except Exception as exc:  # e.g. out of device memory at 1e7: keep the sizes measured so far
                self.notes[name] = f"stopped at batch {batch}: {exc.__class__.__name__}: {str(exc)[:300]}"
                break
            print(f"{name}: batch {batch}: {self.rates[name][batch].mean:.3g} cells/s", flush=True)

    def to_dict(self) -> dict[str, Any]:
        names = [*self.rates, *(name for name in self.notes if name not in self.rates)]
        return {name: {"note": self.notes.get(name, ""),
                       "cells_per_second": {str(b): vars(r) for b, r in self.rates.get(name, {}).items()}}
                for name in names}

    def lines(self) -> list[str]:
        names = list(self.to_dict())
        width = max(len(n) for n in names)
        out = [f"{'cells/s (mean)':<{width}} " + " ".join(f"{b:>9.0e}" for b in self.batches)]
        for name in names:
            rates = self.rates.get(name, {})
            cells = [f"{rates[b].mean:>9.3g}" if b in rates else f"{'-':>9}" for b in self.batches]
            note = self.notes.get(name)
            note = f"not measured: {note}" if name in self.not_measured else note
            out.append(f"{name:<{width}} " + " ".join(cells) + (f"  ({note})" if note else ""))
        return out


def ort_cuda_engines(sweep: Sweep, model: Path, model_fp16: Callable[[], Path], cells: Any, device: Any) -> None:
    """ONNX Runtime's CUDA execution provider with torch and CuPy inputs bound on the device, fp32 and fp16."""
    import onnxruntime as ort
    import torch

    names = ["ONNX Runtime CUDA, IO binding (torch)", "ONNX Runtime CUDA, IO binding (CuPy)",
             "ONNX Runtime CUDA fp16 model, IO binding (torch)"]
    available = ort.get_available_providers()
    if CUDA_PROVIDER not in available or device.type != "cuda":
        reason = (f"onnxruntime {ort.__version__} here has no {CUDA_PROVIDER} (providers: {', '.join(available)}); "
                  "it needs onnxruntime-gpu" if CUDA_PROVIDER not in available else "the device is not CUDA")
        for name in names:
            sweep.skip(name, reason)
        return
    if hasattr(ort, "preload_dlls"):  # CUDA and cuDNN from the nvidia-* wheels, found without LD_LIBRARY_PATH
        ort.preload_dlls()
    on_device = torch.as_tensor(cells, device=device)

    def bound(path: Callable[[], Path], inputs: Any) -> Callable[[int], Callable[[], Any]]:
        surrogate = Surrogate(path(), provider="cuda", policy="count")
        if surrogate.provider != CUDA_PROVIDER:
            raise RuntimeError(f"the session fell back to {surrogate.provider}")
        return lambda b: (lambda x=inputs[:b]: surrogate(x))

    def cupy_cells() -> Any:
        import cupy

        return cupy.asarray(cells)

    sweep.attempt(names[0], lambda: bound(lambda: model, on_device))
    sweep.attempt(names[1], lambda: bound(lambda: model, cupy_cells()))
    sweep.attempt(names[2], lambda: bound(model_fp16, on_device))


def run_inference(run_dir: Path, work: Path, device_name: str, batches: list[int], transfer_cells: int,
                  min_time: float, threads: int) -> dict[str, Any]:
    """Every engine at every batch size and the one-call transfer timing; the numbers as a dict."""
    import torch

    from surrogate.run import load_run

    from ..metadata import read_model_file
    from ..onnx_export import export_run

    device = torch.device(device_name)
    run = load_run(run_dir)
    model = export_run(run, work / "model.onnx").path
    info = read_model_file(model)[1]
    cells, source = bench_cells(info.input_names, info.input_ranges, run.table_path, max(batches))
    sweep = Sweep(batches, min_time)

    cpu = Surrogate(model, provider="cpu", threads=threads, policy="count")
    sweep.measure(f"ONNX Runtime CPU, Surrogate ({threads} threads)", lambda b: (lambda x=cells[:b]: cpu(x)))
    ort_cuda_engines(sweep, model, lambda: export_run(run, work / "model_fp16.onnx", fp16=True).path, cells, device)

    network = run.model.to(device).eval()
    on_device = torch.as_tensor(cells, device=device)
    torch.set_num_threads(threads)

    def eager(x: Any) -> Any:
        with torch.inference_mode():
            return network(x)

    def eager_half(x: Any) -> Any:
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16):
            return network(x)

    sweep.measure(f"torch eager fp32 ({device.type})",
                  lambda b: (lambda f=synced(eager, device), x=on_device[:b]: f(x)))
    half_error = None
    if device.type == "cuda":
        sweep.measure("torch eager fp16 autocast (cuda)",
                      lambda b: (lambda f=synced(eager_half, device), x=on_device[:b]: f(x)))
        probe = on_device[:100_000]
        reference = eager(probe).float()
        half_error = float(((eager_half(probe).float() - reference).abs().amax(0)
                            / reference.abs().amax(0).clamp_min(1e-30)).max())
    else:
        sweep.skip("torch eager fp16 autocast (cuda)", "the device is not CUDA")

    host = cells[:transfer_cells]
    resident = on_device[:transfer_cells]
    repeat = 5
    one_call = {
        "cells": transfer_cells,
        "onnxruntime_cpu_s": median_seconds(lambda: cpu(host), repeat),
        "torch_excluding_transfers_s": median_seconds(lambda: synced(eager, device)(resident), repeat),
        "torch_including_transfers_s": median_seconds(
            lambda: eager(torch.from_numpy(host).to(device)).cpu().numpy(), repeat),
    }
    if "ONNX Runtime CUDA, IO binding (torch)" in sweep.rates:
        gpu = Surrogate(model, provider="cuda", policy="count")
        one_call["onnxruntime_cuda_excluding_transfers_s"] = median_seconds(lambda: gpu(resident), repeat)
        one_call["onnxruntime_cuda_including_transfers_s"] = median_seconds(lambda: gpu(host), repeat)
    if device.type == "cuda":  # last: a capture that fails could leave the device unusable for the others
        sweep.measure("torch CUDA graph fp32 (cuda)",
                      lambda b: (lambda f=synced(cuda_graph(network, on_device[:b]), device), x=on_device[:b]: f(x)))
    else:
        sweep.skip("torch CUDA graph fp32 (cuda)", "the device is not CUDA")
    lines = [f"cells: {source}; model {model.stat().st_size} bytes ONNX; device {device}"
             + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""), *sweep.lines()]
    lines.append(f"one call of {transfer_cells} cells (median of {repeat}): " + ", ".join(
        f"{key[:-2].replace('_', ' ')} {value * 1e3:.2f} ms" for key, value in one_call.items() if key.endswith("_s")))
    if half_error is not None:
        lines.append(f"fp16 autocast vs fp32, largest error relative to each output's largest value: {half_error:.2e}")
    return {"device": str(device), "cells": source, "batches": batches, "threads": threads,
            "engines": sweep.to_dict(), "one_call": one_call, "fp16_autocast_relative_error": half_error,
            "not_measured": sweep.not_measured,
            "summary": lines}


@click.command()
@click.option("--run", "run_dir", default="runs/h2", show_default=True, type=click.Path(path_type=Path))
@click.option("--device", default="cuda")
@click.option("--batch-sizes", default="1e3,1e4,1e5,1e6,1e7", show_default=True)
@click.option("--transfer-cells", default=1_000_000, show_default=True)
@click.option("--min-time", default=0.3, show_default=True)
@click.option("--threads", default=0, show_default=True, callback=thread_option("every CPU"),
              help="ONNX Runtime CPU threads (0: every CPU).")
@click.option("--json", "json_path", required=True, type=click.Path(path_type=Path))
def main(run_dir: Path, device: str, batch_sizes: str, transfer_cells: int, min_time: float, threads: int,
         json_path: Path) -> None:
    """Inference throughput of every engine at hand on the trained run --run."""
    from surrogate.atomic import write_json

    batches = sorted({int(float(part)) for part in batch_sizes.split(",") if part.strip()})
    numbers = run_inference(run_dir, Path.cwd(), device, batches, transfer_cells, min_time,
                            threads or os.cpu_count() or 1)
    write_json(json_path, numbers)


if __name__ == "__main__":
    main()
