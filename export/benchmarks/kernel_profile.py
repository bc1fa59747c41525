"""Where a network's inference time goes: ONNX Runtime's own profiler, kernel time per operator type.

The FLOP-bound limit of `surrogate bench infer` counts only the multiply-adds of the linear layers; the rest of a
call (activations, the softmax, the input transform ahead of the first layer, the runtime between kernels) is
time that limit does not allow for. This module runs the exported file in a bare session (the wrapper's session
options: one graph, ``threads`` intra-op threads, full graph optimisation) with ONNX Runtime's profiler on, and
sums the kernel time of every node by operator type, so a report can say which part of the call keeps it from
the limit.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LINEAR_OPS = ("Gemm", "MatMul", "FusedGemm", "FusedMatMul")  # with the activations ONNX Runtime fuses into them


@dataclass
class KernelProfile:
    """Seconds per call by operator type (and ``runtime``: a run's time outside its kernels) at one batch size."""

    batch: int
    seconds: dict[str, float]

    def total(self) -> float:
        return sum(self.seconds.values())

    def linear_share(self) -> float:
        """Fraction of a call spent in the linear layers (with the activations fused into them)."""
        return sum(s for op, s in self.seconds.items() if op in LINEAR_OPS) / self.total()

    def line(self) -> str:
        ranked = sorted(self.seconds.items(), key=lambda item: -item[1])
        parts = ", ".join(f"{op} {s / self.total():.0%}" for op, s in ranked)
        return (f"ONNX Runtime's profile of a call at batch {self.batch} (bare session, {self.total() * 1e6:.0f} us "
                f"per call under the profiler): {parts}; linear layers {self.linear_share():.0%}")

    def to_dict(self) -> dict[str, object]:
        return {"batch": self.batch, "seconds_per_call": self.seconds, "linear_share": self.linear_share()}


def kernel_profile(model: Path, cells: np.ndarray, threads: int, scratch: Path, calls: int = 100,
                   warmup: int = 10) -> KernelProfile:
    """Profile `calls` runs of `model` on `cells` (one batch, float32 rows) after `warmup` runs left out. The time
    of a run outside its kernels (the runtime's own work between them) is reported as ``runtime``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_profiling = True
    options.profile_file_prefix = str(scratch / "kernel_profile")
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.ascontiguousarray(cells, dtype=np.float32)}
    for _ in range(warmup + calls):
        session.run(None, feed)
    events = json.loads(Path(session.end_profiling()).read_text())
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])[warmup:]
    start = runs[0]["ts"]
    seconds: Counter[str] = Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time") and event["ts"] >= start:
            seconds[event["args"]["op_name"]] += event["dur"] * 1e-6 / len(runs)
    seconds["runtime"] = max(0.0, sum(run["dur"] for run in runs) * 1e-6 / len(runs) - sum(seconds.values()))
    return KernelProfile(len(cells), dict(seconds))
