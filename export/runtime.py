"""Python runtime: load a thermo-surrogate ONNX file once, then call it on arrays of cells.

``Surrogate(path)`` checks the file against the contract of :mod:`export.metadata`, opens one ONNX Runtime
session and is called on ``(n_cells, n_inputs)`` physical inputs:

- NumPy arrays go through ``session.run``;
- torch tensors (CPU or CUDA) and CuPy arrays are bound in place through ONNX Runtime's IO binding: the
  input buffer is handed to the session by pointer and the output is written into a tensor/array allocated
  on the same device, so no host copy is made. The result has the caller's type and device.

Provider ``auto`` picks ``CUDAExecutionProvider`` when the installed ONNX Runtime has it (onnxruntime-gpu)
and a GPU is visible, else the CPU. ``providers`` tells what the session really runs on: an onnxruntime-gpu
whose CUDA or cuDNN libraries do not load silently falls back to the CPU, and we warn about that.

Threads: ``threads=None`` uses :func:`default_threads`, which avoids oversubscription when each MPI rank of
a solver loads its own surrogate.

Out-of-range inputs (outside the training ranges in the metadata): ``policy`` ``clip`` clamps them to the
range, ``warn`` evaluates them as given and warns with a count, ``error`` raises :class:`OutOfRangeError`.
NaN inputs are always an error.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from surrogate.errors import UserError

from .metadata import INPUT_NAME, OUTPUT_NAME, POLICIES, PROVIDERS, read_model_file

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
LOCAL_RANKS_ENV = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE", "PALS_LOCAL_SIZE")
WORLD_RANKS_ENV = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS")


class InputError(UserError):
    """Inputs the model cannot take: wrong width or dtype, NaN values."""


class OutOfRangeError(InputError):
    """Inputs outside the trained range under policy 'error'."""


class OutOfRangeWarning(UserWarning):
    """Inputs outside the trained range were evaluated as given (policy 'warn')."""


class ProviderFallbackWarning(UserWarning):
    """CUDA was requested or available, but the session runs on the CPU."""


def _env_int(names: tuple[str, ...]) -> int | None:
    for name in names:
        value = os.environ.get(name, "").split("(")[0]  # SLURM writes e.g. "4(x2)"
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which MPI launchers and batch systems set)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """Intra-op threads that share the node fairly between MPI ranks.

    Ranks on this node known (Open MPI, MPICH, Slurm, PALS): the available CPUs divided among them.
    Only the world size known and > 1: one thread per rank. No MPI: all available CPUs.
    """
    cpus = available_cpus()
    local = _env_int(LOCAL_RANKS_ENV)
    if local is not None:
        return max(1, cpus // local)
    world = _env_int(WORLD_RANKS_ENV)
    if world is not None and world > 1:
        return 1
    return cpus


def gpu_visible() -> bool:
    """A CUDA GPU is visible: torch says so (if the caller already imported it) or the NVIDIA device exists."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return bool(torch.cuda.is_available())
    return os.path.exists("/dev/nvidiactl") and os.environ.get("CUDA_VISIBLE_DEVICES", "0") not in ("", "-1")


def _warn(message: str, category: type[Warning]) -> None:
    """Warn at the caller's line: the first frame outside this module."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _kind(array: Any) -> str:
    module = type(array).__module__.split(".")[0]
    if module == "torch":
        return "torch"
    if module == "cupy":
        return "cupy"
    return "numpy"


class Surrogate:
    """One loaded ONNX surrogate: ``surrogate(x)`` maps physical inputs to physical outputs."""

    def __init__(self, path: str | os.PathLike, *, provider: str = "auto", threads: int | None = None,
                 policy: str = "warn", device_id: int = 0):
        import onnxruntime as ort

        if provider not in PROVIDERS:
            raise UserError(f"provider {provider!r}: expected one of {', '.join(PROVIDERS)}")
        if policy not in POLICIES:
            raise UserError(f"out-of-range policy {policy!r}: expected one of {', '.join(POLICIES)}")
        self.path = Path(path)
        data, self.info = read_model_file(self.path)
        self.policy = policy
        self.threads = default_threads() if threads is None else int(threads)
        if self.threads < 1:
            raise UserError(f"threads={threads}: expected a positive number")
        available = ort.get_available_providers()
        want_cuda = provider == "cuda" or (provider == "auto" and CUDA_PROVIDER in available and gpu_visible())
        if provider == "cuda" and CUDA_PROVIDER not in available:
            raise UserError(f"provider 'cuda': this onnxruntime has no CUDA support (providers: "
                            f"{', '.join(available)}); install onnxruntime-gpu (`make gpu-setup`)")
        if provider == "auto" and CUDA_PROVIDER not in available and gpu_visible():
            _warn("a CUDA GPU is visible but this onnxruntime is CPU-only (is `onnxruntime` installed over "
                  "`onnxruntime-gpu`?); running on the CPU", ProviderFallbackWarning)
        requested = [(CUDA_PROVIDER, {"device_id": device_id}), CPU_PROVIDER] if want_cuda else [CPU_PROVIDER]
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(data, sess_options=options, providers=requested)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types for graphs it cannot load
            raise UserError(f"{self.path}: ONNX Runtime cannot load this model ({str(exc).splitlines()[0]})") from None
        self.providers: list[str] = list(self.session.get_providers())
        if want_cuda and CUDA_PROVIDER not in self.providers:
            _warn(f"{self.path}: CUDA was requested but the session runs on {self.providers[0]}: the CUDA or "
                  "cuDNN libraries onnxruntime-gpu needs did not load", ProviderFallbackWarning)
        ranges = self.info.input_ranges
        self.lower = np.array([ranges[n][0] for n in self.input_names], dtype=np.float32)
        self.upper = np.array([ranges[n][1] for n in self.input_names], dtype=np.float32)
        self.last_out_of_range = 0  # cells outside the ranges in the last call (counted under warn and error)

    @property
    def provider(self) -> str:
        """The execution provider the session runs on first ('CUDAExecutionProvider' or 'CPUExecutionProvider')."""
        return self.providers[0]

    @property
    def input_names(self) -> list[str]:
        return self.info.input_names

    @property
    def output_names(self) -> list[str]:
        return self.info.output_names

    def __repr__(self) -> str:
        return (f"Surrogate({str(self.path)!r}, inputs={self.input_names}, outputs={self.output_names}, "
                f"provider={self.provider}, threads={self.threads}, policy={self.policy!r})")

    def __call__(self, x: Any) -> Any:
        """Physical outputs (n, n_outputs) for physical inputs (n, n_inputs), in the caller's array type."""
        kind = _kind(x)
        if kind == "numpy":
            return self._run_numpy(x)
        return self._run_bound(x, kind)

    # --- checks -------------------------------------------------------------------------------------------
    def _check_shape(self, shape: tuple[int, ...]) -> None:
        n = len(self.input_names)
        if len(shape) != 2 or shape[1] != n:
            raise InputError(f"inputs of shape {tuple(shape)}: expected (n_cells, {n}) with columns "
                             f"{', '.join(self.input_names)}")

    def _range_verdict(self, lo: np.ndarray, hi: np.ndarray, count_outside: Any) -> bool:
        """Apply the policy to per-column minima/maxima; True when the inputs must be clipped."""
        if np.isnan(lo).any() or np.isnan(hi).any():
            bad = [n for n, a, b in zip(self.input_names, lo, hi) if np.isnan(a) or np.isnan(b)]
            raise InputError(f"NaN in input column {', '.join(bad)}; the surrogate is undefined there")
        outside = (lo < self.lower) | (hi > self.upper)
        self.last_out_of_range = 0
        if not outside.any():
            return False
        if self.policy == "clip":
            return True
        self.last_out_of_range = count_outside()
        columns = ", ".join(f"{name} in [{a:.4g}, {b:.4g}] (trained [{l:.4g}, {u:.4g}])"
                            for name, a, b, l, u, out in zip(self.input_names, lo, hi, self.lower, self.upper, outside)
                            if out)
        message = f"{self.last_out_of_range} cell(s) outside the trained range: {columns}"
        if self.policy == "error":
            raise OutOfRangeError(message + "; use policy 'clip' or 'warn' to evaluate them")
        _warn(message, OutOfRangeWarning)
        return False

    def count_out_of_range(self, x: np.ndarray) -> int:
        """Number of cells (rows) with at least one input outside the trained range."""
        x = np.asarray(x)
        return int(((x < self.lower) | (x > self.upper)).any(axis=1).sum())

    # --- NumPy --------------------------------------------------------------------------------------------
    def prepare(self, x: np.ndarray) -> np.ndarray:
        """Checked, C-contiguous float32 inputs after the out-of-range policy (a copy only when needed)."""
        x = np.asarray(x)
        self._check_shape(x.shape)
        if not np.issubdtype(x.dtype, np.number):
            raise InputError(f"inputs of dtype {x.dtype}: expected numbers")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if len(x) == 0:
            return x
        columns = np.ascontiguousarray(x.T)  # column-wise reductions are ~30x faster on contiguous rows
        lo, hi = columns.min(axis=1), columns.max(axis=1)  # NaN propagates into min/max: this finds both
        if self._range_verdict(lo, hi, lambda: self.count_out_of_range(x)):
            x = np.clip(x, self.lower, self.upper)
        return x

    def _run_numpy(self, x: np.ndarray) -> np.ndarray:
        x = self.prepare(x)
        if len(x) == 0:
            return np.empty((0, len(self.output_names)), dtype=np.float32)
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]

    # --- device arrays through IO binding ------------------------------------------------------------------
    def _run_bound(self, x: Any, kind: str) -> Any:
        """torch tensors / CuPy arrays bound by pointer: inputs read and outputs written in place, same device.

        The CUDA branches (torch on CUDA, CuPy) follow ONNX Runtime's IO-binding documentation but were not
        run on the development machine, which has no GPU.
        """
        self._check_shape(tuple(x.shape))
        if kind == "torch":
            import torch

            x = x.detach().to(torch.float32).contiguous()
            on_cuda = x.device.type == "cuda"
            device_id = (x.device.index or 0) if on_cuda else 0
            lower = torch.as_tensor(self.lower, device=x.device)
            upper = torch.as_tensor(self.upper, device=x.device)
            if len(x):  # only 2 × n_inputs numbers travel to the host for the range check
                lo, hi = x.amin(dim=0).cpu().numpy(), x.amax(dim=0).cpu().numpy()
                if self._range_verdict(lo, hi, lambda: int(((x < lower) | (x > upper)).any(dim=1).sum())):
                    x = torch.clamp(x, lower, upper)
            y = torch.empty((x.shape[0], len(self.output_names)), dtype=torch.float32, device=x.device)
            x_ptr, y_ptr = x.data_ptr(), y.data_ptr()
            if on_cuda:
                torch.cuda.current_stream(x.device).synchronize()  # the producer must have finished writing x
        else:
            import cupy

            x = cupy.ascontiguousarray(x, dtype=cupy.float32)
            on_cuda, device_id = True, x.device.id
            lower, upper = cupy.asarray(self.lower), cupy.asarray(self.upper)
            if len(x):
                lo, hi = cupy.asnumpy(x.min(axis=0)), cupy.asnumpy(x.max(axis=0))
                if self._range_verdict(lo, hi, lambda: int(((x < lower) | (x > upper)).any(axis=1).sum())):
                    x = cupy.clip(x, lower, upper)
            y = cupy.empty((x.shape[0], len(self.output_names)), dtype=cupy.float32)
            x_ptr, y_ptr = x.data.ptr, y.data.ptr
            cupy.cuda.get_current_stream().synchronize()
        if len(x) == 0:
            return y
        if on_cuda and CUDA_PROVIDER not in self.providers:
            raise InputError(f"inputs on CUDA device {device_id} but the session runs on {self.provider}; "
                             "load the surrogate with provider 'cuda' or 'auto' (needs onnxruntime-gpu)")
        device_type = "cuda" if on_cuda else "cpu"
        binding = self.session.io_binding()
        binding.bind_input(INPUT_NAME, device_type, device_id, np.float32, tuple(x.shape), x_ptr)
        binding.bind_output(OUTPUT_NAME, device_type, device_id, np.float32, tuple(y.shape), y_ptr)
        self.session.run_with_iobinding(binding)  # returns after the device work has finished
        return y
